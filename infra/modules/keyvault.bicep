// Key Vault in RBAC mode: holds optional secrets (an SMTP password, the Application Gateway TLS
// certificate). Apps read them through Key Vault references with their managed identity.
param location string
param tags object
param vaultName string
param privateEndpointSubnetId string
param privateDnsZoneId string

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
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
    }
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
