-- Stores and the fiscal calendar.
CREATE TABLE core.stores (
    store_id    text PRIMARY KEY CHECK (store_id ~ '^[0-9]{6}$'),
    store_name  text        NOT NULL,
    location    text,
    opened_on   date,
    active      boolean     NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.fiscal_calendar (
    calendar_date      date PRIMARY KEY,
    fiscal_year        integer NOT NULL,
    fiscal_week        integer NOT NULL CHECK (fiscal_week BETWEEN 1 AND 53),
    fiscal_week_label  text    NOT NULL CHECK (fiscal_week_label ~ '^Y[0-9]{4}W[0-9]{2}$'),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fiscal_calendar_label ON core.fiscal_calendar (fiscal_week_label);

-- One row per fiscal week: its first and last day.
CREATE VIEW core.fiscal_weeks AS
SELECT fiscal_week_label, fiscal_year, fiscal_week,
       min(calendar_date) AS week_start, max(calendar_date) AS week_end
FROM core.fiscal_calendar
GROUP BY fiscal_week_label, fiscal_year, fiscal_week;
