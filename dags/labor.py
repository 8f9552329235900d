"""
### Labor

Hours worked by employee, business day and day part; the labor forecast; write-back.

1. **Extract** the labor folder's new zips (Graph delta query, or the local folder), newest file
   per store and day.
2. **Load** timecards split across the six labor day parts into `labor.hours_daypart` (one
   transaction per file; invalid punches quarantined); stores whose file is missing are reported.
3. **Forecast** hours needed per day part from the sales forecast and each store's sales per labor hour.
4. **Write back** hours to Dataverse `crf63_labortimes`.
5. **Metabase**: schema sync and cache refresh.

Runs when the sales DAG publishes `sales`; publishes `labor`.
"""

from airflow.sdk import dag, task

from include.assets import LABOR, SALES
from include.dag_defaults import DAG_KWARGS


@dag(schedule=[SALES], tags=["labor", "onedrive", "forecast", "metabase"], doc_md=__doc__, **DAG_KWARGS)
def labor():
    @task
    def extract_labor_files() -> dict:
        from include.pipelines import common, labor

        return labor.extract_labor(common.current_run())

    @task(outlets=[LABOR])
    def load_labor_hours(extracted: dict) -> dict:
        from include.pipelines import common, labor

        return labor.load_labor(common.current_run(), extracted)

    @task
    def forecast_labor() -> dict:
        from include.pipelines import common, labor

        return labor.forecast(common.current_run())

    @task
    def write_back_labor_hours() -> dict:
        from include.pipelines import common, labor

        return labor.write_back(common.current_run())

    @task
    def refresh_metabase() -> dict:
        from include.pipelines import common, labor

        return labor.refresh_metabase(common.current_run())

    loaded = load_labor_hours(extract_labor_files())
    loaded >> forecast_labor() >> refresh_metabase()
    loaded >> write_back_labor_hours()


labor()
