-- Each store's chosen forecast model and how it scored on the 12 held-out weeks (percent),
-- against seasonal naive: forecast accuracy is known from the first run, before any
-- forecast week has passed.
CREATE VIEW dq.forecast_backtest AS
SELECT m.store_id, s.store_name, m.model, m.family, m.backtest_mape, m.naive_mape,
       m.backtest_mape < m.naive_mape AS beats_naive, m.history_weeks, m.trained_at
FROM sales.forecast_models m
JOIN core.stores s ON s.store_id = m.store_id;

GRANT SELECT ON dq.forecast_backtest TO bw_metabase_ro;
