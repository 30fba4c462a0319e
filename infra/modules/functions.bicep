// The ledger: a Flex Consumption (FC1) Python 3.11 Functions app with the user-assigned identity, VNet
// integration, every app setting of shared/settings.py (identity-based, no secrets), and inbound traffic
// only from the Application Gateway subnet.
//
// The usage API validates Entra bearer tokens itself (LEDGER_AUTH=jwt). App Service Authentication
// (Easy Auth) is not used: Microsoft's Flex Consumption page lists it as unsupported, with "Unauthenticated
// callers currently aren't blocked when EasyAuth is enabled in a Flex Consumption plan app"
// (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations), so an
// X-MS-CLIENT-PRINCIPAL header could not be trusted there.
param location string
param tags object
param name string
param planName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param bodyStorageUrl string
param applicationInsightsName string
param functionsSubnetId string
param appGatewaySubnetId string
@description('Client id of the Entra app registration of the usage API (app roles Usage.Read, Usage.ReadAll, Audit.Read, Ledger.Admin).')
param apiClientId string
param eventHubsFullyQualifiedNamespace string
param captureHubName string
param diagnosticsHubName string
param consumerGroupName string
param sqlServerFqdn string
param sqlDatabaseName string
param acsEndpoint string
@description('What is masked before storage: secrets, pii or off (LEDGER_REDACT).')
@allowed(['secrets', 'pii', 'off'])
param redact string = 'secrets'
@description('Days prompt/completion text is kept (LEDGER_TEXT_RETENTION_DAYS; 0 keeps it forever). The claim-check blob lifecycle rule uses the same days.')
@minValue(0)
param textRetentionDays int = 90
param alertFrom string
param alertTo string = ''
param publicUrl string
param logAnalyticsWorkspaceCustomerId string
param kustoIngestUri string = ''
param kustoDatabase string = ''
param storeText bool = true
param timezone string = 'UTC'
@description('Path of the teams and cost centres file in the deployed package, e.g. config/teams.json (LEDGER_TEAMS_FILE); empty: no teams.')
param teamsFile string = ''
param keyVaultName string
@description('Name of a Key Vault secret holding an SMTP password (only for LEDGER_EMAIL_MODE=smtp); empty: none.')
param smtpPasswordSecretName string = ''
@description('Name of a Key Vault secret holding LEDGER_ALERT_WEBHOOKS (`teams:<url>,slack:<url>,json:<url>`: the URLs are credentials); empty: no chat alerts.')
param alertWebhooksSecretName string = ''
param maximumInstanceCount int = 40
@description('Path of the provisioned-throughput (PTU) file in the deployed package, e.g. /home/site/wwwroot/ptu.json (LEDGER_PTU_FILE); empty: every call is priced per token.')
param ptuFile string = ''

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  params: {
    name: planName
    location: location
    tags: tags
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Every name of shared/settings.py SETTINGS, with its Azure value (tests/unit/test_infra_settings.py
// keeps this list, local.settings.sample.json, the README and the code in step).
var ledgerSettings = {
  EVENTHUB__fullyQualifiedNamespace: eventHubsFullyQualifiedNamespace
  EVENTHUB_NAME: captureHubName
  EVENTHUB_CONSUMER_GROUP: consumerGroupName
  EVENTHUB_MONITOR_NAME: diagnosticsHubName
  LEDGER_SQL_URL: 'mssql+pyodbc://@${sqlServerFqdn}/${sqlDatabaseName}?driver=ODBC+Driver+18+for+SQL+Server'
  LEDGER_STORE_TEXT: storeText ? 'true' : 'false'
  LEDGER_REDACT: redact
  LEDGER_TEXT_RETENTION_DAYS: string(textRetentionDays)
  LEDGER_DEADLETTER_RETENTION_DAYS: '30'
  LEDGER_PRICES_FILE: ''
  LEDGER_KUSTO_INGEST_URI: kustoIngestUri
  LEDGER_KUSTO_DATABASE: kustoDatabase
  LEDGER_BODY_STORAGE_URL: bodyStorageUrl
  LEDGER_BODY_STORAGE_CONNECTION_STRING: ''
  LEDGER_BODY_WAIT_SECONDS: '900'
  LEDGER_HOURLY_SUMS_DAYS: '35'
  LEDGER_MONITOR_JOIN_SECONDS: '300'
  LEDGER_API_WRITE_WAIT_SECONDS: '5'
  LEDGER_AUTH: 'jwt' // see the top of this file
  LEDGER_EASYAUTH_TRUSTED: 'false'
  LEDGER_JWT_TENANT_ID: tenant().tenantId
  // preprovision.sh sets requestedAccessTokenVersion=2 on the app registration: v2 access tokens carry
  // the client id (not api://...) as `aud`.
  LEDGER_JWT_AUDIENCE: apiClientId
  LEDGER_JWT_OPENID_CONFIG_URL: ''
  LEDGER_PUBLIC_URL: publicUrl
  LEDGER_QUOTAS_FILE: ''
  LEDGER_TEAMS_FILE: teamsFile
  LEDGER_PTU_FILE: ptuFile
  LEDGER_TIMEZONE: timezone
  QUOTA_CHECK_SCHEDULE: '0 */5 * * * *'
  ANOMALY_SCAN_SCHEDULE: '0 */15 * * * *'
  RECONCILE_SCHEDULE: '0 15 * * * *'
  PTU_REFRESH_SCHEDULE: '0 20 * * * *'
  CHARGEBACK_REPORT_SCHEDULE: '0 0 6 * * *'
  RETENTION_PURGE_SCHEDULE: '0 30 2 * * *'
  PENDING_SWEEP_SCHEDULE: '0 */1 * * * *'
  LEDGER_ANOMALY_SPIKE_FACTOR: '6'
  LEDGER_ANOMALY_MIN_TOKENS: '20000'
  LEDGER_ANOMALY_ERROR_RATE: '0.25'
  LEDGER_ANOMALY_FILTER_HITS: '5'
  LEDGER_EMAIL_MODE: 'acs'
  LEDGER_ACS_ENDPOINT: acsEndpoint
  LEDGER_SMTP_HOST: ''
  LEDGER_SMTP_PORT: '587'
  LEDGER_SMTP_STARTTLS: 'true'
  LEDGER_SMTP_USERNAME: ''
  LEDGER_SMTP_PASSWORD: empty(smtpPasswordSecretName) ? '' : '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${smtpPasswordSecretName})'
  LEDGER_OUTBOX_DIR: '/tmp/ledger-outbox'
  LEDGER_ALERT_FROM: alertFrom
  LEDGER_ALERT_TO: alertTo
  // A webhook URL carries its own credential (a Teams workflow's `sig`, a Slack hook's path): a Key Vault
  // reference, read with keyVaultReferenceIdentity
  // (https://learn.microsoft.com/azure/app-service/app-service-key-vault-references).
  LEDGER_ALERT_WEBHOOKS: empty(alertWebhooksSecretName) ? '' : '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${alertWebhooksSecretName})'
  LEDGER_DAILY_DIGEST: 'false'
  LEDGER_REPORT_TO: '' // the monthly chargeback report's recipients; set per environment, empty sends none
  LEDGER_LOG_ANALYTICS_WORKSPACE_ID: logAnalyticsWorkspaceCustomerId
  AZURE_CLIENT_ID: identityClientId
}

// Host settings: identity-based connections of the host (storage, the Event Hubs trigger) with the
// user-assigned identity, and Application Insights with Entra authentication (its local auth is off).
var hostSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  EVENTHUB__credential: 'managedidentity'
  EVENTHUB__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'ledger' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.outputs.resourceId
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: functionsSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      // No ftpsState: Flex Consumption has no FTP and lists the property as deprecated
      // (https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations);
      // basic-auth publishing is switched off below instead.
      // Only Application Gateway reaches the app; deployments (scm) keep their own, Entra-protected site.
      ipSecurityRestrictionsDefaultAction: 'Deny'
      ipSecurityRestrictions: [
        {
          name: 'application-gateway'
          action: 'Allow'
          priority: 100
          vnetSubnetResourceId: appGatewaySubnetId
        }
      ]
      scmIpSecurityRestrictionsUseMain: false
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(ledgerSettings, hostSettings)
}

// No basic (user/password) publishing credentials for FTP or the scm site: azd and the Core Tools deploy
// with Entra ID (https://aka.ms/app-service-disable-basic-auth).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
