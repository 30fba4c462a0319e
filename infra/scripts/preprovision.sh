#!/bin/sh
# Before `azd provision`: registers the resource providers the deployment needs, then creates or updates
# the Entra ID app registration of the aoai-ledger usage API, with the app roles the API checks
# (Usage.Read, Usage.ReadAll, Audit.Read, Ledger.Admin), and stores its client id in the azd environment
# as LEDGER_API_CLIENT_ID. Plain Bicep cannot create app registrations (that needs the Microsoft Graph
# Bicep extension and Graph permissions most deployers lack), so this runs with the signed-in user's
# rights instead. Requires: az (logged in), azd. Idempotent.
set -eu

# The namespace of every resource type in infra/ (tests/unit/test_infra_scripts.py keeps this list and the
# Bicep in step). Microsoft.App is the Flex Consumption VNet delegation (Microsoft.App/environments).
# Microsoft.Resources and Microsoft.Authorization are registered in every subscription
# (https://learn.microsoft.com/azure/azure-resource-manager/management/azure-services-resource-providers).
providers="
Microsoft.ApiManagement
Microsoft.App
Microsoft.CognitiveServices
Microsoft.Communication
Microsoft.EventHub
Microsoft.Insights
Microsoft.KeyVault
Microsoft.Kusto
Microsoft.ManagedIdentity
Microsoft.Network
Microsoft.OperationalInsights
Microsoft.Sql
Microsoft.Storage
Microsoft.Web
"

state() { az provider show -n "$1" --query registrationState -o tsv 2>/dev/null || echo Unknown; }
for namespace in $providers; do
  if [ "$(state "$namespace")" != "Registered" ]; then
    echo "Registering resource provider ${namespace}"
    az provider register -n "$namespace" >/dev/null
  fi
done
# Registration is asynchronous; deployments of a provider still "Registering" fail.
for namespace in $providers; do
  waited=0
  while [ "$(state "$namespace")" != "Registered" ]; do
    if [ "$waited" -ge 900 ]; then
      echo "${namespace} is still not registered after 15 minutes" >&2
      exit 1
    fi
    sleep 15
    waited=$((waited + 15))
  done
done

existing=$(azd env get-value LEDGER_API_CLIENT_ID 2>/dev/null || true)
case "$existing" in *ERROR*|"") existing="" ;; esac
env_name=$(azd env get-value AZURE_ENV_NAME)
display_name="aoai-ledger-api-${env_name}"

roles_file=$(mktemp)
graph_body=$(mktemp)
trap 'rm -f "$roles_file" "$graph_body"' EXIT
# Fixed role ids keep the roles stable across runs (changing an id would orphan assignments).
cat > "$roles_file" <<'JSON'
[
  {"allowedMemberTypes": ["User", "Application"], "displayName": "Usage.Read", "value": "Usage.Read",
   "description": "Read own usage", "id": "7a1c0f3e-1d2b-4c5e-9f60-1a2b3c4d5e01", "isEnabled": true},
  {"allowedMemberTypes": ["User", "Application"], "displayName": "Usage.ReadAll", "value": "Usage.ReadAll",
   "description": "Read everyone's usage, quotas and alerts", "id": "7a1c0f3e-1d2b-4c5e-9f60-1a2b3c4d5e02", "isEnabled": true},
  {"allowedMemberTypes": ["User", "Application"], "displayName": "Audit.Read", "value": "Audit.Read",
   "description": "Read prompt and completion text of calls", "id": "7a1c0f3e-1d2b-4c5e-9f60-1a2b3c4d5e03", "isEnabled": true},
  {"allowedMemberTypes": ["User", "Application"], "displayName": "Ledger.Admin", "value": "Ledger.Admin",
   "description": "Change quotas, read dead letters", "id": "7a1c0f3e-1d2b-4c5e-9f60-1a2b3c4d5e04", "isEnabled": true}
]
JSON

if [ -z "$existing" ]; then
  existing=$(az ad app list --display-name "$display_name" --query "[0].appId" -o tsv)
fi
if [ -z "$existing" ]; then
  echo "Creating app registration ${display_name}"
  existing=$(az ad app create --display-name "$display_name" --sign-in-audience AzureADMyOrg \
    --app-roles "@${roles_file}" --query appId -o tsv)
else
  echo "Updating app roles of ${display_name} (${existing})"
  az ad app update --id "$existing" --app-roles "@${roles_file}"
fi
az ad app update --id "$existing" --identifier-uris "api://${existing}"
# v2 access tokens: `aud` is the client id, which LEDGER_JWT_AUDIENCE expects (functions.bicep).
az ad app update --id "$existing" --set api.requestedAccessTokenVersion=2
# A delegated scope, pre-authorized for the Azure CLI, so people get a token with
# `az account get-access-token --resource api://<client id>` (their app roles ride in it) without a
# consent prompt. Two requests: a pre-authorization may only name a scope that already exists.
object_id=$(az ad app show --id "$existing" --query id -o tsv)
scope_id=7a1c0f3e-1d2b-4c5e-9f60-1a2b3c4d5e10
azure_cli=04b07795-8ddb-461a-bbee-02f9e1bf7b46
cat > "$graph_body" <<JSON
{"api": {"oauth2PermissionScopes": [{"id": "${scope_id}", "value": "user_impersonation", "type": "User",
  "isEnabled": true, "adminConsentDisplayName": "Use the aoai-ledger usage API as you",
  "adminConsentDescription": "Read usage within the app roles the signed-in user holds.",
  "userConsentDisplayName": "Use the aoai-ledger usage API as you",
  "userConsentDescription": "Read usage within the app roles you hold."}]}}
JSON
az rest -m PATCH -u "https://graph.microsoft.com/v1.0/applications/${object_id}" --headers Content-Type=application/json -b "@${graph_body}"
cat > "$graph_body" <<JSON
{"api": {"preAuthorizedApplications": [{"appId": "${azure_cli}", "delegatedPermissionIds": ["${scope_id}"]}]}}
JSON
az rest -m PATCH -u "https://graph.microsoft.com/v1.0/applications/${object_id}" --headers Content-Type=application/json -b "@${graph_body}"
az ad sp show --id "$existing" >/dev/null 2>&1 || az ad sp create --id "$existing" >/dev/null
# Only principals given an app role get tokens for the API at all.
az ad sp update --id "$existing" --set appRoleAssignmentRequired=true

azd env set LEDGER_API_CLIENT_ID "$existing"
echo "LEDGER_API_CLIENT_ID=${existing}. Give people and apps their app roles: infra/DEPLOY.md, \"App roles\"."
