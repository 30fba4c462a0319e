// API Management in internal VNet mode in front of the Azure OpenAI accounts: the Azure OpenAI API
// (imported from the 2024-10-21 inference spec), one backend per account with a circuit breaker, a
// weighted/prioritised pool, the ledger's policies and fragments (infra/apim/policies), an Event Hubs
// logger with managed identity, LLM message logging, an Application Insights logger for the token
// metrics of `llm-emit-token-metric`, and diagnostic settings to Log Analytics and to the export hub.
// The gateway's identity is user-assigned so its roles exist before the service uses them.
param location string
param tags object
param name string
@allowed(['Developer', 'Premium'])
@description('Developer (no SLA, cheapest VNet-injected tier) or Premium (production).')
param skuName string = 'Developer'
param skuCapacity int = 1
param publisherEmail string
param publisherName string = 'aoai-ledger'
param subnetId string
param identityId string
param identityClientId string
@description('From openai.bicep: [{ name, endpoint, priority, weight }].')
param openaiBackends array
param eventHubsNamespaceId string
param eventHubsFullyQualifiedNamespace string
param captureHubName string
param diagnosticsHubName string
param diagnosticsSendRuleId string
param logAnalyticsWorkspaceId string
@description('Application Insights receiving the token metrics (its local auth is off: the gateway identity publishes).')
param applicationInsightsName string
@description('Share of calls whose request telemetry goes to Application Insights (the ledger, not this, is the record).')
@minValue(0)
@maxValue(100)
param applicationInsightsSamplingPercentage int = 100
param bodyStorageAccountName string
param entraTenantId string = tenant().tenantId
@description('Audience that Entra ID callers\' tokens must carry (default: the Azure OpenAI audience, so clients keep their token).')
param entraAudience string = 'https://cognitiveservices.azure.com'
param tokensPerMinute int = 100000
param tokenQuota int = 50000000
@allowed(['Hourly', 'Daily', 'Weekly', 'Monthly', 'Yearly'])
param tokenQuotaPeriod string = 'Monthly'
@description('true buffers streamed responses so their SSE text is captured; clients then see the stream only at its end.')
param captureStreamBodies bool = false
param inferenceSpecUrl string = 'https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/specification/cognitiveservices/data-plane/AzureOpenAI/inference/stable/2024-10-21/inference.json'

var poolName = 'aoai-pool'

// stv2 VNet injection needs a Standard public IP for the management plane even in internal mode.
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

resource apim 'Microsoft.ApiManagement/service@2024-06-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    capacity: skuCapacity
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    publisherEmail: publisherEmail
    publisherName: publisherName
    virtualNetworkType: 'Internal'
    virtualNetworkConfiguration: {
      subnetResourceId: subnetId
    }
    publicIpAddressId: publicIp.id
  }
}

var namedValues = {
  'entra-tenant-id': entraTenantId
  'entra-audience': entraAudience
  'apim-identity-client-id': identityClientId
  'ledger-tokens-per-minute': string(tokensPerMinute)
  'ledger-token-quota': string(tokenQuota)
  'ledger-token-quota-period': tokenQuotaPeriod
  'capture-stream-bodies': captureStreamBodies ? 'true' : 'false'
  'ledger-body-storage-account': bodyStorageAccountName
}

resource namedValue 'Microsoft.ApiManagement/service/namedValues@2024-06-01-preview' = [for item in items(namedValues): {
  parent: apim
  name: item.key
  properties: {
    displayName: item.key
    value: item.value
    secret: false
  }
}]

resource captureLogger 'Microsoft.ApiManagement/service/loggers@2024-06-01-preview' = {
  parent: apim
  name: 'ledger-capture'
  properties: {
    loggerType: 'azureEventHub'
    description: 'aoai-ledger capture/v1 events'
    resourceId: eventHubsNamespaceId
    credentials: {
      endpointAddress: eventHubsFullyQualifiedNamespace
      identityClientId: identityClientId
      name: captureHubName
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// llm-emit-token-metric sends its metrics to Application Insights only, through an API diagnostic of an
// Application Insights logger with `metrics: true`
// (https://learn.microsoft.com/azure/api-management/llm-emit-token-metric-policy, "Prerequisites").
// Application Insights has local auth off, so the logger authenticates with the gateway identity, which
// holds Monitoring Metrics Publisher on it (rbac.bicep); the connection string only addresses the resource
// (https://learn.microsoft.com/azure/api-management/api-management-howto-app-insights).
resource appInsightsLogger 'Microsoft.ApiManagement/service/loggers@2024-06-01-preview' = {
  parent: apim
  name: 'appinsights'
  properties: {
    loggerType: 'applicationInsights'
    description: 'Token metrics (llm-emit-token-metric) and request telemetry'
    resourceId: appInsights.id
    isBuffered: true
    credentials: {
      connectionString: appInsights.properties.ConnectionString
      identityClientId: identityClientId
    }
  }
}

resource azureMonitorLogger 'Microsoft.ApiManagement/service/loggers@2024-06-01-preview' = {
  parent: apim
  name: 'azuremonitor'
  properties: {
    loggerType: 'azureMonitor'
    isBuffered: false
  }
}

resource captureInboundFragment 'Microsoft.ApiManagement/service/policyFragments@2024-06-01-preview' = {
  parent: apim
  name: 'ledger-capture-inbound-v1'
  properties: {
    description: 'aoai-ledger capture/v1, inbound half'
    format: 'xml'
    value: loadTextContent('../apim/policies/fragment-capture-inbound-v1.xml')
  }
  dependsOn: [namedValue]
}

resource captureFragment 'Microsoft.ApiManagement/service/policyFragments@2024-06-01-preview' = {
  parent: apim
  name: 'ledger-capture-v1'
  properties: {
    description: 'aoai-ledger capture/v1, outbound and on-error half'
    format: 'xml'
    value: loadTextContent('../apim/policies/fragment-capture-v1.xml')
  }
  dependsOn: [namedValue, captureLogger]
}

// One backend per Azure OpenAI account; the breaker trips on 429 and 5xx and honours Retry-After.
// Named after the account (its custom subdomain): a policy expression cannot see which pool member was
// chosen, so the capture fragment records the first label of the forwarded URL's host as backend.id,
// and naming the backend the same makes that value the APIM backend id too (capture/v1 contract).
resource backend 'Microsoft.ApiManagement/service/backends@2024-06-01-preview' = [for config in openaiBackends: {
  parent: apim
  name: config.accountName
  properties: {
    description: 'Azure OpenAI ${config.accountName}'
    url: '${config.endpoint}openai'
    protocol: 'http'
    circuitBreaker: {
      rules: [
        {
          name: 'throttled-or-failing'
          failureCondition: {
            count: 3
            interval: 'PT1M'
            statusCodeRanges: [
              { min: 429, max: 429 }
              { min: 500, max: 599 }
            ]
            errorReasons: ['Server errors']
          }
          tripDuration: 'PT1M'
          acceptRetryAfter: true
        }
      ]
    }
  }
}]

// The pool: lower priority numbers are used first (e.g. PTU), weights split traffic within a priority.
// url and protocol are not used by Pool backends (BCP035 is a false positive).
#disable-next-line BCP035
resource pool 'Microsoft.ApiManagement/service/backends@2024-06-01-preview' = {
  parent: apim
  name: poolName
  properties: {
    description: 'Azure OpenAI accounts, by priority and weight'
    type: 'Pool'
    pool: {
      services: [for (config, i) in openaiBackends: {
        id: '/backends/${backend[i].name}'
        priority: config.priority
        weight: config.weight
      }]
    }
  }
}

resource api 'Microsoft.ApiManagement/service/apis@2024-06-01-preview' = {
  parent: apim
  name: 'azure-openai'
  properties: {
    displayName: 'Azure OpenAI'
    description: 'Azure OpenAI inference API (2024-10-21), metered by aoai-ledger'
    path: 'openai'
    protocols: ['https']
    format: 'openapi+json-link'
    value: inferenceSpecUrl
    // Entra ID callers need no key; the policy refuses calls with neither a token nor a key.
    subscriptionRequired: false
    subscriptionKeyParameterNames: {
      header: 'api-key'
      query: 'api-key'
    }
  }
}

resource apiPolicy 'Microsoft.ApiManagement/service/apis/policies@2024-06-01-preview' = {
  parent: api
  name: 'policy'
  properties: {
    format: 'xml'
    value: loadTextContent('../apim/policies/api-azure-openai.xml')
  }
  dependsOn: [captureInboundFragment, captureFragment, pool, namedValue]
}

resource product 'Microsoft.ApiManagement/service/products@2024-06-01-preview' = {
  parent: apim
  name: 'aoai'
  properties: {
    displayName: 'Azure OpenAI'
    description: 'Subscription keys for applications calling Azure OpenAI through the gateway'
    subscriptionRequired: true
    approvalRequired: true
    state: 'published'
  }
}

resource productApi 'Microsoft.ApiManagement/service/products/apis@2024-06-01-preview' = {
  parent: product
  name: api.name
}

// LLM message logging: prompts and completions (also of streams) reach ApiManagementGatewayLlmLog.
resource apiDiagnostic 'Microsoft.ApiManagement/service/apis/diagnostics@2024-06-01-preview' = {
  parent: api
  name: 'azuremonitor'
  properties: {
    loggerId: azureMonitorLogger.id
    alwaysLog: 'allErrors'
    verbosity: 'information'
    logClientIp: true
    sampling: {
      samplingType: 'fixed'
      percentage: 100
    }
    frontend: {
      request: { headers: [], body: { bytes: 0 } }
      response: { headers: [], body: { bytes: 0 } }
    }
    backend: {
      request: { headers: [], body: { bytes: 0 } }
      response: { headers: [], body: { bytes: 0 } }
    }
    largeLanguageModel: {
      logs: 'enabled'
      requests: {
        messages: 'all'
        maxSizeInBytes: 262144
      }
      responses: {
        messages: 'all'
        maxSizeInBytes: 262144
      }
    }
  }
}

// The Application Insights diagnostic of the API: `metrics: true` lets llm-emit-token-metric (and
// emit-metric) publish; request telemetry is sampled, bodies are never sent.
resource apiAppInsightsDiagnostic 'Microsoft.ApiManagement/service/apis/diagnostics@2024-06-01-preview' = {
  parent: api
  name: 'applicationinsights'
  properties: {
    loggerId: appInsightsLogger.id
    alwaysLog: 'allErrors'
    verbosity: 'error'
    metrics: true
    httpCorrelationProtocol: 'W3C'
    sampling: {
      samplingType: 'fixed'
      percentage: applicationInsightsSamplingPercentage
    }
    frontend: {
      request: { headers: [], body: { bytes: 0 } }
      response: { headers: [], body: { bytes: 0 } }
    }
    backend: {
      request: { headers: [], body: { bytes: 0 } }
      response: { headers: [], body: { bytes: 0 } }
    }
  }
}

// GatewayLogs and GatewayLlmLogs to Log Analytics (resource-specific tables) and to the export hub.
resource diagnosticSettings 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: apim
  name: 'ledger'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    eventHubAuthorizationRuleId: diagnosticsSendRuleId
    eventHubName: diagnosticsHubName
    logs: [
      { category: 'GatewayLogs', enabled: true }
      { category: 'GatewayLlmLogs', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

output name string = apim.name
output gatewayHostName string = '${apim.name}.azure-api.net'
output privateIpAddress string = apim.properties.privateIPAddresses[0]
