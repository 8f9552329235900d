"""Gradual rollout: with ``BW_STORE_ALLOWLIST`` every DAG touches only the listed stores."""

from __future__ import annotations

import json

import psycopg
import pytest

from include.config import REPO_ROOT

pytestmark = pytest.mark.e2e

STORE_TABLES = (
    "core.stores", "sales.channel_daily", "sales.forecast_weekly", "sales.forecast_daypart",
    "sales.forecast_models", "labor.hours_daypart", "labor.files_received", "labor.forecast_daypart",
    "access.user_store_access",
)


@pytest.fixture(scope="module")
def allowlisted_run(pg_admin_url, airflow_db, tmp_path_factory):
    import uuid

    from airflow.dag_processing.dagbag import DagBag

    from include.sample.generate import generate_sample
    from tests.conftest import create_database, drop_database

    source = tmp_path_factory.mktemp("allow-source")
    manifest = generate_sample(source, stores=6, sales_years=1, labor_weeks=1)
    allow = sorted(manifest.active_stores)[:2]
    name = f"bw_allow_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    patch = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("allow-data")
    patch.setenv("BW_WAREHOUSE_URL", url)
    patch.setenv("BW_LOCAL_SOURCE_DIR", str(source))
    patch.setenv("BW_DATA_DIR", str(data))
    patch.setenv("BW_STORE_ALLOWLIST", ",".join(s.lstrip("0") for s in allow))
    try:
        from include.warehouse.migrations import apply_migrations

        with psycopg.connect(url) as conn:
            apply_migrations(conn)
        bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
        runs = {dag_id: bag.dags[dag_id].test() for dag_id in ("stores", "sales", "labor", "access")}
        yield url, set(allow), manifest, runs, source, data
    finally:
        patch.undo()
        drop_database(pg_admin_url, name)


def test_every_dag_succeeds(allowlisted_run):
    runs = allowlisted_run[3]
    assert {dag_id: str(run.state) for dag_id, run in runs.items()} == dict.fromkeys(
        ("stores", "sales", "labor", "access"), "success")


@pytest.mark.parametrize("table", STORE_TABLES)
def test_tables_hold_only_listed_stores(allowlisted_run, table):
    url, allow, *_ = allowlisted_run
    schema, name = table.split(".")
    with psycopg.connect(url) as conn:
        stores = {r[0] for r in conn.execute(
            psycopg.sql.SQL("SELECT DISTINCT store_id FROM {}").format(psycopg.sql.Identifier(schema, name))
        ).fetchall()}
    assert stores, f"{table} is empty"
    assert stores <= allow


def test_write_back_and_metabase_only_for_listed_stores(allowlisted_run):
    _, allow, _, _, source, data = allowlisted_run
    forecasts = [json.loads(line) for line in (source / "dataverse" / "crf63_bwsalesforecasts.jsonl").open()]
    assert forecasts and {f["crf63_forecastedstore"] for f in forecasts} <= allow
    labor = [json.loads(line) for line in (source / "dataverse" / "crf63_labortimes.jsonl").open()]
    assert labor and {r["crf63_storenumber"] for r in labor} <= allow
    plan = json.loads((data / "metabase" / "plan-provision.json").read_text())
    groups = [line for line in plan["plan"] if line.startswith("create group: Store ")]
    assert groups and {line.split()[3] for line in groups} == allow


def test_the_summary_says_how_many_stores_were_skipped(allowlisted_run):
    from include.pipelines.common import skipped_summary

    _, allow, manifest, runs, *_ = allowlisted_run
    others = manifest.stores - len(allow)
    note = skipped_summary("stores", runs["stores"].run_id)
    assert note == (f"BW_STORE_ALLOWLIST limits this run to {len(allow)} stores; "
                    f"skipped {others} other stores (store rows {others})")
    assert "sales rows" in skipped_summary("sales", runs["sales"].run_id)
    assert "labor files" in skipped_summary("labor", runs["labor"].run_id)
