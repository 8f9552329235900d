#!/bin/bash
# Reads Metabase's secrets from files (Docker secrets) and starts Metabase as its image does.
# For each VAR below, VAR_FILE names the file; the _FILE variable is removed before starting.
set -euo pipefail
for var in MB_DB_PASS MB_ENCRYPTION_SECRET_KEY MB_EMAIL_SMTP_PASSWORD; do
    file_var="${var}_FILE"
    if [ -n "${!file_var:-}" ]; then
        if [ ! -r "${!file_var}" ]; then
            echo "secret file ${!file_var} for $var is missing" >&2
            exit 1
        fi
        export "$var"="$(tr -d '\r\n' < "${!file_var}")"
        unset "$file_var"
    fi
done
exec /app/run_metabase.sh "$@"
