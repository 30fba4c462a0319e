// aoai-ledger: the whole architecture (see "Deploy to Azure" in README.md). This file only names resources and wires
// modules; each concern lives in modules/, every role assignment in modules/rbac.bicep.
targetScope = 'subscription'

@minLength(1)
@maxLength(20)
@description('azd environment name; prefixes the resource group and seeds unique resource names.')
param environmentName string

@minLength(1)
@description('Region of the resource group and of everything but the Azure OpenAI accounts.')
param location string

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID); becomes SQL administrator unless sqlAdministratorObjectId is set.')
param principalId string = ''

@description('Entra administrator of Azure SQL: an object id (user or group); empty uses principalId.')
param sqlAdministratorObjectId string = ''
param sqlAdministratorLogin string = 'aoai-ledger-sql-admins'
@allowed(['User', 'Group'])
param sqlAdministratorType string = 'User'

@description('Client id of the usage API app registration (created by infra/scripts/preprovision.sh).')
param apiClientId string

@description('APIM publisher email (receives APIM system notifications).')
param publisherEmail string

@allowed(['Developer', 'Premium'])
param apimSku string = 'Developer'

@description('Azure OpenAI accounts and their deployments; lower priority numbers are used first.')
param openaiAccounts array = [
  {
    name: 'primary'
    location: 'eastus2'
    priority: 1
    weight: 1
    deployments: [
      { name: 'gpt-4o-mini', model: 'gpt-4o-mini', version: '2024-07-18', sku: 'GlobalStandard', capacity: 50 }
      { name: 'text-embedding-3-small', model: 'text-embedding-3-small', version: '1', sku: 'Standard', capacity: 50 }
    ]
  }
  {
    name: 'secondary'
    location: 'swedencentral'
    priority: 2
    weight: 1
    deployments: [
      { name: 'gpt-4o-mini', model: 'gpt-4o-mini', version: '2024-07-18', sku: 'GlobalStandard', capacity: 50 }
      { name: 'text-embedding-3-small', model: 'text-embedding-3-small', version: '1', sku: 'Standard', capacity: 50 }
    ]
  }
]

param tokensPerMinute int = 100000
param tokenQuota int = 50000000
@allowed(['Hourly', 'Daily', 'Weekly', 'Monthly', 'Yearly'])
param tokenQuotaPeriod string = 'Monthly'
@description('Buffer streamed responses so their text is captured (clients then get the stream only at its end).')
param captureStreamBodies bool = false
param bodyRetentionDays int = 30
@description('What is masked before storage (LEDGER_REDACT): secrets, pii or off.')
@allowed(['secrets', 'pii', 'off'])
param redact string = 'secrets'
@description('Days prompt/completion text is kept (LEDGER_TEXT_RETENTION_DAYS; 0 keeps it forever): the app purges it, a Blob lifecycle rule deletes claim-checked bodies and ADX keeps the Calls table (text) this long.')
@minValue(0)
param textRetentionDays int = 90
@description('Comma-separated admin addresses copied on every alert.')
param alertRecipients string = ''
@description('Name of the Key Vault secret that holds LEDGER_ALERT_WEBHOOKS (teams:/slack:/json: URLs, which are credentials); put it in the vault after the first deployment. Empty: no chat alerts.')
param alertWebhooksSecretName string = ''
@description('Versionless Key Vault secret id of the gateway TLS certificate; empty: HTTP listener (tests only).')
param sslCertificateSecretId string = ''
@description('Host name clients use for the gateway (a custom domain with a CNAME to it); empty: the gateway\'s own DNS name.')
param publicHostName string = ''
@description('Also deploy Azure Data Explorer for the optional Kusto store.')
param deployAdx bool = false
@description('Key Vault purge protection (irreversible). Leave false for environments you tear down with `azd down --purge`.')
param keyVaultPurgeProtection bool = false
@description('Storage redundancy: Standard_ZRS, or Standard_LRS where the region has no availability zones.')
@allowed(['Standard_ZRS', 'Standard_LRS'])
param storageSkuName string = 'Standard_ZRS'

var abbrs = loadJsonContent('abbreviations.json')
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}ledger-${token}'
var gatewayName = '${abbrs.networkApplicationGateways}${token}'
// The gateway's public IP has DNS label gatewayName; the Functions app needs the URL before the gateway exists.
var gatewayFqdn = '${gatewayName}.${location}.cloudapp.azure.com'
var publicUrl = '${empty(sslCertificateSecretId) ? 'http' : 'https'}://${empty(publicHostName) ? gatewayFqdn : publicHostName}'

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: {
    location: location
    tags: tags
    functionsIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}ledger-${token}'
    apimIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}apim-${token}'
    gatewayIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}agw-${token}'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${token}'
    applicationInsightsName: '${abbrs.insightsComponents}${token}'
  }
}

module network 'modules/network.bicep' = {
  scope: rg
  name: 'network'
  params: {
    location: location
    tags: tags
    vnetName: '${abbrs.networkVirtualNetworks}${token}'
  }
}

module eventhubs 'modules/eventhubs.bicep' = {
  scope: rg
  name: 'eventhubs'
  params: {
    location: location
    tags: tags
    namespaceName: '${abbrs.eventHubNamespaces}${token}'
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    privateDnsZoneId: network.outputs.eventHubsDnsZoneId
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    location: location
    tags: tags
    accountName: '${abbrs.storageStorageAccounts}${token}'
    deploymentContainerName: 'app-package-${take(token, 7)}'
    bodyRetentionDays: bodyRetentionDays
    textRetentionDays: textRetentionDays
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    privateDnsZoneId: network.outputs.blobDnsZoneId
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    skuName: storageSkuName
  }
}

module sql 'modules/sql.bicep' = {
  scope: rg
  name: 'sql'
  params: {
    location: location
    tags: tags
    serverName: '${abbrs.sqlServers}${token}'
    administratorObjectId: empty(sqlAdministratorObjectId) ? principalId : sqlAdministratorObjectId
    administratorLogin: sqlAdministratorLogin
    administratorType: sqlAdministratorType
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    privateDnsZoneId: network.outputs.sqlDnsZoneId
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module keyvault 'modules/keyvault.bicep' = {
  scope: rg
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    vaultName: '${abbrs.keyVaultVaults}${token}'
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    privateDnsZoneId: network.outputs.keyVaultDnsZoneId
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    purgeProtection: keyVaultPurgeProtection
  }
}

module communication 'modules/communication.bicep' = {
  scope: rg
  name: 'communication'
  params: {
    tags: tags
    communicationServiceName: '${abbrs.communicationCommunicationServices}${token}'
    emailServiceName: '${abbrs.communicationEmailServices}${token}'
  }
}

module openai 'modules/openai.bicep' = {
  scope: rg
  name: 'openai'
  params: {
    tags: tags
    resourceToken: token
    accounts: openaiAccounts
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    privateDnsZoneId: network.outputs.openaiDnsZoneId
    privateEndpointLocation: location
  }
}

module adx 'modules/adx.bicep' = if (deployAdx) {
  scope: rg
  name: 'adx'
  params: {
    location: location
    tags: tags
    clusterName: '${abbrs.kustoClusters}${token}'
    textRetentionDays: textRetentionDays
  }
}

module rbac 'modules/rbac.bicep' = {
  scope: rg
  name: 'rbac'
  params: {
    functionsPrincipalId: identity.outputs.functionsPrincipalId
    functionsClientId: identity.outputs.functionsClientId
    apimPrincipalId: identity.outputs.apimPrincipalId
    gatewayPrincipalId: identity.outputs.gatewayPrincipalId
    userPrincipalId: principalId
    storageAccountName: storage.outputs.accountName
    bodiesContainerName: storage.outputs.bodiesContainerName
    eventHubsNamespaceName: eventhubs.outputs.namespaceName
    captureHubName: eventhubs.outputs.captureHubName
    keyVaultName: keyvault.outputs.vaultName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    logAnalyticsWorkspaceName: monitoring.outputs.workspaceName
    communicationServiceName: communication.outputs.communicationServiceName
    openaiAccountNames: [for (config, i) in openaiAccounts: openai.outputs.backends[i].accountName]
    deployAdx: deployAdx
    adxClusterName: deployAdx ? adx.outputs.clusterName : ''
    adxDatabaseName: deployAdx ? adx.outputs.databaseName : ''
  }
}

module apim 'modules/apim.bicep' = {
  scope: rg
  name: 'apim'
  params: {
    location: location
    tags: tags
    name: '${abbrs.apiManagementService}${token}'
    skuName: apimSku
    publisherEmail: publisherEmail
    subnetId: network.outputs.apimSubnetId
    identityId: identity.outputs.apimIdentityId
    identityClientId: identity.outputs.apimClientId
    openaiBackends: openai.outputs.backends
    eventHubsNamespaceId: eventhubs.outputs.namespaceId
    eventHubsFullyQualifiedNamespace: eventhubs.outputs.fullyQualifiedNamespace
    captureHubName: eventhubs.outputs.captureHubName
    diagnosticsHubName: eventhubs.outputs.diagnosticsHubName
    diagnosticsSendRuleId: eventhubs.outputs.diagnosticsSendRuleId
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    bodyStorageAccountName: storage.outputs.accountName
    tokensPerMinute: tokensPerMinute
    tokenQuota: tokenQuota
    tokenQuotaPeriod: tokenQuotaPeriod
    captureStreamBodies: captureStreamBodies
  }
  dependsOn: [rbac] // the logger and the claim-check uploads need their roles first
}

module functions 'modules/functions.bicep' = {
  scope: rg
  name: 'functions'
  params: {
    location: location
    tags: tags
    name: functionAppName
    planName: '${abbrs.webServerFarms}${token}'
    identityId: identity.outputs.functionsIdentityId
    identityClientId: identity.outputs.functionsClientId
    storageAccountName: storage.outputs.accountName
    deploymentContainerName: storage.outputs.deploymentContainerName
    bodyStorageUrl: storage.outputs.blobEndpoint
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    functionsSubnetId: network.outputs.functionsSubnetId
    appGatewaySubnetId: network.outputs.appGatewaySubnetId
    apiClientId: apiClientId
    eventHubsFullyQualifiedNamespace: eventhubs.outputs.fullyQualifiedNamespace
    captureHubName: eventhubs.outputs.captureHubName
    diagnosticsHubName: eventhubs.outputs.diagnosticsHubName
    consumerGroupName: eventhubs.outputs.consumerGroupName
    sqlServerFqdn: sql.outputs.serverFqdn
    sqlDatabaseName: sql.outputs.databaseName
    acsEndpoint: communication.outputs.endpoint
    alertFrom: communication.outputs.senderAddress
    alertTo: alertRecipients
    publicUrl: publicUrl
    logAnalyticsWorkspaceCustomerId: monitoring.outputs.workspaceCustomerId
    kustoIngestUri: deployAdx ? adx.outputs.ingestUri : ''
    kustoDatabase: deployAdx ? adx.outputs.databaseName : ''
    keyVaultName: keyvault.outputs.vaultName
    alertWebhooksSecretName: alertWebhooksSecretName
    redact: redact
    textRetentionDays: textRetentionDays
  }
  dependsOn: [rbac]
}

module appgateway 'modules/appgateway.bicep' = {
  scope: rg
  name: 'appgateway'
  params: {
    location: location
    tags: tags
    name: gatewayName
    wafPolicyName: '${abbrs.networkFirewallPoliciesWebApplication}${token}'
    subnetId: network.outputs.appGatewaySubnetId
    identityId: identity.outputs.gatewayIdentityId
    apimPrivateIp: apim.outputs.privateIpAddress
    apimHostName: apim.outputs.gatewayHostName
    functionsHostName: functions.outputs.defaultHostName
    sslCertificateSecretId: sslCertificateSecretId
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
  dependsOn: [rbac]
}

module workbook 'modules/workbook.bicep' = {
  scope: rg
  name: 'workbook'
  params: {
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
  }
}

// Read by azd and by infra/scripts/postprovision.sh. No keys, secrets or connection strings.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = functions.outputs.name
output LEDGER_SQL_SERVER string = sql.outputs.serverFqdn
output LEDGER_SQL_SERVER_NAME string = sql.outputs.serverName
output LEDGER_SQL_DATABASE string = sql.outputs.databaseName
output LEDGER_FUNCTIONS_IDENTITY_NAME string = identity.outputs.functionsIdentityName
output LEDGER_PUBLIC_URL string = publicUrl
output LEDGER_APIM_NAME string = apim.outputs.name
output LEDGER_KEYVAULT_NAME string = keyvault.outputs.vaultName
@description('The gateway\'s own DNS name: the subject of a certificate when no custom host name is used.')
output LEDGER_GATEWAY_FQDN string = appgateway.outputs.publicFqdn
