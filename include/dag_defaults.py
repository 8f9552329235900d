"""Settings every domain DAG shares: retries with backoff, email on failure, one run at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from include.notify.callbacks import failure_notifier, run_summary_callback

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": failure_notifier(),
}

#: Keyword arguments for ``@dag`` shared by the domain DAGs.
DAG_KWARGS = {
    "start_date": datetime(2026, 1, 1),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
    "on_success_callback": run_summary_callback,
    "on_failure_callback": run_summary_callback,
}
