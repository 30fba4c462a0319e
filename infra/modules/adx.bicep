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

output clusterName string = cluster.name
output databaseName string = database.name
output ingestUri string = cluster.properties.dataIngestionUri
