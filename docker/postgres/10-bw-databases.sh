#!/bin/bash
# First start of an empty data volume (docker-entrypoint-initdb.d): the application roles and
# databases. Passwords come from Docker secrets; psql reads them itself (never on a command line).
# Safe to run again: roles and databases that exist are left as they are.
#   airflow          owns database airflow (Airflow metadata)
#   bw_etl           owns database warehouse (pipelines; runs the migrations in sql/)
#   bw_metabase_ro   NOLOGIN group: read access to the per-store reporting schemas (granted by sql/0020+)
#   metabase_reader  Metabase's login to the warehouse: member of bw_metabase_ro, read-only sessions
#   metabase         owns database metabase (Metabase's application database)
#   bw_backup        backups and restore checks: reads everything (pg_read_all_data), CREATEDB for scratch DBs
set -euo pipefail
export BW_SECRETS_DIR="${BW_SECRETS_DIR:-/run/secrets}"
for name in airflow_db_password warehouse_db_password metabase_db_password metabase_reader_password \
            backup_db_password; do
    if [ ! -s "$BW_SECRETS_DIR/$name" ]; then
        echo "secret $BW_SECRETS_DIR/$name is missing or empty" >&2
        exit 1
    fi
done

psql -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\set airflow_pw `tr -d '\r\n' < "$BW_SECRETS_DIR/airflow_db_password"`
\set warehouse_pw `tr -d '\r\n' < "$BW_SECRETS_DIR/warehouse_db_password"`
\set metabase_pw `tr -d '\r\n' < "$BW_SECRETS_DIR/metabase_db_password"`
\set reader_pw `tr -d '\r\n' < "$BW_SECRETS_DIR/metabase_reader_password"`
\set backup_pw `tr -d '\r\n' < "$BW_SECRETS_DIR/backup_db_password"`

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', r.name, r.pw)
FROM (VALUES ('airflow', :'airflow_pw'), ('bw_etl', :'warehouse_pw'), ('metabase', :'metabase_pw'))
     AS r(name, pw)
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) \gexec

SELECT 'CREATE ROLE bw_metabase_ro NOLOGIN'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bw_metabase_ro') \gexec
SELECT format('CREATE ROLE metabase_reader LOGIN PASSWORD %L IN ROLE bw_metabase_ro', :'reader_pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'metabase_reader') \gexec
ALTER ROLE metabase_reader SET default_transaction_read_only = on;

SELECT format('CREATE ROLE bw_backup LOGIN CREATEDB PASSWORD %L IN ROLE pg_read_all_data', :'backup_pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bw_backup') \gexec

SELECT format('CREATE DATABASE %I OWNER %I', d.name, d.owner)
FROM (VALUES ('airflow', 'airflow'), ('warehouse', 'bw_etl'), ('metabase', 'metabase')) AS d(name, owner)
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d.name) \gexec

REVOKE ALL ON DATABASE airflow, warehouse, metabase FROM PUBLIC;
GRANT CONNECT ON DATABASE warehouse TO metabase_reader, bw_backup;
GRANT CONNECT ON DATABASE metabase TO bw_backup;
SQL
echo "roles and databases ready: airflow, warehouse, metabase"
