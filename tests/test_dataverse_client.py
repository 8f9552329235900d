"""Dataverse client against the Dataverse and authority doubles: paging, change tracking, $batch upserts."""

from __future__ import annotations

import json
import time

import pytest

from include.sources.dataverse import DataverseTableStore
from plugins.hooks.dataverse import DataverseHook, parse_batch_response
from plugins.hooks.http_retry import RequestFailed, ThrottledTooLong
from tests.doubles import fixtures
from tests.doubles.http import Fault

pytestmark = pytest.mark.dataverse
microsoft = fixtures.microsoft

SALES = "crf63_saleschanneldailies"
FORECASTS = "crf63_bwsalesforecasts"
COLUMNS = ["crf63_saleschanneldailyid", "crf63_storenumber", "crf63_tynetsalesusd"]
FKEY = ("crf63_forecasteddaypart", "crf63_forecasteddow", "crf63_forecastedfiscalweek", "crf63_forecastedstore")


def sales_table(microsoft, n: int) -> None:
    microsoft.dataverse.table(SALES, "crf63_saleschanneldailyid")
    for i in range(n):
        microsoft.dataverse.put(SALES, {"crf63_storenumber": f"{i % 7:06d}", "crf63_tynetsalesusd": float(i),
                                        "crf63_businesskey": f"k{i}"})


def forecast_table(microsoft) -> None:
    def validate(record: dict):
        sales = record.get("crf63_forecastedsales")
        if not isinstance(sales, int | float) or sales < 0:
            return "0x80040265", f"crf63_forecastedsales must be a non-negative number, got {sales!r}"
        return None

    microsoft.dataverse.table(FORECASTS, "crf63_bwsalesforecastid", FKEY, validate=validate)


def forecast(n: int, sales: float = 100.0) -> dict:
    return {"crf63_forecasteddaypart": ["Lunch", "Afternoon", "Dinner", "Evening"][n % 4],
            "crf63_forecasteddow": n % 7 + 1, "crf63_forecastedfiscalweek": f"Y2026W{n // 28 + 1:02d}",
            "crf63_forecastedstore": "000126", "crf63_forecastedsales": sales}


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_paged_read_with_select_and_maxpagesize(microsoft, tmp_path):
    sales_table(microsoft, 1234)
    microsoft.connect(page_size=500)
    snap = DataverseTableStore(DataverseHook()).read(SALES, COLUMNS, None, tmp_path / "s.jsonl")
    assert snap.rows == 1234 and snap.full_read and snap.cursor and "$deltatoken=" in snap.cursor
    rows = read_lines(snap.path)
    assert len({r["crf63_saleschanneldailyid"] for r in rows}) == 1234 and set(rows[0]) == set(COLUMNS)
    gets = microsoft.dataverse.server.requests_to(SALES, "GET")
    assert len(gets) == 3
    assert all("odata.maxpagesize=500" in r.headers["prefer"] and "odata.track-changes" in r.headers["prefer"]
               for r in gets)
    assert gets[0].query["$select"] == ",".join(COLUMNS)
    assert all(r.headers["odata-version"] == "4.0" and r.headers["odata-maxversion"] == "4.0" for r in gets)
    assert "$skiptoken=500:" in gets[1].target and "$skiptoken=1000:" in gets[2].target  # nextLink unchanged


def test_change_tracking_returns_changes_and_deletions(microsoft, tmp_path):
    sales_table(microsoft, 20)
    store = DataverseTableStore(DataverseHook())
    first = store.read(SALES, COLUMNS, None, tmp_path / "1.jsonl")
    ids = sorted(r["crf63_saleschanneldailyid"] for r in read_lines(first.path))
    microsoft.dataverse.put(SALES, {"crf63_saleschanneldailyid": ids[0], "crf63_tynetsalesusd": 999.0})
    microsoft.dataverse.delete(SALES, ids[1])
    second = store.read(SALES, COLUMNS, first.cursor, tmp_path / "2.jsonl")
    assert not second.full_read and second.rows == 1 and second.deleted_ids == [ids[1]]
    assert read_lines(second.path)[0]["crf63_tynetsalesusd"] == 999.0
    third = store.read(SALES, COLUMNS, second.cursor, tmp_path / "3.jsonl")
    assert third.rows == 0 and third.deleted_ids == []


def test_expired_delta_token_falls_back_to_a_full_read(microsoft, tmp_path):
    sales_table(microsoft, 5)
    store = DataverseTableStore(DataverseHook())
    first = store.read(SALES, COLUMNS, None, tmp_path / "1.jsonl")
    microsoft.dataverse.expire_deltas()
    again = store.read(SALES, COLUMNS, first.cursor, tmp_path / "2.jsonl")
    assert again.full_read and again.rows == 5
    assert store.read(SALES, COLUMNS, again.cursor, tmp_path / "3.jsonl").rows == 0


def test_read_where_filters_by_equality(microsoft):
    sales_table(microsoft, 14)
    found = DataverseTableStore(DataverseHook()).read_where(SALES, COLUMNS, {"crf63_storenumber": "000003"})
    assert len(found) == 2 and {r["crf63_storenumber"] for r in found} == {"000003"}
    assert "crf63_storenumber eq '000003'" in microsoft.dataverse.server.requests_to(SALES)[0].query["$filter"]


def test_batch_where_three_of_a_hundred_rows_fail(microsoft):
    forecast_table(microsoft)
    rows = [forecast(n, -1.0 if n in (7, 42, 99) else 10.0 + n) for n in range(100)]
    result = DataverseTableStore(DataverseHook()).upsert(FORECASTS, FKEY, rows)
    assert (result.created, result.updated, len(result.failed)) == (97, 0, 3)
    assert len(microsoft.dataverse.rows(FORECASTS)) == 97
    assert [f["key"] for f in result.failed] == [{k: rows[n][k] for k in FKEY} for n in (7, 42, 99)]
    assert {f["code"] for f in result.failed} == {"0x80040265"} and all(f["status"] == 400 for f in result.failed)
    assert "non-negative" in result.failed[0]["message"]
    batch = microsoft.dataverse.server.requests_to("$batch", "POST")
    assert len(batch) == 1 and "odata.continue-on-error" in batch[0].headers["prefer"]
    assert b"changeset" not in batch[0].body  # independent parts, no all-or-nothing changeset
    # The same rows again: all updates.
    valid = [r for r in rows if r["crf63_forecastedsales"] > 0]
    again = DataverseTableStore(DataverseHook()).upsert(FORECASTS, FKEY, valid)
    assert (again.created, again.updated, again.failed) == (0, 97, [])


def test_batches_are_bounded_in_size_and_concurrency(microsoft):
    forecast_table(microsoft)
    microsoft.dataverse.batch_delay = 0.3
    microsoft.connect(batch_size=25)
    rows = [forecast(n) for n in range(280)]
    result = DataverseHook().upsert(FORECASTS, FKEY, rows)
    assert result.created == 280
    assert max(microsoft.dataverse.batch_sizes) == 25 and sum(microsoft.dataverse.batch_sizes) == 280
    assert microsoft.dataverse.server.max_in_flight == 4  # default concurrency, reached and not exceeded
    microsoft.dataverse.batch_sizes.clear()
    DataverseHook().upsert(FORECASTS, FKEY, rows, batch_size=5000, concurrency=1)
    assert microsoft.dataverse.batch_sizes == [280]  # capped at 1,000 parts, one batch here


def test_batch_throttling_resolves_after_two_429s(microsoft):
    forecast_table(microsoft)
    microsoft.dataverse.server.add_fault(Fault("$batch", status=429, headers={"Retry-After": "1"}, times=2,
                                               body={"error": {"code": "0x80072322", "message": "Number of "
                                                               "requests exceeded the limit of 6000."}}))
    started = time.monotonic()
    result = DataverseHook().upsert(FORECASTS, FKEY, [forecast(n) for n in range(10)])
    assert result.created == 10 and time.monotonic() - started >= 2.0
    assert len(microsoft.dataverse.server.requests_to("$batch")) == 3


def test_batch_throttling_over_the_cap_fails_clearly(microsoft):
    forecast_table(microsoft)
    microsoft.connect(retry_after_cap=5)
    microsoft.dataverse.server.add_fault(Fault("$batch", status=429, headers={"Retry-After": "300"}, times=1))
    with pytest.raises(ThrottledTooLong, match=r"POST http://127\.0\.0\.1:\d+/api/data/v9\.2/\$batch: throttled"):
        DataverseHook().upsert(FORECASTS, FKEY, [forecast(1)])


def test_odata_error_bodies_surface_in_failures(microsoft, tmp_path):
    microsoft.connect(max_attempts=2)
    with pytest.raises(RequestFailed, match=r"HTTP 404: .*0x8006088a"):
        DataverseTableStore(DataverseHook()).read("crf63_nosuchtables", COLUMNS, None, tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "x.jsonl.part").exists()


def test_multipart_parser_reads_statuses_not_text():
    boundary = "batchresponse_1"
    body = (
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n{\"id\": \"a\", \"note\": \"HTTP/1.1 400\"}\r\n"
        f"--{boundary}\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\n\r\n"
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n"
        "{\"error\": {\"code\": \"0x80040237\", \"message\": \"Created\"}}\r\n--changesetresponse_2--\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    parts = parse_batch_response(f"multipart/mixed; boundary={boundary}", body)
    assert [p.status for p in parts] == [201, 204, 400]
    assert parts[0].body == {"id": "a", "note": "HTTP/1.1 400"}
    assert parts[2].error == ("0x80040237", "Created")
    with pytest.raises(ValueError, match="not a multipart"):
        parse_batch_response("application/json", b"{}")
