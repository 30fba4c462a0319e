// Event Hubs Standard: "aoai-capture" receives the APIM capture/v1 events, "apim-diagnostics" receives
// APIM's diagnostic settings (GatewayLogs, GatewayLlmLogs). The ledger reads both with consumer group
// "ledger"; reachable through a private endpoint.
//
// Local (SAS) authentication stays enabled because Azure Monitor diagnostic settings can only stream to
// Event Hubs through a namespace authorization rule (a SAS key) with Manage, Send and Listen rights
// (https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings, "Destination requirements"),
// and `disableLocalAuth: true` disables SAS authentication for the whole namespace.
// No client uses a key: the ledger reads and APIM's capture logger writes with Entra ID (rbac.bicep), no
// key is read or output by any template, and the one rule exists only for Azure Monitor. A separate
// namespace for diagnostics would need a second Event Hubs connection in the app and a second private
// endpoint, for no gain: whoever can list keys (Contributor) could also re-enable local auth.
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
@description('Log Analytics workspace receiving the namespace\'s resource logs and metrics.')
param logAnalyticsWorkspaceId string

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
    disableLocalAuth: false // see the top of this file
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

// Azure Monitor diagnostic settings address an Event Hubs destination by a namespace-level authorization
// rule, which must hold Manage, Send and Listen (same page as above). No key is read or output here.
resource diagnosticsSendRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'azure-monitor-send'
  properties: {
    rights: ['Manage', 'Send', 'Listen']
  }
}

// The namespace's own logs (operational, runtime audit, network) and metrics, to Log Analytics.
resource namespaceDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: namespace
  name: 'ledger'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { categoryGroup: 'allLogs', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
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
