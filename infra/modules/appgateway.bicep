// Application Gateway WAF_v2: the single public entry. /api/* goes to the Functions app (usage API),
// everything else (/openai/...) to the APIM gateway's private IP. WAF policy: OWASP managed rules in
// prevention mode. HTTPS when a Key Vault certificate is given (infra/scripts/gateway-certificate.sh), HTTP
// otherwise (for a first test only). TLS 1.2+ with the strict predefined policy; access, performance and
// WAF (firewall) logs go to Log Analytics.
param location string
param tags object
param name string
param wafPolicyName string
param subnetId string
param identityId string
param apimPrivateIp string
param apimHostName string
param functionsHostName string
@description('Key Vault secret id (versionless) of the listener TLS certificate; empty: an HTTP listener.')
param sslCertificateSecretId string = ''
@allowed(['Prevention', 'Detection'])
param wafMode string = 'Prevention'
param capacity int = 1
param logAnalyticsWorkspaceId string

var useHttps = !empty(sslCertificateSecretId)
var gatewayId = resourceId('Microsoft.Network/applicationGateways', name)

resource publicIp 'Microsoft.Network/publicIPAddresses@2024-01-01' = {
  name: 'pip-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    dnsSettings: {
      domainNameLabel: name
    }
  }
}

resource wafPolicy 'Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies@2024-01-01' = {
  name: wafPolicyName
  location: location
  tags: tags
  properties: {
    policySettings: {
      state: 'Enabled'
      mode: wafMode
      requestBodyCheck: true
      // Prompts are large JSON bodies: inspect up to the CRS 3.2 maximum instead of refusing them.
      maxRequestBodySizeInKb: 2000
      fileUploadLimitInMb: 100
    }
    managedRules: {
      managedRuleSets: [
        {
          ruleSetType: 'OWASP'
          ruleSetVersion: '3.2'
        }
      ]
    }
  }
}

resource gateway 'Microsoft.Network/applicationGateways@2024-01-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    sku: {
      name: 'WAF_v2'
      tier: 'WAF_v2'
      capacity: capacity
    }
    firewallPolicy: { id: wafPolicy.id }
    // TLS 1.2 and 1.3 with strong ciphers only
    // (https://learn.microsoft.com/azure/application-gateway/application-gateway-ssl-policy-overview).
    sslPolicy: {
      policyType: 'Predefined'
      policyName: 'AppGwSslPolicy20220101S'
    }
    gatewayIPConfigurations: [
      {
        name: 'gateway-ip'
        properties: { subnet: { id: subnetId } }
      }
    ]
    frontendIPConfigurations: [
      {
        name: 'public'
        properties: { publicIPAddress: { id: publicIp.id } }
      }
    ]
    frontendPorts: [
      {
        name: 'port-${useHttps ? '443' : '80'}'
        properties: { port: useHttps ? 443 : 80 }
      }
    ]
    sslCertificates: useHttps ? [
      {
        name: 'listener-certificate'
        properties: { keyVaultSecretId: sslCertificateSecretId }
      }
    ] : []
    backendAddressPools: [
      {
        name: 'apim'
        properties: { backendAddresses: [{ ipAddress: apimPrivateIp }] }
      }
      {
        name: 'functions'
        properties: { backendAddresses: [{ fqdn: functionsHostName }] }
      }
    ]
    probes: [
      {
        name: 'apim-status'
        properties: {
          protocol: 'Https'
          host: apimHostName
          path: '/status-0123456789abcdef'
          interval: 30
          timeout: 30
          unhealthyThreshold: 3
          match: { statusCodes: ['200-399'] }
        }
      }
      {
        name: 'functions-health'
        properties: {
          protocol: 'Https'
          pickHostNameFromBackendHttpSettings: true
          path: '/api/health'
          interval: 30
          timeout: 30
          unhealthyThreshold: 3
          match: { statusCodes: ['200-399'] }
        }
      }
    ]
    backendHttpSettingsCollection: [
      {
        name: 'apim-https'
        properties: {
          port: 443
          protocol: 'Https'
          hostName: apimHostName // the certificate of *.azure-api.net matches this name
          pickHostNameFromBackendAddress: false
          requestTimeout: 240 // long completions
          probe: { id: '${gatewayId}/probes/apim-status' }
        }
      }
      {
        name: 'functions-https'
        properties: {
          port: 443
          protocol: 'Https'
          pickHostNameFromBackendAddress: true
          requestTimeout: 60
          probe: { id: '${gatewayId}/probes/functions-health' }
        }
      }
    ]
    httpListeners: [
      {
        name: 'public'
        properties: {
          frontendIPConfiguration: { id: '${gatewayId}/frontendIPConfigurations/public' }
          frontendPort: { id: '${gatewayId}/frontendPorts/port-${useHttps ? '443' : '80'}' }
          protocol: useHttps ? 'Https' : 'Http'
          sslCertificate: useHttps ? { id: '${gatewayId}/sslCertificates/listener-certificate' } : null
        }
      }
    ]
    urlPathMaps: [
      {
        name: 'routes'
        properties: {
          defaultBackendAddressPool: { id: '${gatewayId}/backendAddressPools/apim' }
          defaultBackendHttpSettings: { id: '${gatewayId}/backendHttpSettingsCollection/apim-https' }
          pathRules: [
            {
              name: 'usage-api'
              properties: {
                paths: ['/api/*']
                backendAddressPool: { id: '${gatewayId}/backendAddressPools/functions' }
                backendHttpSettings: { id: '${gatewayId}/backendHttpSettingsCollection/functions-https' }
              }
            }
          ]
        }
      }
    ]
    requestRoutingRules: [
      {
        name: 'public'
        properties: {
          ruleType: 'PathBasedRouting'
          priority: 100
          httpListener: { id: '${gatewayId}/httpListeners/public' }
          urlPathMap: { id: '${gatewayId}/urlPathMaps/routes' }
        }
      }
    ]
  }
}

resource gatewayDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: gateway
  name: 'ledger'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      { categoryGroup: 'allLogs', enabled: true } // access, performance and WAF firewall logs
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

output publicFqdn string = publicIp.properties.dnsSettings.fqdn
