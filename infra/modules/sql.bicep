// Azure SQL Database with Microsoft Entra-only authentication (no SQL logins, no password anywhere).
// The administrator is the deploying user or a group; the Functions identity becomes a database user in
// infra/scripts/postprovision.sh, which also applies infra/sql/schema.sql. Server auditing goes to Log
// Analytics, as do the database's own logs and metrics.
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
param logAnalyticsWorkspaceId string

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

// Auditing to Log Analytics: audit records of every database reach the workspace through a diagnostic
// setting (category SQLSecurityAuditEvents) on the master database, and the server policy turns the Azure
// Monitor target on (https://learn.microsoft.com/azure/azure-sql/database/auditing-setup).
resource masterDatabase 'Microsoft.Sql/servers/databases@2021-11-01' existing = {
  parent: server
  name: 'master'
}

resource auditDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: masterDatabase
  name: 'sql-auditing'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { category: 'SQLSecurityAuditEvents', enabled: true }
    ]
  }
}

resource auditing 'Microsoft.Sql/servers/auditingSettings@2021-11-01' = {
  parent: server
  name: 'default'
  properties: {
    state: 'Enabled'
    isAzureMonitorTargetEnabled: true
    // Who signed in (or failed to) and every change of schema, principals, roles and permissions.
    // BATCH_COMPLETED_GROUP (part of the default set) is left out on purpose: it would log every ingest
    // batch with its values, i.e. the ledger a second time, in Log Analytics.
    auditActionsAndGroups: [
      'SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP'
      'FAILED_DATABASE_AUTHENTICATION_GROUP'
      'DATABASE_PRINCIPAL_CHANGE_GROUP'
      'DATABASE_ROLE_MEMBER_CHANGE_GROUP'
      'DATABASE_PERMISSION_CHANGE_GROUP'
      'DATABASE_OBJECT_PERMISSION_CHANGE_GROUP'
      'SCHEMA_OBJECT_CHANGE_GROUP'
      'SCHEMA_OBJECT_PERMISSION_CHANGE_GROUP'
    ]
  }
  dependsOn: [auditDiagnostics]
}

// The ledger database's own logs (errors, timeouts, deadlocks, ...) and basic metrics.
resource databaseDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: database
  name: 'ledger'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { categoryGroup: 'allLogs', enabled: true }
    ]
    metrics: [
      { category: 'Basic', enabled: true }
    ]
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
