-- Daily sales by channel and day part, partitioned by month; forecasts.
CREATE TABLE sales.channel_daily (
    store_id       text          NOT NULL,
    business_date  date          NOT NULL,
    channel        text          NOT NULL,
    daypart        text          NOT NULL,
    net_sales      numeric(14,2) NOT NULL,
    orders         integer       NOT NULL,
    discounts      numeric(14,2) NOT NULL DEFAULT 0,
    ly_net_sales   numeric(14,2),
    ly_orders      integer,
    source_id      text,
    source_modified timestamptz,
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, business_date, channel, daypart)
) PARTITION BY RANGE (business_date);
CREATE INDEX channel_daily_source_id ON sales.channel_daily (source_id);

-- Creates the monthly partitions covering [first_day, last_day]; returns how many it created.
CREATE FUNCTION sales.ensure_month_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', first_day)::date;
    created integer := 0;
    part_name text;
BEGIN
    WHILE month_start <= last_day LOOP
        part_name := format('channel_daily_%s', to_char(month_start, 'YYYYMM'));
        IF to_regclass(format('sales.%I', part_name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE sales.%I PARTITION OF sales.channel_daily FOR VALUES FROM (%L) TO (%L)',
                part_name, month_start, (month_start + interval '1 month')::date);
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- Weekly fiscal aggregates for reporting.
CREATE VIEW sales.weekly_fiscal AS
SELECT d.store_id, c.fiscal_week_label, min(c.calendar_date) AS week_start,
       sum(d.net_sales) AS net_sales, sum(d.orders) AS orders, sum(d.discounts) AS discounts,
       sum(d.ly_net_sales) AS ly_net_sales, sum(d.ly_orders) AS ly_orders,
       count(DISTINCT d.business_date) AS days_with_sales
FROM sales.channel_daily d
JOIN core.fiscal_calendar c ON c.calendar_date = d.business_date
GROUP BY d.store_id, c.fiscal_week_label;

CREATE TABLE sales.forecast_weekly (
    store_id           text          NOT NULL,
    fiscal_week_label  text          NOT NULL,
    week_start         date          NOT NULL,
    forecast_sales     numeric(14,2) NOT NULL,
    model              text          NOT NULL,
    backtest_mape      numeric(8,4),
    generated_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, fiscal_week_label)
);

-- day_of_week: 1 = Monday ... 7 = Sunday (ISO).
CREATE TABLE sales.forecast_daypart (
    store_id           text          NOT NULL,
    fiscal_week_label  text          NOT NULL,
    day_of_week        smallint      NOT NULL CHECK (day_of_week BETWEEN 1 AND 7),
    daypart            text          NOT NULL,
    forecast_sales     numeric(14,2) NOT NULL,
    business_date      date,
    generated_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, fiscal_week_label, day_of_week, daypart)
);

-- The model chosen for each store and how it scored on the held-out weeks.
CREATE TABLE sales.forecast_models (
    store_id        text         PRIMARY KEY,
    model           text         NOT NULL,
    family          text         NOT NULL,
    backtest_mape   numeric(8,4),
    naive_mape      numeric(8,4),
    history_weeks   integer      NOT NULL,
    candidates      jsonb        NOT NULL DEFAULT '{}'::jsonb,
    trained_at      timestamptz  NOT NULL DEFAULT now()
);
