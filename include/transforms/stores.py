"""The ``Stores`` sheet of ``BI Dimensions.xlsx`` -> ``core.stores``."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.transforms.common import (
    Transformed,
    clean_text,
    ensure_source_row,
    is_missing,
    normalise_store_id,
    records_frame,
    store_id_problem,
    validate_rows,
)
from include.transforms.sheets import read_sheet, require_columns

if TYPE_CHECKING:
    import pandas as pd

STORE_NUMBER_COLUMN = "Stores Number 0"
COLUMNS = (STORE_NUMBER_COLUMN, "Store Name", "City", "State", "Open Date", "Status")
CLEAN_COLUMNS = ("store_id", "store_name", "location", "opened_on", "active")

_EXCEL_EPOCH = date(1899, 12, 30)
_STATUS = {"open": True, "closed": False}


def read_stores_sheet(path: Path, sheet: str = "Stores") -> pd.DataFrame:
    """The raw rows of the Stores sheet; the header row is found by its ``Stores Number 0`` column."""
    return read_sheet(path, sheet, header_name=STORE_NUMBER_COLUMN)


def parse_excel_date(value: Any) -> date | None:
    """A date from an Excel cell (date, datetime, serial number or ISO/US text); ValueError if it is none."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 2_958_466 and float(value).is_integer():
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise ValueError(f"'{value}' is not a date")
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]00:00(:00)?)?", text):
        return date.fromisoformat(text[:10])
    try:
        return datetime.strptime(text, "%m/%d/%Y").date()
    except ValueError:
        raise ValueError(f"'{text}' is not a date") from None


def _store_row(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """One cleaned store, or the reason it is rejected."""
    store_id = normalise_store_id(row[STORE_NUMBER_COLUMN])
    if store_id is None:
        return None, store_id_problem(row[STORE_NUMBER_COLUMN])
    name = clean_text(row["Store Name"])
    if name is None:
        return None, f"missing store name: store {store_id} has no name"
    city = clean_text(row["City"])
    state = clean_text(row["State"])
    if state is not None:
        if not re.fullmatch(r"[A-Za-z]{2}", state):
            return None, f"invalid state: '{state}' is not two letters"
        state = state.upper()
    opened_on = None
    if not is_missing(row["Open Date"]):
        try:
            opened_on = parse_excel_date(row["Open Date"])
        except ValueError as error:
            return None, f"invalid open date: {error}"
    status = clean_text(row["Status"])
    if status is not None and status.lower() not in _STATUS:
        return None, f"unknown status: '{status}' is not Open or Closed"
    location = ", ".join(part for part in (city, state) if part) or None
    return {
        "store_id": store_id,
        "store_name": name,
        "location": location,
        "opened_on": opened_on,
        "active": True if status is None else _STATUS[status.lower()],
    }, None


def transform_stores(raw: pd.DataFrame) -> Transformed:
    """Clean store rows for ``core.stores``; a repeated store number keeps its first row.

    An empty ``Status`` counts as open; an empty ``Open Date`` leaves ``opened_on`` empty.
    """
    require_columns(raw, COLUMNS, "the Stores sheet")
    raw = ensure_source_row(raw)
    clean, rejects = validate_rows(
        raw, _store_row, "store_id",
        lambda store_id, first: f"duplicate store number: {store_id} is already on row {first}",
    )
    frame = records_frame(clean, CLEAN_COLUMNS).astype({"active": bool})
    return Transformed(frame, rejects)
