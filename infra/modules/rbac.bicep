// Every role assignment of the deployment, in one place. Principals: the Functions identity (the
// ledger), the APIM identity (the gateway), the Application Gateway identity, and optionally the
// deploying user. Each assignment is scoped as narrowly as the resource allows.
param functionsPrincipalId string
@description('Application (client) id of the Functions identity: Azure Data Explorer names an App principal by it.')
param functionsClientId string
param apimPrincipalId string
param gatewayPrincipalId string
@description('Object id of the deploying user (azd AZURE_PRINCIPAL_ID); empty: no user assignments.')
param userPrincipalId string = ''
param storageAccountName string
param bodiesContainerName string
param eventHubsNamespaceName string
param captureHubName string
param keyVaultName string
param applicationInsightsName string
param logAnalyticsWorkspaceName string
param communicationServiceName string
param openaiAccountNames array
param deployAdx bool = false
param adxClusterName string = ''
param adxDatabaseName string = ''

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
  communicationAndEmailServiceOwner: '09976791-48a7-449e-bb21-39d1a415f350'
  cognitiveServicesOpenAIUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource bodiesContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${bodiesContainerName}'
}

resource eventHubs 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubsNamespaceName
}

resource captureHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: eventHubs
  name: captureHubName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

resource openai 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = [for accountName in openaiAccountNames: {
  name: accountName
}]

// ---- The ledger (Functions identity) ----

// Storage Blob Data Owner: AzureWebJobsStorage (leases, checkpoints), the deployment package, and the
// claim-checked bodies it reads.
resource functionsStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionsPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Event Hubs Data Receiver: the ingest trigger reads aoai-capture and apim-diagnostics.
resource functionsEventHubs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHubs.id, functionsPrincipalId, roles.eventHubsDataReceiver)
  scope: eventHubs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User: Key Vault references in app settings (e.g. LEDGER_SMTP_PASSWORD).
resource functionsVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, functionsPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: telemetry to Application Insights with Entra auth (local auth is off).
resource functionsTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionsPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Log Analytics Reader: the reconcile timer queries ApiManagementGatewayLogs / ApiManagementGatewayLlmLog.
resource functionsLogs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, functionsPrincipalId, roles.logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.logAnalyticsReader)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Communication and Email Service Owner: ACS has no narrower built-in role that can send email with
// Entra ID; scoped to this one Communication Services resource. Replace with a custom role holding
// Microsoft.Communication/CommunicationServices/Read and .../EmailServices/write if your policy demands.
resource functionsEmail 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, functionsPrincipalId, roles.communicationAndEmailServiceOwner)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.communicationAndEmailServiceOwner)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Data Explorer "Ingestor" (a database role, not Azure RBAC) for the optional Kusto store.
resource adxCluster 'Microsoft.Kusto/clusters@2023-08-15' existing = if (deployAdx) {
  name: deployAdx ? adxClusterName : 'none'
}

resource adxDatabase 'Microsoft.Kusto/clusters/databases@2023-08-15' existing = if (deployAdx) {
  parent: adxCluster
  name: deployAdx ? adxDatabaseName : 'none'
}

// principalType 'App' takes the application (client) id, not the object id: "It can be a user email,
// application ID, or security group name"
// (https://learn.microsoft.com/azure/templates/microsoft.kusto/clusters/databases/principalassignments).
resource functionsAdx 'Microsoft.Kusto/clusters/databases/principalAssignments@2023-08-15' = if (deployAdx) {
  parent: adxDatabase
  name: guid(adxClusterName, functionsClientId, 'Ingestor')
  properties: {
    principalId: functionsClientId
    principalType: 'App'
    role: 'Ingestor'
    tenantId: tenant().tenantId
  }
}

// ---- The gateway (APIM identity) ----

// Cognitive Services OpenAI User: APIM calls every Azure OpenAI account with its managed identity.
resource apimOpenAI 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (accountName, i) in openaiAccountNames: {
  name: guid(openai[i].id, apimPrincipalId, roles.cognitiveServicesOpenAIUser)
  scope: openai[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesOpenAIUser)
    principalId: apimPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Azure Event Hubs Data Sender: the "ledger-capture" logger writes capture/v1 events to aoai-capture only.
resource apimEventHubs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(captureHub.id, apimPrincipalId, roles.eventHubsDataSender)
  scope: captureHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataSender)
    principalId: apimPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor on the "bodies" container only: the policy's claim-check uploads.
resource apimBodies 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(bodiesContainer.id, apimPrincipalId, roles.storageBlobDataContributor)
  scope: bodiesContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: apimPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: the "appinsights" logger (token metrics) publishes with this identity,
// because Application Insights has local (key) auth disabled.
resource apimTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, apimPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: apimPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Application Gateway identity ----

// Key Vault Secrets User: the listener's TLS certificate from Key Vault.
resource gatewayVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, gatewayPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: gatewayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- The deploying user (optional) ----

// Key Vault Certificates Officer: import or create the gateway's TLS certificate
// (infra/scripts/gateway-certificate.sh); certificates only, no other secret of the vault.
resource userCertificates 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, roles.keyVaultCertificatesOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificatesOfficer)
    principalId: userPrincipalId
    principalType: 'User'
  }
}

// Storage Blob Data Reader: read claim-checked bodies while investigating a call.
resource userBodies 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(bodiesContainer.id, userPrincipalId, roles.storageBlobDataReader)
  scope: bodiesContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: userPrincipalId
    principalType: 'User'
  }
}
