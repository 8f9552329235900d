"""End to end: ``python -m include.localrun run`` (what ``make run`` does) against a real PostgreSQL.

The sample data is generated once; the run executes the four domain DAGs under Airflow,
and a second run must leave every table exactly as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from include.config import REPO_ROOT

pytestmark = pytest.mark.e2e

#: Where each source's rows are audited: quarantine.source per manifest source.
QUARANTINE_SOURCE = {
    "stores": "onedrive:stores",
    "access": "sheet:access",
    "sales": "dataverse:crf63_saleschanneldailies",
    "labor": "drive:Labor",
}


def snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every table of the domain and etl schemas."""
    out = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema IN ('core', 'sales', 'labor', 'access', 'etl') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            ident = sql.Identifier(schema, table)
            row = conn.execute(
                sql.SQL("SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {} t")
                .format(ident)
            ).fetchone()
            out[f"{schema}.{table}"] = (row[0], row[1])
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from include.sample.generate import generate_sample

    folder = tmp_path_factory.mktemp("source")
    manifest = generate_sample(folder, stores=6, sales_years=3, labor_weeks=2)
    return folder, manifest


@pytest.fixture(scope="module")
def local_runs(sample, pg_admin_url, airflow_db, tmp_path_factory):
    """Two complete local runs on one fresh warehouse; the snapshots after each."""
    import uuid

    from tests.conftest import create_database, drop_database

    folder, manifest = sample
    name = f"bw_e2e_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    data_dir = tmp_path_factory.mktemp("data")
    env = {
        **os.environ,
        "BW_WAREHOUSE_URL": url,
        "BW_LOCAL_SOURCE_DIR": str(folder),
        "BW_DATA_DIR": str(data_dir),
        "BW_TRANSPORT": "local",
    }
    for key in [k for k in env if k.startswith(("AIRFLOW_CONN_METABASE", "AIRFLOW_CONN_SMTP"))]:
        env.pop(key)
    outputs, snapshots = [], []
    try:
        for _ in range(2):
            proc = subprocess.run([sys.executable, "-m", "include.localrun", "run"], cwd=REPO_ROOT, env=env,
                                  capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
            outputs.append(proc.stdout)
            snapshots.append(snapshot(url))
        yield url, manifest, outputs, snapshots, data_dir
    finally:
        drop_database(pg_admin_url, name)


def test_summary_printed(local_runs):
    _, _, outputs, _, _ = local_runs
    out = outputs[0]
    for line in ("=== Summary ===", "core.stores", "sales.channel_daily", "labor.hours_daypart", "access.users",
                 "quarantined rows", "forecasts:", "Metabase", "warehouse: postgresql://"):
        assert line in out, line


def test_second_run_changes_no_table(local_runs):
    _, _, _, snapshots, _ = local_runs
    first, second = snapshots
    changed = {t: (first[t], second.get(t)) for t in first if first[t] != second.get(t)}
    assert changed == {}


def test_tables_hold_the_sample(local_runs):
    url, manifest, _, snapshots, _ = local_runs
    rows = {t: n for t, (n, _) in snapshots[0].items()}
    assert rows["core.stores"] == manifest.stores
    assert rows["access.users"] == manifest.users
    assert rows["access.user_store_access"] > 0
    assert rows["labor.hours_daypart"] > 0
    assert rows["core.fiscal_calendar"] == manifest.calendar_rows
    with psycopg.connect(url) as conn:
        sales_rows = conn.execute("SELECT count(*) FROM sales.channel_daily").fetchone()[0]
    assert sales_rows == manifest.sales_valid_rows


def test_every_row_is_loaded_or_quarantined(local_runs):
    url, *_ = local_runs
    with psycopg.connect(url) as conn:
        bad = conn.execute(
            "SELECT count(*) FROM etl.load_batches WHERE rows_read <> rows_loaded + rows_quarantined"
        ).fetchone()[0]
        per_batch = conn.execute(
            "SELECT b.batch_id, b.rows_quarantined, count(q.*) FROM etl.load_batches b "
            "LEFT JOIN etl.quarantine q USING (batch_id) GROUP BY 1, 2 HAVING b.rows_quarantined <> count(q.*)"
        ).fetchall()
    assert bad == 0 and per_batch == []


def test_quarantine_holds_exactly_the_generated_bad_records(local_runs):
    url, manifest, *_ = local_runs
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT source, source_item, source_row, reason FROM etl.quarantine").fetchall()
    actual = sorted((src, Path(item).name, row) for src, item, row, _ in rows)
    expected = sorted(
        (QUARANTINE_SOURCE[b.source], "crf63_saleschanneldailies" if b.source == "sales" else Path(b.item).name,
         b.row)
        for b in manifest.bad_records
    )
    assert actual == expected
    assert all(reason for *_, reason in rows)


def test_every_active_store_has_five_weeks_of_forecasts(local_runs):
    url, manifest, *_ = local_runs
    with psycopg.connect(url) as conn:
        weekly = dict(conn.execute(
            "SELECT store_id, count(*) FILTER (WHERE forecast_sales > 0) FROM sales.forecast_weekly GROUP BY 1"
        ).fetchall())
        labor = dict(conn.execute(
            "SELECT store_id, count(DISTINCT business_date) FROM labor.forecast_daypart "
            "WHERE hours_needed > 0 GROUP BY 1"
        ).fetchall())
    for store in manifest.active_stores:
        assert weekly.get(store, 0) >= 5, store
        assert labor.get(store, 0) >= 35, store


def test_missing_labor_files_are_reported(local_runs):
    url, manifest, *_ = local_runs
    from include.pipelines.labor import missing_labor_files

    with psycopg.connect(url) as conn:
        dates = [r[0] for r in conn.execute("SELECT DISTINCT business_date FROM labor.files_received").fetchall()]
        missing = {(m["store_id"], m["business_date"]) for m in missing_labor_files(conn, dates)}
    assert {tuple(m) for m in manifest.missing_labor_files} <= missing


def test_metabase_plan_is_a_dry_run(local_runs):
    *_, data_dir = local_runs
    plans = sorted((data_dir / "metabase").glob("plan-*.json"))
    assert plans, "each Metabase task records its plan"
    import json

    assert all(json.loads(p.read_text()).get("dry_run") for p in plans)

