"""Sales channel dailies: the JSONL reader and the vectorised transform with its rejects."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from include.transforms.sales import CLEAN_COLUMNS, KEY, read_jsonl, transform_sales


def record(store="000126", day="2026-09-01", channel="carryout", daypart="Lunch", net=100.5, orders=10, **extra):
    rec = {
        "crf63_saleschanneldailyid": f"guid-{store}-{day}-{channel}-{daypart}",
        "crf63_storenumber": store, "crf63_calendardate": day, "crf63_sourceactor": "POS",
        "crf63_sourcechannel": channel, "crf63_daypart": daypart, "crf63_tynetsalesusd": net,
        "crf63_tyorders": orders, "crf63_discountsusd": 2.25, "crf63_lynetsalesusd": 90.0, "crf63_lyorders": 9,
        "crf63_businesskey": f"{store}_{day.replace('-', '')}_{channel}_{daypart}",
        "crf63_lastrefreshed": "2026-09-02T05:00:00Z", "modifiedon": "2026-09-02T05:00:00Z",
    }
    rec.update(extra)
    return rec


def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def reasons_by_row(result) -> dict[int, str]:
    return dict(zip(result.rejects["source_row"], result.rejects["reason"], strict=True))


# --- reader ----------------------------------------------------------------------------------------


def test_read_jsonl_keeps_raw_values_and_line_numbers(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [record(), record(day="2026-09-02", orders=None)])
    raw = read_jsonl(path)
    assert raw["source_row"].tolist() == [1, 2]
    assert raw["crf63_calendardate"].tolist() == ["2026-09-01", "2026-09-02"]  # text, not timestamps
    assert raw["modifiedon"].iloc[0] == "2026-09-02T05:00:00Z"
    assert raw["crf63_storenumber"].iloc[0] == "000126"
    assert raw["crf63_tyorders"].iloc[0] == 10 and pd.isna(raw["crf63_tyorders"].iloc[1])


def test_read_jsonl_falls_back_line_by_line_for_mixed_types_blank_and_broken_lines(tmp_path):
    lines = [record(store=126), "", record(day="2026-09-02"), "{broken", "[1, 2]", "   "]
    path = write_jsonl(tmp_path / "s.jsonl", lines)
    raw = read_jsonl(path)
    assert raw["source_row"].tolist() == [1, 3, 4, 5]
    assert raw["crf63_storenumber"].iloc[0] == 126
    assert raw["_invalid_json"].iloc[2] == "{broken"
    result = transform_sales(raw)
    assert reasons_by_row(result) == {4: "invalid JSON: the line is not a JSON object",
                                      5: "invalid JSON: the line is not a JSON object"}
    assert result.clean["store_id"].tolist() == ["000126", "000126"]
    assert len(result.clean) + len(result.rejects) == 4


def test_read_jsonl_of_an_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    raw = read_jsonl(path)
    assert len(raw) == 0
    result = transform_sales(raw)
    assert result.clean.empty and result.rejects.empty and list(result.clean.columns) == list(CLEAN_COLUMNS)


# --- transform -------------------------------------------------------------------------------------


def test_clean_rows_are_normalised(tmp_path):
    raw = read_jsonl(write_jsonl(tmp_path / "s.jsonl", [
        record(store="126", channel=" Delivery ", daypart="dinner", net=1234.567, orders=12,
               crf63_discountsusd=None, crf63_lynetsalesusd=None, crf63_lyorders=None),
        record(store="000127", daypart="EVENING"),
    ]))
    result = transform_sales(raw)
    assert result.rejects.empty
    assert list(result.clean.columns) == list(CLEAN_COLUMNS)
    first, second = result.clean.to_dict("records")
    assert first["store_id"] == "000126" and first["channel"] == "delivery" and first["daypart"] == "Dinner"
    assert first["business_date"] == date(2026, 9, 1)
    assert first["net_sales"] == 1234.57 and first["orders"] == 12 and first["discounts"] == 0.0
    assert math.isnan(first["ly_net_sales"]) and pd.isna(first["ly_orders"])
    assert first["source_id"] == "guid-126-2026-09-01- Delivery -dinner"
    assert first["source_modified"] == datetime(2026, 9, 2, 5, tzinfo=UTC)
    assert second["daypart"] == "Evening" and second["ly_orders"] == 9 and second["discounts"] == 2.25


def test_invalid_records_are_rejected_with_one_reason_each(tmp_path):
    lines = [
        record(),                                            # 1 kept
        record(store="ABC12"),                               # 2
        record(store="1234567"),                             # 3
        record(day=""),                                      # 4
        record(day="2026-02-30"),                            # 5
        record(day="09/01/2026"),                            # 6
        record(daypart="Breakfast"),                         # 7
        record(daypart="Afternoon", net=-5),                 # 8
        record(daypart="Dinner", orders=-1),                 # 9
        record(daypart="Evening", orders=2.5),               # 10
        record(channel="delivery", net="lots"),              # 11
        record(channel="online", net=None),                  # 12
        record(channel=""),                                  # 13
        record(store="126"),                                 # 14 duplicate of 1 once normalised
        record(store="ABC", daypart="Brunch"),               # 15 first problem wins
        record(channel="CARRYOUT", daypart="lunch"),         # 16 duplicate of 1 (case-insensitive)
        record(channel="online", daypart="Lunch", crf63_lyorders="x"),  # 17
        record(channel="aggregator", day="2026-09-01T00:00:00Z"),       # 18 kept: midnight suffix allowed
    ]
    result = transform_sales(read_jsonl(write_jsonl(tmp_path / "s.jsonl", lines)))
    assert len(result.clean) + len(result.rejects) == len(lines)
    assert reasons_by_row(result) == {
        2: "invalid store number: 'ABC12' is not 1-6 digits",
        3: "invalid store number: '1234567' has more than 6 digits",
        4: "invalid date: empty",
        5: "invalid date: '2026-02-30' is not YYYY-MM-DD",
        6: "invalid date: '09/01/2026' is not YYYY-MM-DD",
        7: "unknown day part: 'Breakfast' is not one of Lunch, Afternoon, Dinner, Evening",
        8: "negative net sales: -5 is below zero",
        9: "negative orders: -1 is below zero",
        10: "invalid orders: '2.5' is not a whole number",
        11: "invalid net sales: 'lots' is not a number",
        12: "missing net sales: the record has no value",
        13: "missing channel: the record has no sales channel",
        14: "duplicate of row 1: same store, date, channel and day part",
        15: "invalid store number: 'ABC' is not 1-6 digits",
        16: "duplicate of row 1: same store, date, channel and day part",
        17: "invalid last-year orders: 'x' is not a number",
    }
    assert result.clean["channel"].tolist() == ["carryout", "aggregator"]
    assert not result.clean.duplicated(list(KEY)).any()
    raw = result.rejects["raw"].iloc[0]
    assert raw["crf63_storenumber"] == "ABC12" and raw["crf63_tynetsalesusd"] == "100.5"
    json.dumps(result.rejects["raw"].tolist())


def test_records_without_optional_columns_and_without_source_row():
    frame = pd.DataFrame([{"crf63_storenumber": 126.0, "crf63_calendardate": "2026-09-01",
                           "crf63_sourcechannel": "online", "crf63_daypart": "Lunch",
                           "crf63_tynetsalesusd": "10.10", "crf63_tyorders": "3"}])
    result = transform_sales(frame)
    assert result.rejects.empty
    row = result.clean.iloc[0]
    assert row["store_id"] == "000126" and row["net_sales"] == pytest.approx(10.1) and row["orders"] == 3
    assert pd.isna(row["source_id"]) and pd.isna(row["source_modified"])


def test_duplicates_keep_the_first_and_name_it_at_scale():
    n = 20_000
    frame = pd.DataFrame({
        "crf63_storenumber": [f"{i % 500:06d}" for i in range(n)],
        "crf63_calendardate": ["2026-09-01"] * n,
        "crf63_sourcechannel": ["online"] * n,
        "crf63_daypart": [("Lunch", "Dinner")[(i // 500) % 2] for i in range(n)],
        "crf63_tynetsalesusd": [1.0] * n,
        "crf63_tyorders": [1] * n,
        "source_row": range(1, n + 1),
    })
    result = transform_sales(frame)
    assert len(result.clean) == 1000 and len(result.rejects) == n - 1000
    assert result.clean.merge(frame.rename(columns={"crf63_storenumber": "store_id"}), on="store_id")["source_row"] \
        .min() == 1
    assert reasons_by_row(result)[1001] == "duplicate of row 1: same store, date, channel and day part"
    assert reasons_by_row(result)[1501] == "duplicate of row 501: same store, date, channel and day part"
