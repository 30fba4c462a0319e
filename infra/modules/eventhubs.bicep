// Event Hubs Standard: "aoai-capture" receives the APIM capture/v1 events, "apim-diagnostics" receives
// APIM's diagnostic settings (GatewayLogs, GatewayLlmLogs). The ledger reads both with consumer group
// "ledger". Entra ID only (no SAS for clients); reachable through a private endpoint.
param location string
param tags object
param namespaceName string
param captureHubName string = 'aoai-capture'
param diagnosticsHubName string = 'apim-diagnostics'
param consumerGroupName string = 'ledger'
param partitionCount int = 4
param throughputUnits int = 1
param privateEndpointSubnetId string
param privateDnsZoneId string

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: throughputUnits
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Disabled'
    isAutoInflateEnabled: true
    maximumThroughputUnits: 10
  }
}

// Trusted Microsoft services (Azure Monitor diagnostic settings) may still write with public access off.
resource networkRules 'Microsoft.EventHub/namespaces/networkRuleSets@2024-01-01' = {
  parent: namespace
  name: 'default'
  properties: {
    defaultAction: 'Deny'
    publicNetworkAccess: 'Disabled'
    trustedServiceAccessEnabled: true
    ipRules: []
    virtualNetworkRules: []
  }
}

resource captureHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: captureHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: 7
  }
}

resource diagnosticsHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: diagnosticsHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: 7
  }
}

resource captureConsumers 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: captureHub
  name: consumerGroupName
  properties: {}
}

resource diagnosticsConsumers 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: diagnosticsHub
  name: consumerGroupName
  properties: {}
}

// Azure Monitor diagnostic settings address an Event Hubs destination by an authorization rule id
// (send-only). No key is read or output here.
resource diagnosticsSendRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'azure-monitor-send'
  properties: {
    rights: ['Send']
  }
}

module privateEndpoint 'private-endpoint.bicep' = {
  name: 'pe-${namespaceName}'
  params: {
    location: location
    tags: tags
    name: 'pe-${namespaceName}'
    subnetId: privateEndpointSubnetId
    targetResourceId: namespace.id
    groupId: 'namespace'
    privateDnsZoneId: privateDnsZoneId
  }
}

output namespaceId string = namespace.id
output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output captureHubName string = captureHub.name
output diagnosticsHubName string = diagnosticsHub.name
output consumerGroupName string = consumerGroupName
output diagnosticsSendRuleId string = diagnosticsSendRule.id
