-- Load audit, quarantine and incremental source state.
CREATE TABLE etl.load_batches (
    batch_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dag_id            text        NOT NULL,
    run_id            text        NOT NULL,
    source            text        NOT NULL,
    source_item       text        NOT NULL,
    source_etag       text,
    target_table      text        NOT NULL,
    rows_read         integer     NOT NULL,
    rows_loaded       integer     NOT NULL,
    rows_quarantined  integer     NOT NULL,
    rows_inserted     integer     NOT NULL DEFAULT 0,
    rows_updated      integer     NOT NULL DEFAULT 0,
    status            text        NOT NULL DEFAULT 'succeeded' CHECK (status IN ('succeeded', 'failed')),
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT load_batches_rows_add_up CHECK (rows_read = rows_loaded + rows_quarantined)
);
-- One successful load per source item version: a re-sent identical item is skipped.
CREATE UNIQUE INDEX load_batches_item_version
    ON etl.load_batches (source, source_item, source_etag) WHERE status = 'succeeded';
CREATE INDEX load_batches_run ON etl.load_batches (dag_id, run_id);

CREATE TABLE etl.quarantine (
    quarantine_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id        bigint      NOT NULL REFERENCES etl.load_batches (batch_id) ON DELETE CASCADE,
    source          text        NOT NULL,
    source_item     text        NOT NULL,
    source_row      integer,
    raw             jsonb       NOT NULL,
    reason          text        NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_batch ON etl.quarantine (batch_id);
CREATE INDEX quarantine_reason ON etl.quarantine (reason);

CREATE TABLE etl.source_state (
    source      text PRIMARY KEY,
    state       text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
