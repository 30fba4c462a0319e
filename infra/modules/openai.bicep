// Two or more Azure OpenAI accounts (one per region or per PTU/PAYG pool), each with its model
// deployments. Keys are disabled: APIM calls them with its managed identity.
param tags object
param resourceToken string
@description('Accounts: [{ name, location, priority, weight, deployments: [{ name, model, version, sku, capacity }] }].')
param accounts array
param privateEndpointSubnetId string
param privateDnsZoneId string
param privateEndpointLocation string

module account 'openai-account.bicep' = [for config in accounts: {
  name: 'openai-${config.name}'
  params: {
    name: 'oai-${config.name}-${resourceToken}'
    location: config.location
    tags: tags
    deployments: config.deployments
    privateEndpointSubnetId: privateEndpointSubnetId
    privateDnsZoneId: privateDnsZoneId
    privateEndpointLocation: privateEndpointLocation
  }
}]

@description('What APIM needs per account: backend name, endpoint, priority and weight in the pool.')
output backends array = [for (config, i) in accounts: {
  name: config.name
  endpoint: account[i].outputs.endpoint
  accountName: account[i].outputs.name
  priority: config.?priority ?? 1
  weight: config.?weight ?? 1
}]
