"""The fiscal calendar: the week rule, labels and rejected records."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from include.transforms.calendar import fiscal_week_of, fiscal_year_start, transform_calendar
from include.transforms.jsonl import read_jsonl


def record(day: str, week, year=2026, label="FY2026", **extra) -> dict:
    return {"crf63_bwfiscalcalendarid": f"id-{day}", "crf63_date": day, "crf63_fiscalyearlabel": label,
            "crf63_fiscalweeknumber": week, "crf63_fiscalyearnumber": year, "modifiedon": "2026-01-01T00:00:00Z",
            **extra}


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 12, 28), (2025, 52)),
        (date(2025, 12, 29), (2026, 1)),  # 26 Dec 2025 is a Friday: FY2026 starts Monday 29 Dec
        (date(2026, 1, 4), (2026, 1)),
        (date(2026, 1, 5), (2026, 2)),
        (date(2026, 2, 16), (2026, 8)),
        (date(2026, 12, 27), (2026, 52)),
        (date(2026, 12, 28), (2027, 1)),
        (date(2022, 12, 26), (2023, 1)),  # 26 Dec 2022 is itself a Monday
        (date(2023, 12, 31), (2023, 53)),  # FY2024 starts 1 Jan 2024: FY2023 has 53 weeks
        (date(2024, 1, 1), (2024, 1)),
    ],
)
def test_fiscal_week_rule(day, expected):
    assert fiscal_week_of(day) == expected


def test_fiscal_years_start_on_monday_between_26_december_and_1_january():
    for year in range(2015, 2040):
        start = fiscal_year_start(year)
        assert start.weekday() == 0
        assert date(year - 1, 12, 26) <= start <= date(year, 1, 1)
        weeks = (fiscal_year_start(year + 1) - start).days // 7
        assert weeks in (52, 53)
        assert fiscal_week_of(start + timedelta(days=7 * weeks - 1)) == (year, weeks)


def test_records_become_calendar_days_with_labels():
    records = pd.DataFrame([record("2026-02-16", 8), record("2026-02-22", "8", "2026"), record("2025-12-29", 1.0)])
    result = transform_calendar(records)
    assert result.rejects.empty
    assert result.clean.to_dict("records") == [
        {"calendar_date": date(2026, 2, 16), "fiscal_year": 2026, "fiscal_week": 8, "fiscal_week_label": "Y2026W08"},
        {"calendar_date": date(2026, 2, 22), "fiscal_year": 2026, "fiscal_week": 8, "fiscal_week_label": "Y2026W08"},
        {"calendar_date": date(2025, 12, 29), "fiscal_year": 2026, "fiscal_week": 1, "fiscal_week_label": "Y2026W01"},
    ]


def test_invalid_records_are_rejected_with_reasons(tmp_path):
    lines = [
        json.dumps(record("2026-02-16", 8)),
        json.dumps(record("16/02/2026", 8)),
        json.dumps(record("", 8)),
        json.dumps(record("2026-02-17", 54)),
        json.dumps(record("2026-02-18", "eight")),
        json.dumps(record("2026-02-19", 8, label="FY2025")),
        json.dumps(record("2026-02-20", 9)),
        json.dumps(record("2026-02-16", 8)),
        "{not json",
        json.dumps(record("2026-02-21", 8, year=None)),
        json.dumps(record("2026-02-21T00:00:00Z", 8, label=None)),
    ]
    path = tmp_path / "crf63_bwfiscalcalendars.jsonl"
    path.write_text("\n".join(lines) + "\n")
    raw = read_jsonl(path)
    assert raw["source_row"].tolist() == list(range(1, 12))
    result = transform_calendar(raw)
    assert len(result.clean) + len(result.rejects) == len(lines)
    reasons = dict(zip(result.rejects["source_row"], result.rejects["reason"], strict=True))
    assert reasons == {
        2: "invalid date: '16/02/2026' is not YYYY-MM-DD",
        3: "invalid date: empty",
        4: "invalid fiscal week: '54' is not 1-53",
        5: "invalid fiscal week: 'eight' is not 1-53",
        6: "invalid fiscal year: label 'FY2025' disagrees with year number 2026",
        7: "fiscal week disagrees with the calendar rule: 2026-02-20 is Y2026W08, the record says Y2026W09",
        8: "duplicate date: 2026-02-16 is already on row 1",
        9: "invalid JSON: the line is not a JSON object",
        11: "duplicate date: 2026-02-21 is already on row 10",
    }
    assert result.clean["calendar_date"].tolist() == [date(2026, 2, 16), date(2026, 2, 21)]
    assert result.rejects["raw"].iloc[0]["crf63_date"] == "16/02/2026"
    json.dumps(result.rejects["raw"].tolist())
