#!/bin/sh
# Applies infra/sql/schema.sql to the ledger database and makes the Functions managed identity a database
# user, authenticating as the signed-in Entra user (the SQL Entra administrator; no SQL passwords exist).
# The identity reads and writes rows only (db_datareader, db_datawriter): the schema is the deployer's, so
# the app never creates or alters tables (shared/store/engine.py); a db_ddladmin membership left by an
# earlier version of this script is removed.
# The server has public network access disabled; unless you run this from inside the VNet
# (LEDGER_SQL_FROM_VNET=true), the script opens public access for this machine's IP only, for the
# duration of the script, and closes it again.
# Requires: az (logged in), azd, sqlcmd (go-sqlcmd, which supports --authentication-method).
set -eu

get() { azd env get-value "$1"; }
rg=$(get AZURE_RESOURCE_GROUP)
server=$(get LEDGER_SQL_SERVER)
server_name=$(get LEDGER_SQL_SERVER_NAME)
database=$(get LEDGER_SQL_DATABASE)
identity=$(get LEDGER_FUNCTIONS_IDENTITY_NAME)
from_vnet=$(azd env get-value LEDGER_SQL_FROM_VNET 2>/dev/null || echo false)
schema="$(dirname "$0")/../sql/schema.sql"

if [ ! -f "$schema" ]; then
  echo "infra/sql/schema.sql not found; nothing to apply" >&2
  exit 1
fi

close_access() {
  az sql server firewall-rule delete -g "$rg" -s "$server_name" -n azd-postprovision >/dev/null 2>&1 || true
  az sql server update -g "$rg" -n "$server_name" --enable-public-network false >/dev/null
}

if [ "$from_vnet" != "true" ]; then
  my_ip=$(curl -fsS https://api.ipify.org)
  echo "Opening ${server_name} to ${my_ip} for the schema update"
  trap close_access EXIT
  az sql server update -g "$rg" -n "$server_name" --enable-public-network true >/dev/null
  az sql server firewall-rule create -g "$rg" -s "$server_name" -n azd-postprovision \
    --start-ip-address "$my_ip" --end-ip-address "$my_ip" >/dev/null
  sleep 30 # firewall rules take a moment to apply
fi

run_sql() {
  sqlcmd -S "tcp:${server},1433" -d "$database" --authentication-method ActiveDirectoryDefault -b "$@"
}

echo "Applying ${schema}"
run_sql -i "$schema"

echo "Granting ${identity} access to ${database}"
run_sql -Q "
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'${identity}')
    CREATE USER [${identity}] FROM EXTERNAL PROVIDER;
IF IS_ROLEMEMBER('db_datareader', N'${identity}') = 0 ALTER ROLE db_datareader ADD MEMBER [${identity}];
IF IS_ROLEMEMBER('db_datawriter', N'${identity}') = 0 ALTER ROLE db_datawriter ADD MEMBER [${identity}];
IF IS_ROLEMEMBER('db_ddladmin', N'${identity}') = 1 ALTER ROLE db_ddladmin DROP MEMBER [${identity}];
"
echo "Database ready."
