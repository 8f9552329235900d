"""
### Sales

Daily sales by channel and day part, the weekly forecast, and its write-back.

1. **Extract** Dataverse `crf63_saleschanneldailies` with change tracking (the local folder by default).
2. **Load** into `sales.channel_daily` (monthly partitions), invalid rows quarantined; the delta
   token advances only when the load commits.
3. **Forecast** 5 fiscal weeks per store (model chosen by a 12-week backtest), split by day of
   week and day part.
4. **Write back** to Dataverse `crf63_bwsalesforecasts` (never over a row marked overwrite).
5. **Metabase**: schema sync and cache refresh.

Runs when the stores DAG publishes `stores`; publishes `sales` once the forecast is stored,
which schedules the labor DAG (its labor forecast needs this sales forecast).
"""

from airflow.sdk import dag, task

from include.assets import SALES, STORES
from include.dag_defaults import DAG_KWARGS


@dag(schedule=[STORES], tags=["sales", "dataverse", "forecast", "metabase"], doc_md=__doc__, **DAG_KWARGS)
def sales():
    @task
    def extract_sales_dailies() -> dict:
        from include.pipelines import common, sales

        return sales.extract_sales(common.current_run())

    @task
    def load_sales_dailies(extracted: dict) -> dict:
        from include.pipelines import common, sales

        return sales.load_sales(common.current_run(), extracted)

    @task(outlets=[SALES])
    def forecast_sales() -> dict:
        from include.pipelines import common, sales

        return sales.forecast(common.current_run())

    @task
    def write_back_forecasts() -> dict:
        from include.pipelines import common, sales

        return sales.write_back(common.current_run())

    @task
    def refresh_metabase() -> dict:
        from include.pipelines import common, sales

        return sales.refresh_metabase(common.current_run())

    load_sales_dailies(extract_sales_dailies()) >> forecast_sales() >> write_back_forecasts() >> refresh_metabase()


sales()
