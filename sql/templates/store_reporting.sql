-- Reporting views of one store, generated into schema store_NNNNNN by
-- include/warehouse/reporting.py (refresh_reporting_schemas).
--
-- Placeholders, filled with psycopg.sql (never Python string formatting):
--   {schema}    the store's schema, as sql.Identifier
--   {store_id}  the store id, as sql.Literal
-- Any other brace must be doubled. Every view is a security_barrier view filtered to the
-- store: it runs with its owner's rights, so readers need no rights on the base tables,
-- and a reader's own conditions (even a leaky function) only see this store's rows.
-- View names and columns are a contract of the Metabase dashboard templates: add, never rename.

CREATE VIEW {schema}.daily_sales WITH (security_barrier) AS
SELECT business_date, channel, daypart, net_sales, orders, discounts, ly_net_sales, ly_orders
FROM sales.channel_daily
WHERE store_id = {store_id};

CREATE VIEW {schema}.weekly_sales WITH (security_barrier) AS
SELECT fiscal_week_label, week_start, net_sales, orders, ly_net_sales, ly_orders, discounts, days_with_sales
FROM sales.weekly_fiscal
WHERE store_id = {store_id};

CREATE VIEW {schema}.sales_forecast_weekly WITH (security_barrier) AS
SELECT fiscal_week_label, week_start, forecast_sales, model, backtest_mape, generated_at
FROM sales.forecast_weekly
WHERE store_id = {store_id};

-- business_date falls back to the calendar date of that fiscal week and ISO day of week.
CREATE VIEW {schema}.sales_forecast_daypart WITH (security_barrier) AS
SELECT f.fiscal_week_label, coalesce(f.business_date, c.calendar_date) AS business_date,
       f.day_of_week, f.daypart, f.forecast_sales, f.generated_at
FROM sales.forecast_daypart f
LEFT JOIN core.fiscal_calendar c
       ON c.fiscal_week_label = f.fiscal_week_label AND extract(isodow FROM c.calendar_date) = f.day_of_week
WHERE f.store_id = {store_id};

CREATE VIEW {schema}.labor_hours WITH (security_barrier) AS
SELECT h.business_date, h.daypart, h.employee_id,
       coalesce(h.employee_name, nullif(concat_ws(' ', e.first_name, e.last_name), '')) AS employee_name,
       h.hours
FROM labor.hours_daypart h
LEFT JOIN labor.employees e ON e.store_id = h.store_id AND e.employee_id = h.employee_id
WHERE h.store_id = {store_id};

-- gap_hours = hours_actual - hours_needed (positive: more hours worked than needed);
-- NULL when either side is missing (a future day, or a day without a forecast).
CREATE VIEW {schema}.labor_forecast_vs_actual WITH (security_barrier) AS
WITH forecast AS (
    SELECT business_date, daypart, hours_needed, forecast_sales
    FROM labor.forecast_daypart
    WHERE store_id = {store_id}
), actual AS (
    SELECT business_date, daypart, sum(hours) AS hours_actual
    FROM labor.hours_daypart
    WHERE store_id = {store_id}
    GROUP BY business_date, daypart
)
SELECT coalesce(f.business_date, a.business_date) AS business_date,
       coalesce(f.daypart, a.daypart) AS daypart,
       f.hours_needed, a.hours_actual, a.hours_actual - f.hours_needed AS gap_hours, f.forecast_sales
FROM forecast f
FULL OUTER JOIN actual a ON a.business_date = f.business_date AND a.daypart = f.daypart;
