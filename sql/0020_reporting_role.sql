-- The read-only role Metabase reads the warehouse with, and the record of generated store schemas.
--
-- bw_metabase_ro is a NOLOGIN group role: it may read the per-store reporting schemas
-- (store_NNNNNN, created by include/warehouse/reporting.py) and the dq schema, nothing else.
-- Production creates a login user that is a member of it, e.g.
--   CREATE ROLE metabase_reader LOGIN PASSWORD '...' IN ROLE bw_metabase_ro;
--   ALTER ROLE metabase_reader SET default_transaction_read_only = on;
-- The role is cluster-wide: creating it needs CREATEROLE; without that, a superuser creates it first.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bw_metabase_ro') THEN
        BEGIN
            CREATE ROLE bw_metabase_ro NOLOGIN;
        EXCEPTION
            WHEN duplicate_object THEN NULL;  -- created meanwhile by a migration of another database
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role bw_metabase_ro is missing and this user may not create roles; '
                                'run "CREATE ROLE bw_metabase_ro NOLOGIN" as a superuser, then migrate again';
        END;
    END IF;
END $$;

-- Nothing on the domain schemas: the reporting views read them with their owner's rights.
REVOKE ALL ON SCHEMA core, sales, labor, access, etl FROM bw_metabase_ro;
REVOKE ALL ON ALL TABLES IN SCHEMA core, sales, labor, access, etl FROM bw_metabase_ro;

-- One row per generated store schema: the template checksum it was built from.
CREATE TABLE etl.reporting_schemas (
    schema_name        text PRIMARY KEY CHECK (schema_name ~ '^store_[0-9]{6}$'),
    store_id           text        NOT NULL UNIQUE REFERENCES core.stores (store_id),
    template_checksum  text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    refreshed_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reporting_schema_matches_store CHECK (schema_name = 'store_' || store_id)
);
