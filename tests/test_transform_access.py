"""Store access: the Access sheet and the Dataverse records, ALL expansion, emails, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from include.transforms.access import read_access_records, read_access_sheet, transform_access

HEADER = ["Email", "First Name", "Last Name", "Stores", "Access Level", "Active"]
KNOWN = {"000126", "000127", "000128"}


def workbook(path: Path, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Stores"
    sheet = book.create_sheet("Access")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def grants_of(result, email: str) -> dict[str, str]:
    rows = result.grants[result.grants["email"] == email]
    return dict(zip(rows["store_id"], rows["access_level"], strict=True))


def test_sheet_rows_become_users_and_grants(tmp_path):
    raw = read_access_sheet(workbook(tmp_path / "dims.xlsx", [
        [" Ann.Manager@Beachwood.example ", "Ann", "Manager", "126; 000127", "View", "Yes"],
        ["area@beachwood.example", "Area", "Lead", "ALL", "explore", None],
        ["single@beachwood.example", "Sam", None, 128, "ADMIN", "FALSE"],
        ["nobody@beachwood.example", "No", "Stores", None, "view", 0],
    ]))
    assert raw["source_row"].tolist() == [1, 2, 3, 4]
    result = transform_access(raw, KNOWN)
    assert result.rejects.empty
    assert result.users.to_dict("records") == [
        {"email": "ann.manager@beachwood.example", "first_name": "Ann", "last_name": "Manager", "active": True},
        {"email": "area@beachwood.example", "first_name": "Area", "last_name": "Lead", "active": True},
        {"email": "single@beachwood.example", "first_name": "Sam", "last_name": None, "active": False},
        {"email": "nobody@beachwood.example", "first_name": "No", "last_name": "Stores", "active": False},
    ]
    assert grants_of(result, "ann.manager@beachwood.example") == {"000126": "view", "000127": "view"}
    assert grants_of(result, "area@beachwood.example") == dict.fromkeys(sorted(KNOWN), "explore")
    assert grants_of(result, "single@beachwood.example") == {"000128": "admin"}
    assert grants_of(result, "nobody@beachwood.example") == {}
    assert not result.grants.duplicated(["email", "store_id"]).any()
    assert result.rows_read == 4


def test_invalid_rows_are_rejected_whole_with_reasons(tmp_path):
    rows = [
        ["ok@beachwood.example", "Ok", "User", "126", "view", "Yes"],
        ["not-an-email", "Bad", "Email", "126", "view", "Yes"],
        [None, "No", "Email", "126", "view", "Yes"],
        ["unknown@beachwood.example", "Un", "Known", "126, 999", "view", "Yes"],
        ["letters@beachwood.example", "Bad", "Store", "12a", "view", "Yes"],
        ["level@beachwood.example", "Bad", "Level", "126", "owner", "Yes"],
        ["flag@beachwood.example", "Bad", "Flag", "126", "view", "maybe"],
        ["OK@Beachwood.Example", "Second", "Row", "127", "admin", "Yes"],
        ["nolevel@beachwood.example", "No", "Level", "126", None, "Yes"],
    ]
    result = transform_access(read_access_sheet(workbook(tmp_path / "dims.xlsx", rows)), KNOWN)
    assert result.rows_read == len(rows) == len(result.users) + len(result.rejects)
    reasons = dict(zip(result.rejects["source_row"], result.rejects["reason"], strict=True))
    assert reasons == {
        2: "invalid email: 'not-an-email' is not an email address",
        3: "invalid email: '' is not an email address",
        4: "unknown store: 000999 is not in the store list, so the row grants nothing",
        5: "invalid store number: '12a' is not 1-6 digits",
        6: "unknown access level: 'owner' is not view, explore or admin",
        7: "invalid active flag: 'maybe' is not Yes or No",
        8: "duplicate email: 'ok@beachwood.example' is already on row 1",
        9: "unknown access level: '' is not view, explore or admin",
    }
    assert result.users["email"].tolist() == ["ok@beachwood.example"]
    assert result.grants.to_dict("records") == [{"email": "ok@beachwood.example", "store_id": "000126",
                                                 "access_level": "view"}]
    assert set(result.grants["email"]) <= set(result.users["email"])
    assert result.rejects["raw"].iloc[2]["Stores"] == "126, 999"
    json.dumps(result.rejects["raw"].tolist())


def test_known_stores_in_any_form_and_all_is_case_insensitive():
    raw = pd.DataFrame([["a@b.example", "A", "B", "all", "view", "1"]], columns=HEADER)
    result = transform_access(raw, {"126", 127, "000128"})
    assert sorted(result.grants["store_id"]) == ["000126", "000127", "000128"]


def test_dataverse_records_take_the_sheet_shape():
    records = pd.DataFrame([
        {"crf63_storeaccessid": "g1", "crf63_email": "Dv@Beachwood.example", "crf63_firstname": "Dee",
         "crf63_lastname": "Vee", "crf63_stores": "126;127", "crf63_accesslevel": "Explore", "crf63_active": True,
         "source_row": 4},
        {"crf63_storeaccessid": "g2", "crf63_email": "off@beachwood.example", "crf63_firstname": None,
         "crf63_lastname": None, "crf63_stores": "128", "crf63_accesslevel": "view", "crf63_active": False,
         "source_row": 5},
    ])
    raw = read_access_records(records)
    assert list(raw.columns) == [*HEADER, "source_row"]
    result = transform_access(raw, KNOWN)
    assert result.users[["email", "active"]].to_dict("records") == [
        {"email": "dv@beachwood.example", "active": True}, {"email": "off@beachwood.example", "active": False}]
    assert grants_of(result, "dv@beachwood.example") == {"000126": "explore", "000127": "explore"}
    bad = read_access_records(pd.DataFrame([{"crf63_email": "x"}]))
    rejected = transform_access(bad, KNOWN)
    assert rejected.rejects["source_row"].tolist() == [1]


def test_missing_columns_are_a_clear_error():
    with pytest.raises(ValueError, match="lacks column\\(s\\) 'Access Level'"):
        transform_access(pd.DataFrame(columns=["Email", "First Name", "Last Name", "Stores", "Active"]), KNOWN)
