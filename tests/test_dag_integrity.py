"""Every DAG imports cleanly, is configured as the project requires, and parses cheaply."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from include.config import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"
DOMAIN_DAGS = ("stores", "sales", "labor", "access")
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_domain_dags_present(dagbag):
    assert set(DOMAIN_DAGS) <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", DOMAIN_DAGS)
def test_domain_dag_settings(dagbag, dag_id):
    dag = dagbag.dags.get(dag_id)
    assert dag.tags and dag_id in dag.tags
    assert dag.doc_md and dag.doc_md.strip().startswith("###")
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.on_success_callback, "a run summary is sent on success"
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff, task.task_id
        assert task.retry_delay >= timedelta(minutes=1), task.task_id
        assert task.on_failure_callback, f"{task.task_id} has no failure notifier"


@pytest.mark.parametrize("dag_id", DOMAIN_DAGS)
def test_each_dag_ends_with_a_metabase_task(dagbag, dag_id):
    dag = dagbag.dags.get(dag_id)
    leaves = {t.task_id for t in dag.tasks if not t.downstream_list}
    assert any("metabase" in task_id for task_id in leaves), leaves


def test_schedules_chain_through_assets(dagbag):
    from airflow.sdk import Asset

    def assets(dag) -> set[str]:
        condition = getattr(dag.timetable, "asset_condition", None)
        return {asset.uri for asset in getattr(condition, "objects", ())}

    stores, sales, labor = (dagbag.dags.get(d) for d in ("stores", "sales", "labor"))
    produced = {o.uri for t in stores.tasks for o in t.outlets if isinstance(o, Asset)}
    assert assets(sales) and assets(sales) <= produced
    produced_by_sales = {o.uri for t in sales.tasks for o in t.outlets if isinstance(o, Asset)}
    assert assets(labor) and assets(labor) <= produced_by_sales
    assert stores.schedule == "0 5 * * *"
    assert dagbag.dags.get("access").schedule == "@hourly"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_cheaply(path: Path):
    """Each DAG file imports in under 0.3 s beyond airflow.sdk itself, in a fresh interpreter."""
    probe = (
        "import time, runpy, sys\n"
        "import airflow.sdk\n"
        "start = time.perf_counter()\n"
        f"runpy.run_path({str(path)!r})\n"
        "print(time.perf_counter() - start)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    seconds = float(out.stdout.strip().splitlines()[-1])
    assert seconds < 0.3, f"{path.name} takes {seconds:.2f} s to parse beyond airflow.sdk"
