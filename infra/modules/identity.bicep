// User-assigned identities: one for the Functions app (every Azure call of the ledger), one for API
// Management (Azure OpenAI, Event Hubs logger, claim-check blobs), one for Application Gateway (its TLS
// certificate in Key Vault). Their roles are all granted in rbac.bicep.
param location string
param tags object
param functionsIdentityName string
param apimIdentityName string
param gatewayIdentityName string

module functionsIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'functionsIdentity'
  params: {
    name: functionsIdentityName
    location: location
    tags: tags
  }
}

module apimIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'apimIdentity'
  params: {
    name: apimIdentityName
    location: location
    tags: tags
  }
}

module gatewayIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'gatewayIdentity'
  params: {
    name: gatewayIdentityName
    location: location
    tags: tags
  }
}

output functionsIdentityId string = functionsIdentity.outputs.resourceId
output functionsIdentityName string = functionsIdentity.outputs.name
output functionsPrincipalId string = functionsIdentity.outputs.principalId
output functionsClientId string = functionsIdentity.outputs.clientId
output apimIdentityId string = apimIdentity.outputs.resourceId
output apimPrincipalId string = apimIdentity.outputs.principalId
output apimClientId string = apimIdentity.outputs.clientId
output gatewayIdentityId string = gatewayIdentity.outputs.resourceId
output gatewayPrincipalId string = gatewayIdentity.outputs.principalId
