"""One conformance suite for every transport: the local folder and the Microsoft services (doubles).

The stores come from ``include.sources.factory``: the transport is chosen by configuration
alone (``BW_TRANSPORT`` and, for Microsoft, the Airflow connections).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.sources.factory import file_store, table_store
from tests.doubles import fixtures

pytestmark = [pytest.mark.graph, pytest.mark.dataverse]
microsoft = fixtures.microsoft

TABLE = "crf63_bwsalesforecasts"
KEY = ("crf63_forecasteddaypart", "crf63_forecasteddow", "crf63_forecastedfiscalweek", "crf63_forecastedstore")
COLUMNS = [*KEY, "crf63_forecastedsales"]


class LocalWorld:
    def __init__(self, root: Path, monkeypatch) -> None:
        self.root = root
        monkeypatch.setenv("BW_TRANSPORT", "local")
        monkeypatch.setenv("BW_LOCAL_SOURCE_DIR", str(root))

    def put_file(self, path: str, content: bytes) -> None:
        target = self.root / "onedrive" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    def delete_file(self, path: str) -> None:
        (self.root / "onedrive" / path).unlink()

    def put_record(self, record: dict) -> None:
        target = self.root / "dataverse" / f"{TABLE}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        records = [json.loads(x) for x in target.read_text().splitlines()] if target.exists() else []
        records = [r for r in records if any(r.get(k) != record.get(k) for k in KEY)] + [record]
        target.write_text("".join(json.dumps(r) + "\n" for r in records))


class MicrosoftWorld:
    def __init__(self, env: fixtures.Microsoft) -> None:
        self.env = env
        env.dataverse.table(TABLE, "crf63_bwsalesforecastid", KEY)

    def put_file(self, path: str, content: bytes) -> None:
        self.env.graph.put_file(path, content)

    def delete_file(self, path: str) -> None:
        self.env.graph.delete(path)

    def put_record(self, record: dict) -> None:
        existing = [r for r in self.env.dataverse.rows(TABLE) if all(r.get(k) == record.get(k) for k in KEY)]
        self.env.dataverse.put(TABLE, {**record, **({"crf63_bwsalesforecastid": existing[0][
            "crf63_bwsalesforecastid"]} if existing else {})})


@pytest.fixture(params=["local", "microsoft"])
def world(request, tmp_path, monkeypatch):
    if request.param == "local":
        return LocalWorld(tmp_path / "source", monkeypatch)
    return MicrosoftWorld(request.getfixturevalue("microsoft"))


def record(n: int, sales: float) -> dict:
    return {"crf63_forecasteddaypart": "Lunch", "crf63_forecasteddow": n, "crf63_forecastedfiscalweek": "Y2026W08",
            "crf63_forecastedstore": "000126", "crf63_forecastedsales": sales}


def test_stat(world):
    world.put_file("General/BI Import/BI Dimensions.xlsx", b"book")
    found = file_store().stat("General/BI Import/BI Dimensions.xlsx")
    assert (found.name, found.path, found.size) == ("BI Dimensions.xlsx", "General/BI Import/BI Dimensions.xlsx", 4)
    assert found.etag and found.item_id
    with pytest.raises(FileNotFoundError):
        file_store().stat("General/BI Import/none.xlsx")


def test_changes_follow_the_cursor(world):
    world.put_file("Labor/000126.pay_summ.20260901.120000.zip", b"a")
    world.put_file("Labor/old/000127.pay_summ.20260901.120000.zip", b"b")
    world.put_file("General/other.xlsx", b"c")
    files = file_store()
    first = files.changes("Labor", None)
    assert first.full_resync and first.cursor
    assert sorted(f.path for f in first.files) == [
        "Labor/000126.pay_summ.20260901.120000.zip", "Labor/old/000127.pay_summ.20260901.120000.zip"]
    assert files.changes("Labor", first.cursor).files == []
    gone = files.stat("Labor/old/000127.pay_summ.20260901.120000.zip")
    before = files.stat("Labor/000126.pay_summ.20260901.120000.zip")
    world.put_file("Labor/000126.pay_summ.20260901.120000.zip", b"changed")
    world.delete_file("Labor/old/000127.pay_summ.20260901.120000.zip")
    second = files.changes("Labor", first.cursor)
    assert [f.path for f in second.files] == ["Labor/000126.pay_summ.20260901.120000.zip"]
    assert second.files[0].etag != before.etag and second.files[0].item_id == before.item_id
    assert second.deleted_ids == [gone.item_id] and not second.full_resync


def test_download(world, tmp_path):
    content = b"PK\x03\x04" + bytes(range(256)) * 1000
    world.put_file("Labor/000126.summary.20260901.120000.zip", content)
    files = file_store()
    path = files.download(files.stat("Labor/000126.summary.20260901.120000.zip"), tmp_path / "dl")
    assert path == tmp_path / "dl" / "000126.summary.20260901.120000.zip" and path.read_bytes() == content


def test_table_read_and_cursor(world, tmp_path):
    for n in range(1, 6):
        world.put_record(record(n, 10.0 * n))
    tables = table_store()
    first = tables.read(TABLE, COLUMNS, None, tmp_path / "a.jsonl")
    assert first.full_read and first.rows == 5 and first.cursor
    lines = [json.loads(x) for x in first.path.read_text().splitlines()]
    assert sorted(r["crf63_forecastedsales"] for r in lines) == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert all(set(r) == set(COLUMNS) for r in lines)
    assert tables.read(TABLE, COLUMNS, first.cursor, tmp_path / "b.jsonl").rows == 0
    world.put_record(record(3, 33.0))
    after = tables.read(TABLE, COLUMNS, first.cursor, tmp_path / "c.jsonl")
    changed = [json.loads(x) for x in after.path.read_text().splitlines()]
    assert {"crf63_forecastedsales": 33.0} | {k: record(3, 0)[k] for k in KEY} in changed


def test_upsert_and_read_where(world):
    tables = table_store()
    first = tables.upsert(TABLE, KEY, [record(n, 1.0) for n in range(1, 4)])
    assert (first.created, first.updated, first.failed) == (3, 0, [])
    second = tables.upsert(TABLE, KEY, [record(1, 2.0), record(4, 4.0)])
    assert (second.created, second.updated, second.failed) == (1, 1, [])
    found = tables.read_where(TABLE, COLUMNS, {"crf63_forecasteddow": 1, "crf63_forecastedstore": "000126"})
    assert [r["crf63_forecastedsales"] for r in found] == [2.0]
    assert tables.read_where(TABLE, COLUMNS, {"crf63_forecastedstore": "000999"}) == []
