// The virtual network, its subnets and the private DNS zones of every private endpoint.
// Application Gateway is the only public entry; APIM sits in the "apim" subnet in internal mode; the
// Functions app reaches private endpoints through VNet integration (Flex Consumption delegates its subnet
// to Microsoft.App/environments).
param location string
param tags object
param vnetName string
param addressPrefix string = '10.40.0.0/16'
// Written out rather than computed with cidrSubnet(): checkov's Bicep parser does not know that function
// and would skip this file's network checks.
@description('One /24 (or larger) inside addressPrefix per subnet.')
param subnets object = {
  appGateway: '10.40.0.0/24'
  apim: '10.40.1.0/24'
  functions: '10.40.2.0/24'
  privateEndpoints: '10.40.3.0/24'
}

// The private DNS zones of the public Azure cloud (one per service behind a private endpoint).
// Order matters: the outputs below index this array.
var privateDnsZoneNames = [
  'privatelink.openai.azure.com'
  'privatelink.servicebus.windows.net'
  'privatelink${environment().suffixes.sqlServerHostname}'
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.vaultcore.azure.net'
]

// Rules API Management needs in a VNet (internal mode, stv2): management endpoint from the
// ApiManagement service tag, the Azure load balancer probe, and HTTPS from Application Gateway.
resource apimNsg 'Microsoft.Network/networkSecurityGroups@2024-01-01' = {
  name: 'nsg-apim-${vnetName}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'AllowApimManagement'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'ApiManagement'
          sourcePortRange: '*'
          destinationAddressPrefix: 'VirtualNetwork'
          destinationPortRange: '3443'
        }
      }
      {
        name: 'AllowAzureLoadBalancer'
        properties: {
          priority: 110
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'AzureLoadBalancer'
          sourcePortRange: '*'
          destinationAddressPrefix: 'VirtualNetwork'
          destinationPortRange: '6390'
        }
      }
      {
        name: 'AllowHttpsFromAppGateway'
        properties: {
          priority: 120
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: subnets.appGateway
          sourcePortRange: '*'
          destinationAddressPrefix: 'VirtualNetwork'
          destinationPortRange: '443'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [addressPrefix]
    }
    subnets: [
      {
        name: 'snet-appgateway'
        properties: {
          addressPrefix: subnets.appGateway
          // Lets the Functions access restriction name this subnet as the only allowed source.
          serviceEndpoints: [
            { service: 'Microsoft.Web' }
          ]
        }
      }
      {
        name: 'snet-apim'
        properties: {
          addressPrefix: subnets.apim
          networkSecurityGroup: { id: apimNsg.id }
        }
      }
      {
        name: 'snet-functions'
        properties: {
          addressPrefix: subnets.functions
          delegations: [
            {
              name: 'flex-consumption'
              properties: { serviceName: 'Microsoft.App/environments' }
            }
          ]
        }
      }
      {
        name: 'snet-private-endpoints'
        properties: {
          addressPrefix: subnets.privateEndpoints
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for zoneName in privateDnsZoneNames: {
  name: zoneName
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (zoneName, i) in privateDnsZoneNames: {
  parent: zones[i]
  name: 'link-${vnetName}'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnet.id }
  }
}]

output vnetId string = vnet.id
output appGatewaySubnetId string = vnet.properties.subnets[0].id
output apimSubnetId string = vnet.properties.subnets[1].id
output functionsSubnetId string = vnet.properties.subnets[2].id
output privateEndpointSubnetId string = vnet.properties.subnets[3].id
output openaiDnsZoneId string = zones[0].id
output eventHubsDnsZoneId string = zones[1].id
output sqlDnsZoneId string = zones[2].id
output blobDnsZoneId string = zones[3].id
output keyVaultDnsZoneId string = zones[4].id
