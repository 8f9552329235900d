"""Dataverse ``crf63_bwfiscalcalendars`` records -> ``core.fiscal_calendar``.

Fiscal weeks run Monday to Sunday; fiscal year Y starts on the first Monday on or after
26 December of Y-1. Records that disagree with that rule are rejected, so the weekly
reports never mix two definitions of a week.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from include.transforms.common import (
    Transformed,
    clean_text,
    ensure_source_row,
    is_missing,
    records_frame,
    validate_rows,
)
from include.transforms.jsonl import INVALID_JSON_COLUMN

if TYPE_CHECKING:
    import pandas as pd

CLEAN_COLUMNS = ("calendar_date", "fiscal_year", "fiscal_week", "fiscal_week_label")
RAW_COLUMNS = (
    "crf63_bwfiscalcalendarid",
    "crf63_date",
    "crf63_fiscalyearlabel",
    "crf63_fiscalweeknumber",
    "crf63_fiscalyearnumber",
)

_DATE_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T00:00:00(?:\.0+)?(?:Z|[+-]00:00)?)?$")


def fiscal_year_start(year: int) -> date:
    """The first day (a Monday) of fiscal year ``year``: the first Monday on or after 26 Dec of ``year - 1``."""
    dec26 = date(year - 1, 12, 26)
    return dec26 + timedelta(days=(7 - dec26.weekday()) % 7)


def fiscal_week_of(day: date) -> tuple[int, int]:
    """``(fiscal_year, fiscal_week)`` of a date."""
    year = day.year + 1 if day >= fiscal_year_start(day.year + 1) else day.year
    return year, (day - fiscal_year_start(year)).days // 7 + 1


def fiscal_week_label(year: int, week: int) -> str:
    """``Y2026W08``."""
    return f"Y{year}W{week:02d}"


def parse_iso_date(value: Any) -> date | None:
    """A ``YYYY-MM-DD`` date (a midnight time suffix is allowed); None when missing or unparseable."""
    if is_missing(value):
        return None
    match = _DATE_TEXT.match(str(value).strip())
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def parse_whole_number(value: Any) -> int | None:
    """An integer from ``8``, ``8.0`` or ``"8"``; None when missing or not a whole number."""
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number.is_integer() else None


def _calendar_row(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    day = parse_iso_date(row.get("crf63_date"))
    if day is None and is_missing(row.get("crf63_date")):
        return None, "invalid date: empty"
    if day is None:
        return None, f"invalid date: '{clean_text(row.get('crf63_date')) or ''}' is not YYYY-MM-DD"
    week = parse_whole_number(row.get("crf63_fiscalweeknumber"))
    if week is None or not 1 <= week <= 53:
        return None, f"invalid fiscal week: '{clean_text(row.get('crf63_fiscalweeknumber')) or ''}' is not 1-53"
    label = clean_text(row.get("crf63_fiscalyearlabel"))
    label_year = None
    if label is not None:
        match = re.fullmatch(r"FY(\d{4})", label, flags=re.IGNORECASE)
        if not match:
            return None, f"invalid fiscal year: label '{label}' is not FY and four digits"
        label_year = int(match.group(1))
    year = parse_whole_number(row.get("crf63_fiscalyearnumber"))
    if year is None and not is_missing(row.get("crf63_fiscalyearnumber")):
        return None, f"invalid fiscal year: '{clean_text(row.get('crf63_fiscalyearnumber'))}' is not a year"
    year = year if year is not None else label_year
    if year is None:
        return None, "invalid fiscal year: the record has neither a year number nor a label"
    if label_year is not None and label_year != year:
        return None, f"invalid fiscal year: label '{label}' disagrees with year number {year}"
    expected = fiscal_week_of(day)
    if expected != (year, week):
        return None, (
            f"fiscal week disagrees with the calendar rule: {day.isoformat()} is "
            f"{fiscal_week_label(*expected)}, the record says {fiscal_week_label(year, week)}"
        )
    return {
        "calendar_date": day,
        "fiscal_year": year,
        "fiscal_week": week,
        "fiscal_week_label": fiscal_week_label(year, week),
    }, None


def transform_calendar(records: pd.DataFrame) -> Transformed:
    """Clean calendar days; a repeated date keeps its first record."""
    import pandas as pd

    records = ensure_source_row(records)

    def validate(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        if pd.notna(row.get(INVALID_JSON_COLUMN)):
            return None, "invalid JSON: the line is not a JSON object"
        return _calendar_row(row)

    clean, rejects = validate_rows(
        records, validate, "calendar_date",
        lambda day, first: f"duplicate date: {day.isoformat()} is already on row {first}",
    )
    frame = records_frame(clean, CLEAN_COLUMNS).astype({"fiscal_year": "int64", "fiscal_week": "int64"})
    return Transformed(frame, rejects)
