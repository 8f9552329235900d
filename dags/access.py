"""
### Access

Who sees which store in Metabase.

1. **Extract** users and their store grants from the `Access` sheet of `BI Dimensions.xlsx`
   or a Dataverse table (`BW_ACCESS_SOURCE`).
2. **Load** `access.users` and `access.user_store_access`: grants missing from the source are
   revoked, users without grants deactivated, every change logged; bad rows quarantined.
3. **Sync** Metabase users, group memberships and permission graphs (only the difference;
   a dry-run plan without a Metabase connection).
4. **Audit** Metabase for drift (grants that should not exist, or missing ones) and repair it.
"""

from airflow.sdk import dag, task

from include.dag_defaults import DAG_KWARGS


@dag(schedule="@hourly", tags=["access", "metabase"], doc_md=__doc__, **DAG_KWARGS)
def access():
    @task
    def extract_access() -> dict:
        from include.pipelines import access, common

        return access.extract_access(common.current_run())

    @task
    def load_access(extracted: dict) -> dict:
        from include.pipelines import access, common

        return access.load_access(common.current_run(), extracted)

    @task
    def sync_metabase_permissions() -> dict:
        from include.pipelines import access, common

        return access.sync_metabase(common.current_run())

    @task
    def audit_metabase_permissions() -> dict:
        from include.pipelines import access, common

        return access.audit_metabase(common.current_run())

    load_access(extract_access()) >> sync_metabase_permissions() >> audit_metabase_permissions()


access()
