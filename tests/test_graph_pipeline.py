"""Folder sync on the Graph transport with the warehouse: cursor advanced after commit, no double loads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import psycopg
import pytest

from include.config import REPO_ROOT
from include.sources.base import FileStore
from include.sources.graph import GraphFileStore
from include.sources.state import get_state, loaded_etags, set_state
from plugins.hooks.graph import GraphFilesHook
from tests.doubles import fixtures

pytestmark = pytest.mark.graph
microsoft = fixtures.microsoft

SOURCE = "graph:labor"


def sync_folder(conn: psycopg.Connection, files: FileStore, dest: Path) -> int:
    """What a labor DAG task does: changes since the cursor, skip loaded etags, download, load, then advance."""
    import pandas as pd

    from include.warehouse.loader import BatchInfo, Target, empty_rejects, load_batch

    changes = files.changes("Labor", get_state(conn, SOURCE))
    done = loaded_etags(conn, SOURCE, changes.files)
    loaded = 0
    for item in changes.files:
        if item.item_id in done:
            continue
        path = files.download(item, dest)
        # A stand-in load: one row per file (the real labor transform is not under test here).
        store_id, stamp = item.name.split(".")[0], item.name.split(".")[2]
        frame = pd.DataFrame({"store_id": [store_id], "employee_id": [path.name],
                              "first_name": [date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:])).isoformat()]})
        result = load_batch(conn, Target("labor", "employees", ("store_id", "employee_id")), frame,
                            empty_rejects(), BatchInfo("labor", "test", SOURCE, item.item_id, item.etag))
        loaded += 0 if result.skipped else 1
    conn.commit()  # the loads are durable ...
    if changes.cursor:
        set_state(conn, SOURCE, changes.cursor)  # ... before the cursor moves
        conn.commit()
    return loaded


def batches(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM etl.load_batches WHERE source = %s", (SOURCE,)).fetchone()[0]


def test_run_killed_after_download_then_rerun_loses_nothing_and_loads_nothing_twice(microsoft, warehouse,
                                                                                   warehouse_url, tmp_path):
    for store in ("000126", "000127", "001089"):
        microsoft.graph.put_file(f"Labor/{store}.pay_summ.20260901.120000.zip", store.encode() * 100)
    killed = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import os, signal, psycopg
        from pathlib import Path
        from include.config import settings
        from include.sources.factory import file_store
        from include.sources.state import get_state
        files = file_store()
        with psycopg.connect({warehouse_url!r}) as conn:
            cursor = get_state(conn, {SOURCE!r})
        for item in files.changes("Labor", cursor).files:
            files.download(item, Path({str(killed)!r}))
        os.kill(os.getpid(), signal.SIGKILL)  # dies after the downloads, before any load
    """)
    child = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=os.environ.copy(),
                           capture_output=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert len(list(killed.glob("*.zip"))) == 3
    assert get_state(warehouse, SOURCE) is None and batches(warehouse) == 0

    files = GraphFileStore(GraphFilesHook())
    assert sync_folder(warehouse, files, tmp_path / "run2") == 3
    assert batches(warehouse) == 3 and get_state(warehouse, SOURCE)
    assert sync_folder(warehouse, files, tmp_path / "run3") == 0  # nothing new

    # The delta link expires: a full resync sees all files again and loads none of them twice.
    microsoft.graph.expire_deltas()
    microsoft.graph.put_file("Labor/000128.pay_summ.20260901.120000.zip", b"new")
    downloads_before = len(microsoft.graph.server.requests_to("/download/"))
    assert sync_folder(warehouse, files, tmp_path / "run4") == 1
    assert len(microsoft.graph.server.requests_to("/download/")) == downloads_before + 1  # loaded etags skipped
    assert batches(warehouse) == 4
    rows = warehouse.execute("SELECT count(*) FROM labor.employees").fetchone()[0]
    assert rows == 4


def test_cursor_stays_when_the_load_fails(microsoft, warehouse, tmp_path):
    microsoft.graph.put_file("Labor/000126.pay_summ.20260901.120000.zip", b"x")
    microsoft.graph.put_file("Labor/bad.name.zip", b"y")  # the fake loader cannot parse this name
    files = GraphFileStore(GraphFilesHook())
    with pytest.raises((IndexError, ValueError)):
        sync_folder(warehouse, files, tmp_path / "a")
    warehouse.rollback()
    assert get_state(warehouse, SOURCE) is None and batches(warehouse) == 0
