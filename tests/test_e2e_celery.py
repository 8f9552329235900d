"""Scaling out: the stores DAG under CeleryExecutor with a real Redis broker and two workers.

The tasks must run on the Celery workers, and the warehouse must end up exactly as after
the same DAG run with the LocalExecutor.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from include.config import REPO_ROOT
from include.devdb import free_port
from tests.airflow_servers import AirflowApi, admin_password, wait_for_dags

pytestmark = pytest.mark.e2e

COMPARED = {
    "core.stores": "SELECT store_id, store_name, location, opened_on, active FROM core.stores ORDER BY 1",
    "core.fiscal_calendar": "SELECT calendar_date, fiscal_year, fiscal_week, fiscal_week_label "
                            "FROM core.fiscal_calendar ORDER BY 1",
    "etl.quarantine": "SELECT source, source_item, source_row, raw, reason FROM etl.quarantine ORDER BY 1, 2, 3",
    "etl.load_batches": "SELECT source, source_item, source_etag, rows_read, rows_loaded, rows_quarantined "
                        "FROM etl.load_batches ORDER BY 1, 2",
}


def _contents(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in COMPARED.items()}


def _redis_url() -> tuple[str, subprocess.Popen | None]:
    """The machine's Redis on 6379 when it answers, else a private redis-server on a free port."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return "redis://127.0.0.1:6379/7", None
    except OSError:
        pass
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis on 127.0.0.1:6379 and no redis-server binary")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    return f"redis://127.0.0.1:{port}/0", proc


@pytest.fixture(scope="module")
def sample_source(tmp_path_factory) -> Path:
    from include.sample.generate import generate_sample

    folder = tmp_path_factory.mktemp("celery-source")
    generate_sample(folder, stores=5, sales_years=1, labor_weeks=1)
    return folder


def _env(url: str, source: Path, data: Path) -> dict[str, str]:
    env = {**os.environ, "BW_WAREHOUSE_URL": url, "BW_LOCAL_SOURCE_DIR": str(source), "BW_DATA_DIR": str(data)}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    return env


def _run_stores(env: dict[str, str], components: tuple[str, ...], port: int) -> list[dict]:
    """Start the servers with ``env``, run the stores DAG once through the REST API, stop them."""
    script = (
        "import os\n"
        "from include.localui import start\n"
        f"start({port}, extra_env={{k: v for k, v in os.environ.items() if k.startswith('AIRFLOW__')}},"
        f" components={components!r})\n"
    )
    try:
        subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, check=True, timeout=300)
        api = AirflowApi(f"http://127.0.0.1:{port}", "admin", admin_password(env["AIRFLOW_HOME"]))
        wait_for_dags(api, {"stores", "sales"})
        api.pause("sales")  # only the stores DAG runs here, not what its asset schedules
        api.unpause("stores")
        run_id = api.trigger("stores")
        assert api.wait_for_run("stores", run_id, timeout=300) == "success"
        return api.get(f"/api/v2/dags/stores/dagRuns/{run_id}/taskInstances")["task_instances"]
    finally:
        subprocess.run([sys.executable, "-m", "include.localui", "stop"], cwd=REPO_ROOT, env=env,
                       capture_output=True, timeout=120)


def test_stores_dag_on_two_celery_workers_matches_local_executor(
    sample_source, pg_admin_url, airflow_db, tmp_path_factory
):
    from tests.conftest import _sqlalchemy_url, create_database, drop_database

    celery_db = f"bw_celery_{uuid.uuid4().hex[:8]}"
    local_db = f"bw_local_{uuid.uuid4().hex[:8]}"
    celery_url = create_database(pg_admin_url, celery_db)
    local_url = create_database(pg_admin_url, local_db)
    redis_url, redis_proc = _redis_url()
    try:
        local_env = _env(local_url, sample_source, tmp_path_factory.mktemp("local-data"))
        local_env.update({"BW_UI_DIR": str(tmp_path_factory.mktemp("local-ui")),
                          "AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})
        _run_stores(local_env, ("api-server", "scheduler", "dag-processor"), free_port())

        ui_dir = tmp_path_factory.mktemp("celery-ui")
        env = _env(celery_url, sample_source, tmp_path_factory.mktemp("celery-data"))
        env.update({
            "BW_UI_DIR": str(ui_dir),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + _sqlalchemy_url(pg_admin_url, airflow_db.rsplit("/", 1)[1]),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # the workers log each task they receive
        })
        tasks = _run_stores(env, ("api-server", "scheduler", "dag-processor",
                                  "celery worker --skip-serve-logs -H w1@%h",
                                  "celery worker --skip-serve-logs -H w2@%h"), free_port())
        received = {}
        for worker in ("w1", "w2"):
            log = (ui_dir / f"celery-worker---skip-serve-logs--H-{worker}.log").read_text(errors="replace")
            received[worker] = len(re.findall(r"Task \S*execute_workload\S* received", log))
        assert sum(received.values()) == len(tasks), received
        assert all(received.values()), f"both workers take tasks: {received}"

        celery, local = _contents(celery_url), _contents(local_url)
        assert celery["core.stores"], "the Celery run loaded stores"
        assert celery == local
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
        drop_database(pg_admin_url, celery_db)
        drop_database(pg_admin_url, local_db)
