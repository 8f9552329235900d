-- Data-quality views for the admin-only Metabase dashboard, readable by bw_metabase_ro.
CREATE SCHEMA IF NOT EXISTS dq;

-- Load batches of the last 90 days, newest first.
CREATE VIEW dq.load_batches AS
SELECT batch_id, dag_id, run_id, source, source_item, target_table, status,
       rows_read, rows_loaded, rows_quarantined, rows_inserted, rows_updated,
       started_at, finished_at,
       round(extract(epoch FROM finished_at - started_at)::numeric, 1) AS duration_seconds
FROM etl.load_batches
WHERE started_at >= now() - interval '90 days'
ORDER BY started_at DESC, batch_id DESC;

-- Quarantined rows counted by source and reason.
CREATE VIEW dq.quarantine_by_reason AS
SELECT source, reason, count(*) AS rows, min(quarantined_at) AS first_seen, max(quarantined_at) AS last_seen
FROM etl.quarantine
GROUP BY source, reason;

-- Active stores without a labor file for a date inside the received window
-- (from the earliest to the latest business date any store sent a file for).
CREATE VIEW dq.missing_labor_files AS
WITH received_window AS (
    SELECT min(business_date) AS first_day, max(business_date) AS last_day FROM labor.files_received
)
SELECT s.store_id, d.business_date::date AS business_date
FROM received_window w
CROSS JOIN LATERAL generate_series(w.first_day, w.last_day, interval '1 day') AS d (business_date)
JOIN core.stores s ON s.active AND (s.opened_on IS NULL OR s.opened_on <= d.business_date::date)
WHERE NOT EXISTS (
    SELECT 1 FROM labor.files_received f
    WHERE f.store_id = s.store_id AND f.business_date = d.business_date::date
);

-- Weekly forecast against actual sales for complete past weeks where both exist.
-- abs_pct_error is in percent: 100 * |forecast - actual| / actual (NULL when actual is 0).
CREATE VIEW dq.forecast_accuracy AS
SELECT f.store_id, s.store_name, f.fiscal_week_label, w.week_start, f.model,
       f.forecast_sales, a.net_sales AS actual_sales,
       f.forecast_sales - a.net_sales AS error,
       round(100 * abs(f.forecast_sales - a.net_sales) / nullif(a.net_sales, 0), 2) AS abs_pct_error
FROM sales.forecast_weekly f
JOIN sales.weekly_fiscal a ON a.store_id = f.store_id AND a.fiscal_week_label = f.fiscal_week_label
JOIN core.fiscal_weeks w ON w.fiscal_week_label = f.fiscal_week_label
JOIN core.stores s ON s.store_id = f.store_id
WHERE w.week_end < current_date;

GRANT USAGE ON SCHEMA dq TO bw_metabase_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA dq TO bw_metabase_ro;
ALTER DEFAULT PRIVILEGES IN SCHEMA dq GRANT SELECT ON TABLES TO bw_metabase_ro;
