// Log Analytics (APIM GatewayLogs / GatewayLlmLogs land in resource-specific tables) and a
// workspace-based Application Insights with local (key) authentication disabled.
param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
@description('The workspace (customer) id that Log Analytics queries address; not a secret.')
output workspaceCustomerId string = workspace.properties.customerId
output applicationInsightsId string = appInsights.id
output applicationInsightsName string = appInsights.name
