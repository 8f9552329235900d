#!/bin/sh
# Creates secrets/ for a new server: random passwords and keys, and airflow_connections.json
# from its example with the generated database passwords filled in. Existing files are kept.
# Afterwards edit secrets/airflow_connections.json: Graph, Dataverse, SMTP and Metabase values.
set -eu
cd "$(dirname "$0")/../secrets"
umask 077
rand() { openssl rand -base64 36 | tr -d '/+=\n' | cut -c1-32; }
put() { [ -s "$1" ] && echo "kept $1" && return 0; printf '%s' "$2" > "$1"; echo "created $1"; }

for name in postgres_password airflow_db_password warehouse_db_password metabase_db_password \
            metabase_reader_password backup_db_password airflow_admin_password airflow_jwt_secret \
            airflow_api_secret_key metabase_encryption_key; do
    put "$name" "$(rand)"
done
put airflow_fernet_key "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '\n')"

if [ ! -s airflow_connections.json ]; then
    sed -e "s|CHANGE_ME_WAREHOUSE_PASSWORD|$(cat warehouse_db_password)|" \
        -e "s|CHANGE_ME_BACKUP_PASSWORD|$(cat backup_db_password)|" \
        airflow_connections.json.example > airflow_connections.json
    echo "created airflow_connections.json: fill in Graph, Dataverse, SMTP and Metabase"
else
    echo "kept airflow_connections.json"
fi
