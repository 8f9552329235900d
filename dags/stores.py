"""
### Stores

Loads the store list and the fiscal calendar, then prepares reporting for each store.

1. **Stores sheet** (`BI Dimensions.xlsx`, sheet `Stores`, from OneDrive/SharePoint or the local folder)
   -> `core.stores`; store numbers normalised to 6 digits, bad rows quarantined.
2. **Fiscal calendar** (Dataverse `crf63_bwfiscalcalendars`, change tracking) -> `core.fiscal_calendar`.
3. **Reporting schemas**: one `store_NNNNNN` schema of `security_barrier` views per store.
4. **Metabase**: groups, collection and dashboards for new stores (a dry-run plan without a connection).

Publishes the `stores` asset, which schedules the sales DAG.
"""

from airflow.sdk import dag, task

from include.assets import STORES
from include.dag_defaults import DAG_KWARGS


@dag(schedule="0 5 * * *", tags=["stores", "onedrive", "dataverse", "metabase"], doc_md=__doc__, **DAG_KWARGS)
def stores():
    @task
    def download_dimensions() -> dict:
        from include.pipelines import common, stores

        return stores.download_dimensions(common.current_run())

    @task
    def extract_fiscal_calendar() -> dict:
        from include.pipelines import common, stores

        return stores.extract_calendar(common.current_run())

    @task
    def load_stores(extracted: dict) -> dict:
        from include.pipelines import common, stores

        return stores.load_stores(common.current_run(), extracted)

    @task
    def load_fiscal_calendar(extracted: dict) -> dict:
        from include.pipelines import common, stores

        return stores.load_calendar(common.current_run(), extracted)

    @task(outlets=[STORES])
    def refresh_reporting_schemas() -> dict:
        from include.pipelines import common, stores

        return stores.refresh_reporting(common.current_run())

    @task
    def provision_metabase() -> dict:
        from include.pipelines import common, stores

        return stores.provision_metabase(common.current_run())

    loaded = [load_stores(download_dimensions()), load_fiscal_calendar(extract_fiscal_calendar())]
    schemas = refresh_reporting_schemas()
    loaded >> schemas >> provision_metabase()


stores()
