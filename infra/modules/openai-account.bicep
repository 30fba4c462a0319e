// One Azure OpenAI account with a custom subdomain (required for Entra ID auth and private endpoints),
// local (key) auth disabled, public access off, and its deployments.
param name string
param location string
param tags object
param deployments array
param privateEndpointSubnetId string
param privateDnsZoneId string
param privateEndpointLocation string

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
    }
  }
}

@batchSize(1) // deployments of one account cannot be created in parallel
resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = [for model in deployments: {
  parent: account
  name: model.name
  sku: {
    name: model.?sku ?? 'Standard'
    capacity: model.?capacity ?? 10
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: model.model
      version: model.version
    }
  }
}]

// The endpoint lives in the VNet's region even when the account is in another one.
module privateEndpoint 'private-endpoint.bicep' = {
  name: 'pe-${name}'
  params: {
    location: privateEndpointLocation
    tags: tags
    name: 'pe-${name}'
    subnetId: privateEndpointSubnetId
    targetResourceId: account.id
    groupId: 'account'
    privateDnsZoneId: privateDnsZoneId
  }
}

output name string = account.name
output endpoint string = account.properties.endpoint
