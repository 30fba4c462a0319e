// Key Vault in RBAC mode: holds optional secrets (an SMTP password, the Application Gateway TLS
// certificate). Apps read them through Key Vault references with their managed identity; the deployer
// puts the gateway certificate in with infra/scripts/gateway-certificate.sh.
//
// Purge protection is a choice, not a default. With it on, a deleted vault cannot be purged for
// softDeleteRetentionInDays, and its name (fixed per azd environment by uniqueString) stays taken, so the
// next `azd up` of that environment fails until the retention ends; `azd down --purge` cannot purge it
// either ("Enabling this functionality is irreversible", https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults).
// Off (the default), `azd down --purge` removes the vault and the environment can be deployed again.
// Turn it on (LEDGER_KEYVAULT_PURGE_PROTECTION=true) for an environment that is never torn down.
param location string
param tags object
param vaultName string
param privateEndpointSubnetId string
param privateDnsZoneId string
param logAnalyticsWorkspaceId string
@description('true: deleted secrets and the vault itself cannot be purged before the retention ends (irreversible).')
param purgeProtection bool = false
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // The property accepts only true; leaving it out keeps purge protection off.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Disabled'
    // Application Gateway reads its certificate as a trusted service through its user-assigned identity
    // (https://learn.microsoft.com/azure/application-gateway/key-vault-certs#verify-firewall-permissions-to-key-vault).
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
    }
  }
}

// Every data-plane access (AuditEvent) and the vault's metrics, to Log Analytics.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: vault
  name: 'ledger'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { categoryGroup: 'audit', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

module privateEndpoint 'private-endpoint.bicep' = {
  name: 'pe-${vaultName}'
  params: {
    location: location
    tags: tags
    name: 'pe-${vaultName}'
    subnetId: privateEndpointSubnetId
    targetResourceId: vault.id
    groupId: 'vault'
    privateDnsZoneId: privateDnsZoneId
  }
}

output vaultName string = vault.name
output vaultId string = vault.id
output vaultUri string = vault.properties.vaultUri
