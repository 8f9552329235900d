"""The stores DAG on the Microsoft transports, by configuration alone, under Airflow's servers:
files from the Graph double, the calendar from the Dataverse double, and no secret or token
in any task log that Airflow wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from include.config import REPO_ROOT
from include.devdb import free_port
from tests.airflow_servers import AirflowApi, admin_password, wait_for_dags
from tests.doubles.fixtures import CLIENT_SECRET, microsoft  # noqa: F401  (the `microsoft` fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.graph, pytest.mark.dataverse]

CALENDAR = "crf63_bwfiscalcalendars"


def _seed(microsoft, source: Path) -> int:  # noqa: F811
    """The sample's workbook into the Graph double and its fiscal calendar into the Dataverse double."""
    workbook = source / "onedrive" / "General" / "BI Import" / "BI Dimensions.xlsx"
    microsoft.graph.put_file("General/BI Import/BI Dimensions.xlsx", workbook.read_bytes())
    microsoft.dataverse.table(CALENDAR, "crf63_bwfiscalcalendarid", ("crf63_date",))
    lines = (source / "dataverse" / f"{CALENDAR}.jsonl").read_text().splitlines()
    for line in lines:
        microsoft.dataverse.put(CALENDAR, json.loads(line))
    return len(lines)


def test_stores_dag_on_microsoft_transports_leaks_no_secret(microsoft, pg_admin_url, airflow_db,  # noqa: F811
                                                            tmp_path):
    from include.sample.generate import generate_sample
    from tests.conftest import create_database, drop_database

    manifest = generate_sample(tmp_path / "source", stores=4, sales_years=1, labor_weeks=1)
    calendar_rows = _seed(microsoft, tmp_path / "source")
    name = f"bw_ms_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    port = free_port()
    logs = tmp_path / "logs"
    env = {**os.environ, "BW_WAREHOUSE_URL": url, "BW_DATA_DIR": str(tmp_path / "data"),
           "BW_UI_DIR": str(tmp_path / "ui"), "BW_LOCAL_SOURCE_DIR": str(tmp_path / "nowhere"),
           "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    assert env["BW_TRANSPORT"] == "microsoft" and "AIRFLOW_CONN_MSGRAPH_DEFAULT" in env
    localui = [sys.executable, "-m", "include.localui"]
    try:
        started = subprocess.run([*localui, "start", "--port", str(port)], cwd=REPO_ROOT, env=env,
                                 capture_output=True, text=True, timeout=300)
        assert started.returncode == 0, started.stdout + started.stderr
        api = AirflowApi(f"http://127.0.0.1:{port}", "admin", admin_password(env["AIRFLOW_HOME"]))
        wait_for_dags(api, {"stores", "sales"})
        api.pause("sales")
        api.unpause("stores")
        run_id = api.trigger("stores")
        assert api.wait_for_run("stores", run_id, timeout=300) == "success"
    finally:
        subprocess.run([*localui, "stop"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=120)
    try:
        with psycopg.connect(url) as conn:
            stores = conn.execute("SELECT count(*) FROM core.stores").fetchone()[0]
            calendar = conn.execute("SELECT count(*) FROM core.fiscal_calendar").fetchone()[0]
            sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM etl.load_batches").fetchall()}
    finally:
        drop_database(pg_admin_url, name)
    assert stores == manifest.stores and calendar == calendar_rows
    assert {"onedrive:stores", f"dataverse:{CALENDAR}"} <= sources
    assert microsoft.tokens, "the tasks acquired tokens from the authority double"

    task_logs = [p for p in logs.rglob("*") if p.is_file()]
    text = "\n".join(p.read_text(errors="replace") for p in task_logs)
    assert task_logs and "downloaded General/BI Import/BI Dimensions.xlsx" in text  # the hooks' own logging
    leaks = [s for s in (CLIENT_SECRET, *microsoft.tokens) if s in text]
    assert leaks == [], "a secret or token is in a task log"
