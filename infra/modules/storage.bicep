// One storage account: the Functions host (AzureWebJobsStorage, identity-based), the Flex Consumption
// deployment container, and "bodies" for claim-checked request/response bodies written by APIM, deleted
// by lifecycle rules after bodyRetentionDays (they are only a hand-over to ingest) and, sooner when it is
// shorter, after textRetentionDays (LEDGER_TEXT_RETENTION_DAYS: the text may not outlive the ledger's own).
// Shared keys are disabled; blob via private endpoint.
// Zone-redundant (ZRS) unless the region has no availability zones
// (https://learn.microsoft.com/azure/storage/common/storage-redundancy#zone-redundant-storage).
param location string
param tags object
param accountName string
param deploymentContainerName string
param bodiesContainerName string = 'bodies'
param bodyRetentionDays int = 30
@description('LEDGER_TEXT_RETENTION_DAYS: claim-checked bodies (prompt and completion text, unredacted) are deleted after this many days; 0 keeps text forever, so only bodyRetentionDays applies.')
@minValue(0)
param textRetentionDays int = 90
param privateEndpointSubnetId string
param privateDnsZoneId string
param logAnalyticsWorkspaceId string
@description('Standard_ZRS; Standard_LRS in a region without availability zones (ZRS is refused there).')
@allowed(['Standard_ZRS', 'Standard_LRS'])
param skuName string = 'Standard_ZRS'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource bodiesContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: bodiesContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Two rules on the bodies: the hand-over (bodyRetentionDays) and text retention (textRetentionDays). Every
// rule applies and a blob goes when the first one matches, so the text rule matters when textRetentionDays <
// bodyRetentionDays. It is always declared (so its shape is type-checked) and enabled only when
// textRetentionDays > 0: with 0 (keep text forever) there is no text rule. daysAfterCreationGreaterThan: a
// body is written once, and its age is the age of the text.
// https://learn.microsoft.com/azure/storage/blobs/lifecycle-management-policy-structure
// https://learn.microsoft.com/azure/templates/microsoft.storage/storageaccounts/managementpolicies
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-claim-checked-bodies'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['${bodiesContainerName}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: bodyRetentionDays
                }
              }
            }
          }
        }
        {
          name: 'delete-text-after-retention'
          enabled: textRetentionDays > 0
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['${bodiesContainerName}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: textRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

// Who read, wrote or deleted which blob (claim-checked bodies hold prompt text), and transaction metrics.
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: blobService
  name: 'ledger'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { categoryGroup: 'allLogs', enabled: true }
    ]
    metrics: [
      { category: 'Transaction', enabled: true }
    ]
  }
}

resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: account
  name: 'ledger'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      { category: 'Transaction', enabled: true }
    ]
  }
}

module privateEndpoint 'private-endpoint.bicep' = {
  name: 'pe-${accountName}-blob'
  params: {
    location: location
    tags: tags
    name: 'pe-${accountName}-blob'
    subnetId: privateEndpointSubnetId
    targetResourceId: account.id
    groupId: 'blob'
    privateDnsZoneId: privateDnsZoneId
  }
}

output accountId string = account.id
output accountName string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainer.name
output bodiesContainerName string = bodiesContainer.name
