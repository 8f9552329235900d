"""The batch loader: counts add up, re-loads change nothing, a killed load leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date

import pandas as pd
import psycopg
import pytest

from include.config import REPO_ROOT
from include.pipelines.sales import CHANNEL_DAILY
from include.warehouse.loader import BatchInfo, Target, empty_rejects, load_batch


def _frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({
        "store_id": ["000126", "000127", "001089"] * (n // 3),
        "business_date": [date(2026, 1, 5 + i // 3) for i in range(n)],
        "channel": "carryout",
        "daypart": "Lunch",
        "net_sales": [100.0 + i for i in range(n)],
        "orders": [10 + i for i in range(n)],
    })


def _rejects() -> pd.DataFrame:
    return pd.DataFrame({
        "source_row": [4, 9],
        "raw": [{"crf63_storenumber": "ABC12"}, {"crf63_tynetsalesusd": "-5"}],
        "reason": ["invalid store number: 'ABC12' is not 1-6 digits", "negative net sales: -5"],
    })


def _info(etag: str) -> BatchInfo:
    return BatchInfo("sales", "manual__1", "dataverse:crf63_saleschanneldailies", "crf63_saleschanneldailies", etag)


def _snapshot(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT store_id, business_date, channel, daypart, net_sales, orders, updated_at "
        "FROM sales.channel_daily ORDER BY 1, 2, 3, 4"
    ).fetchall()


def test_rows_read_equal_loaded_plus_quarantined(warehouse):
    result = load_batch(warehouse, CHANNEL_DAILY, _frame(), _rejects(), _info("e1"))
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (8, 6, 2)
    batch = warehouse.execute(
        "SELECT rows_read, rows_loaded, rows_quarantined, rows_inserted, rows_updated, target_table "
        "FROM etl.load_batches"
    ).fetchall()
    assert batch == [(8, 6, 2, 6, 0, "sales.channel_daily")]
    quarantined = warehouse.execute(
        "SELECT source_row, raw->>'crf63_storenumber', reason FROM etl.quarantine ORDER BY source_row"
    ).fetchall()
    assert quarantined[0] == (4, "ABC12", "invalid store number: 'ABC12' is not 1-6 digits")
    assert len(quarantined) == 2


def test_reload_of_unchanged_rows_updates_nothing(warehouse):
    load_batch(warehouse, CHANNEL_DAILY, _frame(), empty_rejects(), _info("e1"))
    before = _snapshot(warehouse)
    again = load_batch(warehouse, CHANNEL_DAILY, _frame(), empty_rejects(), _info("e2"))
    assert (again.rows_inserted, again.rows_updated) == (0, 0)
    assert _snapshot(warehouse) == before


def test_changed_row_is_the_only_one_updated(warehouse):
    load_batch(warehouse, CHANNEL_DAILY, _frame(), empty_rejects(), _info("e1"))
    before = {r[:4]: r for r in _snapshot(warehouse)}
    changed = _frame()
    changed.loc[2, "net_sales"] = 999.5
    result = load_batch(warehouse, CHANNEL_DAILY, changed, empty_rejects(), _info("e2"))
    assert (result.rows_inserted, result.rows_updated) == (0, 1)
    after = {r[:4]: r for r in _snapshot(warehouse)}
    differing = [k for k in after if after[k] != before[k]]
    assert len(differing) == 1 and float(after[differing[0]][4]) == 999.5


def test_same_item_version_is_skipped(warehouse):
    first = load_batch(warehouse, CHANNEL_DAILY, _frame(), _rejects(), _info("same"))
    second = load_batch(warehouse, CHANNEL_DAILY, _frame(), _rejects(), _info("same"))
    assert second.skipped and second.batch_id == first.batch_id
    assert warehouse.execute("SELECT count(*) FROM etl.quarantine").fetchone()[0] == 2
    assert warehouse.execute("SELECT count(*) FROM etl.load_batches").fetchone()[0] == 1


def test_duplicate_keys_are_refused_with_a_clear_error(warehouse):
    frame = pd.concat([_frame(), _frame().head(1)], ignore_index=True)
    with pytest.raises(ValueError, match=r"1 rows share a key of sales\.channel_daily"):
        load_batch(warehouse, CHANNEL_DAILY, frame, empty_rejects(), _info("dup"))
    assert warehouse.execute("SELECT count(*) FROM etl.load_batches").fetchone()[0] == 0


def test_partitions_are_created_by_month(warehouse):
    frame = _frame()
    frame.loc[0, "business_date"] = date(2025, 12, 31)
    load_batch(warehouse, CHANNEL_DAILY, frame, empty_rejects(), _info("e1"))
    parts = warehouse.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'sales.channel_daily'::regclass ORDER BY 1"
    ).fetchall()
    assert [p[0] for p in parts] == ["channel_daily_202512", "channel_daily_202601"]


def test_store_names_with_sql_in_them_are_stored_as_text(warehouse):
    target = Target("core", "stores", ("store_id",))
    hostile = "Bob's'); DROP TABLE core.stores; --"
    frame = pd.DataFrame({"store_id": ["000126"], "store_name": [hostile], "location": ['Akron, "OH"'],
                          "opened_on": [None], "active": [True]})
    load_batch(warehouse, target, frame, empty_rejects(), _info("s1"))
    assert warehouse.execute("SELECT store_name FROM core.stores").fetchone()[0] == hostile


KILLED_LOAD = textwrap.dedent("""
    import sys
    import psycopg
    from bench.bench_load import sales_frame
    from include.pipelines.sales import CHANNEL_DAILY
    from include.warehouse.loader import BatchInfo, empty_rejects, load_batch
    frame = sales_frame(int(sys.argv[2]))
    with psycopg.connect(sys.argv[1], application_name="bw-killed-load") as conn:
        print("loading", flush=True)
        load_batch(conn, CHANNEL_DAILY, frame, empty_rejects(), BatchInfo("sales", "r1", "bench", "big", "k1"))
""")


def test_killed_load_leaves_no_partial_batch_and_its_retry_completes(warehouse, warehouse_url):
    rows = 400_000
    child = subprocess.Popen([sys.executable, "-c", KILLED_LOAD, warehouse_url, str(rows)], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert child.stdout.readline().strip() == "loading"
        deadline = time.monotonic() + 60
        stage = None
        while time.monotonic() < deadline and child.poll() is None:
            row = warehouse.execute(
                "SELECT query FROM pg_stat_activity WHERE application_name = 'bw-killed-load' AND state = 'active'"
            ).fetchone()
            warehouse.commit()
            if row and ("COPY" in row[0] or "INSERT" in row[0]):
                stage = row[0].split()[0]
                break
            time.sleep(0.02)
        assert stage is not None, "the load never reached the database"
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while warehouse.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bw-killed-load'"
    ).fetchone()[0] and time.monotonic() < deadline:
        warehouse.commit()
        time.sleep(0.1)
    assert warehouse.execute("SELECT count(*) FROM sales.channel_daily").fetchone()[0] == 0
    assert warehouse.execute("SELECT count(*) FROM etl.load_batches").fetchone()[0] == 0
    warehouse.commit()

    from bench.bench_load import sales_frame

    retry = load_batch(warehouse, CHANNEL_DAILY, sales_frame(rows), empty_rejects(),
                       BatchInfo("sales", "r1", "bench", "big", "k1"))
    assert retry.rows_inserted == rows and not retry.skipped
    assert warehouse.execute("SELECT count(*) FROM sales.channel_daily").fetchone()[0] == rows


def test_a_batch_commits_when_its_block_ends_even_after_earlier_reads(warehouse_url):
    """Pipeline connections run each batch as its own transaction, not as a savepoint of an open one."""
    from include.warehouse.connection import connect

    with connect(warehouse_url) as conn, psycopg.connect(warehouse_url) as observer:
        conn.execute("SELECT count(*) FROM etl.load_batches").fetchone()  # a read first, as the pipelines do
        load_batch(conn, CHANNEL_DAILY, _frame(), empty_rejects(), _info("first"))
        assert observer.execute("SELECT count(*) FROM etl.load_batches").fetchone()[0] == 1
        observer.commit()
        load_batch(conn, CHANNEL_DAILY, _frame(), empty_rejects(), _info("second"))
        assert observer.execute("SELECT count(*) FROM etl.load_batches").fetchone()[0] == 2
