// Azure SQL Database with Microsoft Entra-only authentication (no SQL logins, no password anywhere).
// The administrator is the deploying user or a group; the Functions identity becomes a database user in
// infra/scripts/postprovision.sh, which also applies infra/sql/schema.sql.
param location string
param tags object
param serverName string
param databaseName string = 'ledger'
@description('Object id of the Entra administrator (the deploying user or a group).')
param administratorObjectId string
@description('Display name (login) of the Entra administrator.')
param administratorLogin string
@allowed(['User', 'Group', 'Application'])
param administratorType string = 'User'
@description('Database SKU; GP_S_Gen5_1 is serverless and pauses when idle.')
param skuName string = 'GP_S_Gen5_1'
param privateEndpointSubnetId string
param privateDnsZoneId string

resource server 'Microsoft.Sql/servers@2021-11-01' = {
  name: serverName
  location: location
  tags: tags
  properties: {
    minimalTlsVersion: '1.2'
    publicNetworkAccess: 'Disabled'
    administrators: {
      administratorType: 'ActiveDirectory'
      azureADOnlyAuthentication: true
      login: administratorLogin
      sid: administratorObjectId
      tenantId: tenant().tenantId
      principalType: administratorType
    }
  }
}

resource database 'Microsoft.Sql/servers/databases@2021-11-01' = {
  parent: server
  name: databaseName
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    autoPauseDelay: startsWith(skuName, 'GP_S_') ? 60 : -1
    minCapacity: startsWith(skuName, 'GP_S_') ? json('0.5') : null
  }
}

module privateEndpoint 'private-endpoint.bicep' = {
  name: 'pe-${serverName}'
  params: {
    location: location
    tags: tags
    name: 'pe-${serverName}'
    subnetId: privateEndpointSubnetId
    targetResourceId: server.id
    groupId: 'sqlServer'
    privateDnsZoneId: privateDnsZoneId
  }
}

output serverName string = server.name
output serverFqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
