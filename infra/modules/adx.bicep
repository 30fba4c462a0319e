// Optional Azure Data Explorer cluster and database for the Kusto store (deployAdx=true in main).
// The Functions identity is granted Ingestor on the database in rbac.bicep.
param location string
param tags object
param clusterName string
param databaseName string = 'ledger'
param skuName string = 'Dev(No SLA)_Standard_E2a_v4'
param skuTier string = 'Basic'

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

// The ledger's table, JSON mapping, deduplicating and hourly materialized views (infra/kusto/schema.kql).
// Every command in it is idempotent; changing the file changes the hash and so re-runs the script.
resource schema 'Microsoft.Kusto/clusters/databases/scripts@2023-08-15' = {
  parent: database
  name: 'ledger-schema'
  properties: {
    scriptContent: loadTextContent('../kusto/schema.kql')
    forceUpdateTag: uniqueString(loadTextContent('../kusto/schema.kql'))
    continueOnErrors: false
  }
}

output clusterName string = cluster.name
output databaseName string = database.name
output ingestUri string = cluster.properties.dataIngestionUri
