-- Rows that Dataverse refused during write-back: reported in the run summary, retried next run.
CREATE TABLE etl.writeback_failures (
    entity_set       text        NOT NULL,
    row_key          text        NOT NULL,
    payload          jsonb       NOT NULL,
    status           integer,
    error_code       text,
    error_message    text,
    attempts         integer     NOT NULL DEFAULT 1,
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    last_failed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_set, row_key)
);
