"""
### Maintenance: backups, restore checks, retention, health

Every night:

1. **back_up**: `pg_dump` (custom format) of each database in `BW_BACKUP_DATABASES`
   (default `warehouse,metabase`) into `BW_BACKUP_DIR/<database>/`, with a manifest of row
   counts taken in the dump's own snapshot.
2. **verify_restore**: restores each dump into a scratch database, compares row counts per
   table with the manifest, then drops the scratch database.
3. **prune**: only after a good restore, keeps the newest dump of each of the last
   `BW_BACKUP_KEEP_DAILY` days (7) and of the last `BW_BACKUP_KEEP_WEEKLY` Sundays (4).
4. **health**: warehouse reachable with no pending migrations; Graph and Dataverse tokens and
   Metabase's `/api/health` when their connections exist. A failure names the failing check.

Failures are emailed by the failure notifier. Operator guide: `docs/operations.md`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from include.maintenance import tasks


def _default_args() -> dict:
    args: dict = {
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    }
    try:
        from include.notify.callbacks import failure_notifier
    except ImportError:  # email support not installed: failures still show in the UI
        return args
    return {**args, "on_failure_callback": failure_notifier()}


@dag(
    dag_id="maintenance",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["maintenance", "ops"],
    doc_md=__doc__,
    default_args=_default_args(),
)
def maintenance():
    @task
    def databases() -> list[str]:
        return tasks.databases_to_back_up()

    @task(execution_timeout=timedelta(hours=2))
    def back_up(database: str) -> dict:
        return tasks.back_up(database)

    @task(execution_timeout=timedelta(hours=2))
    def verify_restore(dump: dict) -> dict:
        return tasks.verify_restore(dump)

    @task
    def prune(dump: dict) -> dict:
        return tasks.prune(dump)

    @task(retries=1, execution_timeout=timedelta(minutes=10))
    def health() -> list[str]:
        return tasks.health()

    prune.expand(dump=verify_restore.expand(dump=back_up.expand(database=databases())))
    health()


maintenance()
