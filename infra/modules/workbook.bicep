// Azure Monitor workbook over the Log Analytics workspace: tokens by caller IP and model, usage per APIM
// subscription, and the prompt text of recent calls (infra/workbooks/ledger.workbook.json).
param location string
param tags object
param workspaceId string
param displayName string = 'aoai-ledger: Azure OpenAI usage'

resource workbook 'Microsoft.Insights/workbooks@2022-04-01' = {
  name: guid(resourceGroup().id, 'aoai-ledger-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: workspaceId
    serializedData: loadTextContent('../workbooks/ledger.workbook.json')
  }
}

output workbookId string = workbook.id
