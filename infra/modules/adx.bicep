// Optional Azure Data Explorer cluster and database for the Kusto store (deployAdx=true in main).
// The Functions identity is granted Ingestor on the database in rbac.bicep.
param location string
param tags object
param clusterName string
param databaseName string = 'ledger'
param skuName string = 'Dev(No SLA)_Standard_E2a_v4'
param skuTier string = 'Basic'
@description('LEDGER_TEXT_RETENTION_DAYS: the Calls table (the only one holding prompt/completion text) keeps this many days; 0: the database\'s 365.')
@minValue(0)
param textRetentionDays int = 90

resource cluster 'Microsoft.Kusto/clusters@2023-08-15' = {
  name: clusterName
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
    capacity: 1
  }
  properties: {
    enableStreamingIngest: true
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.Kusto/clusters/databases@2023-08-15' = {
  parent: cluster
  name: databaseName
  location: location
  kind: 'ReadWrite'
  properties: {
    softDeletePeriod: 'P365D'
    hotCachePeriod: 'P31D'
  }
}

// The ledger's tables, JSON mapping, deduplicating and hourly materialized views (infra/kusto/schema.kql).
// Every command in it is idempotent; changing the file or the days changes the hash and so re-runs the script.
// schema.kql sets the text retention to the default 90 days; the days deployed replace them here, and 0
// (keep text forever) drops the table's own policy so Calls inherits the database's.
var schemaKql = loadTextContent('../kusto/schema.kql')
var textRetentionCommand = '.alter-merge table Calls policy retention softdelete = 90d recoverability = disabled'
var textRetentionDeployed = '.alter-merge table Calls policy retention softdelete = ${textRetentionDays}d recoverability = disabled'
var schemaScript = replace(schemaKql, textRetentionCommand, textRetentionDays > 0 ? textRetentionDeployed : '.delete table Calls policy retention')

resource schema 'Microsoft.Kusto/clusters/databases/scripts@2023-08-15' = {
  parent: database
  name: 'ledger-schema'
  properties: {
    scriptContent: schemaScript
    forceUpdateTag: uniqueString(schemaScript)
    continueOnErrors: false
  }
}

output clusterName string = cluster.name
output databaseName string = database.name
output ingestUri string = cluster.properties.dataIngestionUri
