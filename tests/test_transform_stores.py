"""The Stores sheet: header found under banner rows, store numbers, locations, status, duplicates."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from include.transforms.stores import read_stores_sheet, transform_stores

HEADER = ["Stores Number 0", "Store Name", "City", "State", "Open Date", "Status", "Region"]


def workbook(path: Path, rows: list[list], banner: int = 2, sheet: str = "Stores") -> Path:
    """An xlsx with ``banner`` title rows above the header, like the real workbook."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for i in range(banner):
        ws.append([f"Beachwood BI dimensions, banner line {i + 1}"])
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    book.create_sheet("Access").append(["Email"])
    book.save(path)
    return path


def test_header_is_found_under_banner_rows_and_rows_keep_their_numbers(tmp_path):
    path = workbook(tmp_path / "dims.xlsx", [
        [126, "Beachwood Main", "Akron", "OH", datetime(2019, 5, 1), "Open", "North"],
        [None, None, None, None, None, None, None],
        ["000127", "Beachwood East", "Canton", "oh", None, "closed", "North"],
    ])
    raw = read_stores_sheet(path)
    assert list(raw.columns) == [*HEADER, "source_row"]
    assert raw["source_row"].tolist() == [1, 3]
    result = transform_stores(raw)
    assert result.rejects.empty
    assert result.clean.to_dict("records") == [
        {"store_id": "000126", "store_name": "Beachwood Main", "location": "Akron, OH",
         "opened_on": date(2019, 5, 1), "active": True},
        {"store_id": "000127", "store_name": "Beachwood East", "location": "Canton, OH",
         "opened_on": None, "active": False},
    ]


def test_header_on_the_first_row_or_under_four_banner_rows(tmp_path):
    for banner in (0, 4):
        raw = read_stores_sheet(workbook(tmp_path / f"b{banner}.xlsx", [[5, "Five", "Kent", "OH", None, "Open", ""]],
                                         banner=banner))
        assert transform_stores(raw).clean["store_id"].tolist() == ["000005"]


def test_missing_header_sheet_or_column_is_a_clear_error(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Stores"
    for _ in range(25):
        book.active.append(["banner"])
    book.active.append(HEADER)
    book.save(tmp_path / "deep.xlsx")
    with pytest.raises(ValueError, match="no header row with a 'Stores Number 0' column in its first 20 rows"):
        read_stores_sheet(tmp_path / "deep.xlsx")
    with pytest.raises(ValueError, match="no sheet 'Shops'"):
        read_stores_sheet(workbook(tmp_path / "x.xlsx", []), sheet="Shops")
    raw = read_stores_sheet(workbook(tmp_path / "y.xlsx", [[1, "One", "A", "OH", None, "Open", ""]]))
    with pytest.raises(ValueError, match="lacks column\\(s\\) 'Status'"):
        transform_stores(raw.drop(columns=["Status"]))


def test_invalid_rows_are_rejected_with_reasons_and_counts_add_up(tmp_path):
    rows = [
        [126, "Main", "Akron", "OH", datetime(2019, 5, 1), "Open", ""],
        ["ABC12", "Letters", "Akron", "OH", None, "Open", ""],
        [126.5, "Fraction", "Akron", "OH", None, "Open", ""],
        [1234567, "Too long", "Akron", "OH", None, "Open", ""],
        [-3, "Negative", "Akron", "OH", None, "Open", ""],
        [130, None, "Akron", "OH", None, "Open", ""],
        [131, "Bad state", "Akron", "Ohio", None, "Open", ""],
        [132, "Bad date", "Akron", "OH", "someday", "Open", ""],
        [133, "Bad status", "Akron", "OH", None, "Pending", ""],
        ["126", "Main again", "Akron", "OH", None, "Open", ""],
        [134.0, "Excel number", None, "oh", "2020-02-03", None, ""],
        [135, "US date", "Kent", None, "02/03/2021", "OPEN", ""],
        [136, "Serial date", None, None, 43831, "Open", ""],
        [None, "Store without number", "Kent", "OH", None, "Open", ""],
    ]
    raw = read_stores_sheet(workbook(tmp_path / "dims.xlsx", rows))
    result = transform_stores(raw)
    assert len(result.clean) + len(result.rejects) == len(rows)
    reasons = dict(zip(result.rejects["source_row"], result.rejects["reason"], strict=True))
    assert reasons == {
        2: "invalid store number: 'ABC12' is not 1-6 digits",
        3: "invalid store number: '126.5' is fractional",
        4: "invalid store number: '1234567' has more than 6 digits",
        5: "invalid store number: '-3' is negative",
        6: "missing store name: store 000130 has no name",
        7: "invalid state: 'Ohio' is not two letters",
        8: "invalid open date: 'someday' is not a date",
        9: "unknown status: 'Pending' is not Open or Closed",
        10: "duplicate store number: 000126 is already on row 1",
        14: "invalid store number: empty",
    }
    clean = result.clean.set_index("store_id")
    assert clean.loc["000126", "store_name"] == "Main"
    assert clean.loc["000134", "location"] == "OH" and clean.loc["000134", "opened_on"] == date(2020, 2, 3)
    assert clean.loc["000134", "active"]
    assert clean.loc["000135", "location"] == "Kent" and clean.loc["000135", "opened_on"] == date(2021, 2, 3)
    assert clean.loc["000136", "location"] is None and clean.loc["000136", "opened_on"] == date(2020, 1, 1)
    assert not result.clean["store_id"].duplicated().any()
    raw_row = result.rejects["raw"].iloc[0]
    assert raw_row["Stores Number 0"] == "ABC12" and raw_row["Store Name"] == "Letters"
    json.dumps(result.rejects["raw"].tolist())


def test_transform_accepts_a_frame_without_source_row():
    import pandas as pd

    raw = pd.DataFrame([["7", "Seven", "Kent", "OH", None, "Open"], ["x", "Bad", None, None, None, None]],
                       columns=HEADER[:6])
    result = transform_stores(raw)
    assert result.clean["store_id"].tolist() == ["000007"]
    assert result.rejects["source_row"].tolist() == [2]
