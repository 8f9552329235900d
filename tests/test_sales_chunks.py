"""A sales extract loaded in chunks ends exactly as one loaded whole (duplicates across chunks included)."""

from __future__ import annotations

import json

import psycopg
import pytest

from include.pipelines import sales
from include.pipelines.chunks import split_lines
from include.pipelines.common import Run


def test_split_lines_keeps_every_line_once(tmp_path):
    source = tmp_path / "t.jsonl"
    source.write_text("".join(f'{{"n": {i}}}\n' for i in range(1, 24)))
    seen = []
    for chunk, offset in split_lines(source, 5, tmp_path):
        lines = chunk.read_text().splitlines()
        assert len(lines) <= 5
        seen += [(offset + i + 1, json.loads(line)["n"]) for i, line in enumerate(lines)]
    assert seen == [(i, i) for i in range(1, 24)]
    assert list(split_lines(source, 100, tmp_path)) == [(source, 0)]


def _records(tmp_path, manifest_dir):
    """The sample's sales lines plus a duplicate of line 2 at the very end (another chunk)."""
    lines = (manifest_dir / "dataverse" / "crf63_saleschanneldailies.jsonl").read_text().splitlines()
    duplicate = json.loads(lines[1])
    duplicate["crf63_saleschanneldailyid"] = "00000000-0000-0000-0000-00000000beef"
    path = tmp_path / "sales.jsonl"
    path.write_text("\n".join([*lines, json.dumps(duplicate)]) + "\n")
    return path, len(lines) + 1


def _load(url: str, path, rows: int, monkeypatch, chunk_rows: int, tmp_path) -> tuple[list, list]:
    monkeypatch.setenv("BW_WAREHOUSE_URL", url)
    monkeypatch.setenv("BW_DATA_DIR", str(tmp_path / f"data{chunk_rows}"))
    monkeypatch.setattr(sales, "CHUNK_ROWS", chunk_rows)
    extracted = {"path": str(path), "rows": rows, "deleted_ids": [], "cursor": f"c{chunk_rows}", "full_read": True}
    totals = sales.load_sales(Run("sales", f"chunks-{chunk_rows}"), extracted)
    assert totals["rows_read"] == rows == totals["rows_loaded"] + totals["rows_quarantined"]
    with psycopg.connect(url) as conn:
        table = conn.execute(
            "SELECT store_id, business_date, channel, daypart, net_sales, orders, source_id "
            "FROM sales.channel_daily ORDER BY 1, 2, 3, 4"
        ).fetchall()
        quarantine = conn.execute("SELECT source_row, reason FROM etl.quarantine ORDER BY 1").fetchall()
    return table, quarantine


@pytest.fixture
def second_warehouse(pg_admin_url, migrated_template):
    import uuid

    from tests.conftest import create_database, drop_database

    name = f"bw_test_{uuid.uuid4().hex[:10]}"
    yield create_database(pg_admin_url, name, template=migrated_template)
    drop_database(pg_admin_url, name)


def test_chunked_load_equals_whole_load(warehouse_url, second_warehouse, monkeypatch, tmp_path):
    from include.sample.generate import generate_sample

    generate_sample(tmp_path / "src", stores=4, sales_years=1, labor_weeks=1)
    path, rows = _records(tmp_path, tmp_path / "src")
    whole = _load(warehouse_url, path, rows, monkeypatch, 10_000_000, tmp_path)
    chunked = _load(second_warehouse, path, rows, monkeypatch, 4_000, tmp_path)
    assert chunked == whole
    assert (rows, "duplicate of row 2: same store, date, channel and day part") in whole[1]
