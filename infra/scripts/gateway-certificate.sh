#!/bin/sh
# Puts the Application Gateway's TLS certificate into the ledger's Key Vault and points the deployment at it
# (LEDGER_SSL_CERTIFICATE_SECRET_ID); the next `azd provision` switches the gateway to HTTPS. See
# infra/DEPLOY.md, "HTTPS certificate".
#
#   infra/scripts/gateway-certificate.sh --pfx FILE      import a PFX (its password in LEDGER_PFX_PASSWORD)
#   infra/scripts/gateway-certificate.sh --self-signed   a self-signed certificate, for a first test only
#
# The certificate's host name is LEDGER_PUBLIC_HOST_NAME (a custom domain) or else the gateway's own DNS
# name (LEDGER_GATEWAY_FQDN). The vault has public network access disabled and the deployer holds Key Vault
# Certificates Officer on it (rbac.bicep): unless LEDGER_VAULT_FROM_VNET=true (you run this inside the
# VNet), the script opens the vault to this machine's IP only, for the duration of the script, and closes
# it again. Requires: az (logged in as the deploying user), azd, curl.
set -eu

usage() { sed -n '2,9p' "$0" >&2; exit 2; }
mode="" pfx=""
case "${1:-}" in
  --pfx) [ $# -eq 2 ] || usage; mode=pfx; pfx=$2 ;;
  --self-signed) [ $# -eq 1 ] || usage; mode=self ;;
  *) usage ;;
esac
if [ "$mode" = pfx ] && [ ! -f "$pfx" ]; then
  echo "no such file: $pfx" >&2
  exit 1
fi

optional() { value=$(azd env get-value "$1" 2>/dev/null || true); case "$value" in *ERROR*) value="" ;; esac; echo "$value"; }
rg=$(azd env get-value AZURE_RESOURCE_GROUP)
vault=$(azd env get-value LEDGER_KEYVAULT_NAME)
host=$(optional LEDGER_PUBLIC_HOST_NAME)
[ -n "$host" ] || host=$(azd env get-value LEDGER_GATEWAY_FQDN)
from_vnet=$(optional LEDGER_VAULT_FROM_VNET)
name=gateway-tls

policy=$(mktemp)
my_ip=""
cleanup() {
  rm -f "$policy"
  if [ -n "$my_ip" ]; then
    az keyvault network-rule remove -g "$rg" -n "$vault" --ip-address "${my_ip}/32" >/dev/null 2>&1 || true
    az keyvault update -g "$rg" -n "$vault" --public-network-access Disabled >/dev/null
  fi
}
trap cleanup EXIT
cat > "$policy" <<JSON
{
  "issuerParameters": {"name": "Self"},
  "keyProperties": {"exportable": true, "keyType": "RSA", "keySize": 2048, "reuseKey": false},
  "secretProperties": {"contentType": "application/x-pkcs12"},
  "x509CertificateProperties": {
    "subject": "CN=${host}",
    "subjectAlternativeNames": {"dnsNames": ["${host}"]},
    "ekus": ["1.3.6.1.5.5.7.3.1"],
    "keyUsage": ["digitalSignature", "keyEncipherment"],
    "validityInMonths": 12
  },
  "lifetimeActions": [{"trigger": {"daysBeforeExpiry": 30}, "action": {"actionType": "AutoRenew"}}]
}
JSON

if [ "$from_vnet" != "true" ]; then
  my_ip=$(curl -fsS https://api.ipify.org)
  echo "Opening ${vault} to ${my_ip} while the certificate goes in"
  az keyvault update -g "$rg" -n "$vault" --public-network-access Enabled --default-action Deny >/dev/null
  az keyvault network-rule add -g "$rg" -n "$vault" --ip-address "${my_ip}/32" >/dev/null
  sleep 30 # firewall changes take a moment to apply
fi

# A new role assignment can take a few minutes to apply: retry while the vault says 403.
attempt=1
while :; do
  if [ "$mode" = pfx ]; then
    echo "Importing ${pfx} as ${name} (${host})"
    az keyvault certificate import --vault-name "$vault" -n "$name" -f "$pfx" \
      --password "${LEDGER_PFX_PASSWORD:-}" >/dev/null && break
  else
    echo "Creating a self-signed certificate ${name} for ${host} (browsers and clients will not trust it)"
    az keyvault certificate create --vault-name "$vault" -n "$name" --policy "@${policy}" >/dev/null && break
  fi
  [ "$attempt" -lt 6 ] || { echo "giving up: does your user hold Key Vault Certificates Officer on ${vault}?" >&2; exit 1; }
  attempt=$((attempt + 1))
  sleep 60
done

# Versionless, so the gateway picks up renewed versions by itself
# (https://learn.microsoft.com/azure/application-gateway/key-vault-certs).
vault_uri=$(az keyvault show -g "$rg" -n "$vault" --query properties.vaultUri -o tsv)
secret_id="${vault_uri}secrets/${name}"
azd env set LEDGER_SSL_CERTIFICATE_SECRET_ID "$secret_id"
echo "LEDGER_SSL_CERTIFICATE_SECRET_ID=${secret_id}. Run 'azd provision' to switch the gateway to HTTPS."
