-- The batch loader stamps updated_at on every row it changes: the forecast tables need it too.
ALTER TABLE sales.forecast_weekly   ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE sales.forecast_daypart  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE sales.forecast_models   ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE labor.forecast_daypart  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
