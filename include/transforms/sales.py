"""Dataverse ``crf63_saleschanneldailies`` records -> ``sales.channel_daily`` (vectorised)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from include.transforms.common import (
    FirstReason,
    Transformed,
    clean_text,
    ensure_source_row,
    make_rejects,
    normalise_store_ids,
    raw_dicts,
    raw_value,
    store_id_problem,
)
from include.transforms.dayparts import SALES_DAYPARTS
from include.transforms.jsonl import INVALID_JSON_COLUMN, read_jsonl

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["CLEAN_COLUMNS", "KEY", "read_jsonl", "transform_sales"]

CLEAN_COLUMNS = (
    "store_id", "business_date", "channel", "daypart", "net_sales", "orders", "discounts",
    "ly_net_sales", "ly_orders", "source_id", "source_modified",
)
KEY = ("store_id", "business_date", "channel", "daypart")
RAW_COLUMNS = (
    "crf63_saleschanneldailyid", "crf63_storenumber", "crf63_calendardate", "crf63_sourceactor",
    "crf63_sourcechannel", "crf63_daypart", "crf63_tynetsalesusd", "crf63_tyorders", "crf63_discountsusd",
    "crf63_lynetsalesusd", "crf63_lyorders", "crf63_businesskey", "crf63_lastrefreshed", "modifiedon",
)
_MIDNIGHT_SUFFIX = r"T00:00:00(?:\.0+)?(?:Z|[+-]00:00)?$"
_DAYPART_BY_LOWER = {name.lower(): name for name in SALES_DAYPARTS}


def _column(records: pd.DataFrame, name: str) -> pd.Series:
    import pandas as pd

    if name in records.columns:
        return records[name]
    return pd.Series([None] * len(records), index=records.index, dtype=object)


def _text(values: pd.Series) -> pd.Series:
    """Stripped text, missing (NaN) for missing or blank values."""
    text = values.astype("str").str.strip()
    return text.where(text != "")


def _each(values: pd.Series, sentence: Callable[[str | None], str]) -> Callable[[np.ndarray], list[str]]:
    """A reason builder for :meth:`FirstReason.add`: one sentence per flagged raw value."""

    def build(positions: np.ndarray) -> list[str]:
        return [sentence(clean_text(v) if isinstance(v, float) else raw_value(v))
                for v in values.iloc[positions].tolist()]

    return build


def _numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """(float values, missing mask, not-a-number mask) of a raw column."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype):
        numbers = values.astype("float64")
        missing = values.isna().to_numpy()
    else:
        text = _text(values)
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        missing = text.isna().to_numpy()
    array = numbers.to_numpy(dtype="float64", na_value=np.nan)
    invalid = ~missing & ~np.isfinite(array)
    return numbers, missing, invalid


def _check_amount(
    reasons: FirstReason, raw: pd.Series, label: str, *, required: bool, whole: bool, non_negative: bool
) -> pd.Series:
    """Validate one numeric column, adding reasons; return its float values (NaN where missing)."""
    import numpy as np

    numbers, missing, invalid = _numbers(raw)
    if required:
        reasons.add(missing, f"missing {label}: the record has no value")
    reasons.add(invalid, _each(raw, lambda v: f"invalid {label}: '{v}' is not a number"))
    array = numbers.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        if non_negative:
            reasons.add(array < 0, _each(raw, lambda v: f"negative {label}: {v} is below zero"))
        if whole:
            reasons.add(np.isfinite(array) & (array != np.round(array)),
                        _each(raw, lambda v: f"invalid {label}: '{v}' is not a whole number"))
    return numbers


def transform_sales(records: pd.DataFrame) -> Transformed:
    """Clean channel-day-daypart sales rows; a repeated business key keeps its first record.

    Rejected: invalid JSON lines, bad store numbers, empty or unparseable dates, unknown
    day parts, missing channels, missing/non-numeric/negative net sales or orders,
    fractional orders, non-numeric optional amounts, and duplicates of an earlier key.
    Missing discounts load as 0; missing last-year values stay empty.
    """
    import numpy as np
    import pandas as pd

    records = ensure_source_row(records)
    n = len(records)
    reasons = FirstReason(n)
    if INVALID_JSON_COLUMN in records.columns:
        reasons.add(records[INVALID_JSON_COLUMN].notna(), "invalid JSON: the line is not a JSON object")

    store_raw = _column(records, "crf63_storenumber")
    store_id = normalise_store_ids(store_raw)
    reasons.add(
        store_id.isna(),
        _each(store_raw, lambda v: store_id_problem(v) or f"invalid store number: '{v}' is not 1-6 digits"),
    )

    date_raw = _column(records, "crf63_calendardate")
    date_text = _text(date_raw)
    business_date = pd.to_datetime(
        date_text.str.replace(_MIDNIGHT_SUFFIX, "", regex=True), format="%Y-%m-%d", errors="coerce"
    )
    reasons.add(date_text.isna(), "invalid date: empty")
    reasons.add(business_date.isna(), _each(date_raw, lambda v: f"invalid date: '{v}' is not YYYY-MM-DD"))

    daypart_raw = _column(records, "crf63_daypart")
    daypart = _text(daypart_raw).str.lower().map(_DAYPART_BY_LOWER)
    allowed = ", ".join(SALES_DAYPARTS)
    reasons.add(daypart.isna(), _each(daypart_raw, lambda v: f"unknown day part: '{v or ''}' is not one of {allowed}"))

    channel = _text(_column(records, "crf63_sourcechannel")).str.lower()
    reasons.add(channel.isna(), "missing channel: the record has no sales channel")

    net_sales = _check_amount(reasons, _column(records, "crf63_tynetsalesusd"), "net sales",
                              required=True, whole=False, non_negative=True)
    orders = _check_amount(reasons, _column(records, "crf63_tyorders"), "orders",
                           required=True, whole=True, non_negative=True)
    discounts = _check_amount(reasons, _column(records, "crf63_discountsusd"), "discounts",
                              required=False, whole=False, non_negative=False)
    ly_net_sales = _check_amount(reasons, _column(records, "crf63_lynetsalesusd"), "last-year net sales",
                                 required=False, whole=False, non_negative=False)
    ly_orders = _check_amount(reasons, _column(records, "crf63_lyorders"), "last-year orders",
                              required=False, whole=True, non_negative=False)

    valid = reasons.ok
    keys = pd.DataFrame(
        {"store_id": store_id, "business_date": business_date, "channel": channel, "daypart": daypart}
    )[valid]
    duplicated = keys.duplicated(keep="first").to_numpy()
    if duplicated.any():
        first_row = records["source_row"][valid].groupby(
            [keys[c] for c in KEY], sort=False
        ).transform("first").to_numpy()
        duplicate_reason = np.full(n, None, dtype=object)
        positions = np.flatnonzero(valid)[duplicated]
        duplicate_reason[positions] = [
            f"duplicate of row {row}: same store, date, channel and day part" for row in first_row[duplicated]
        ]
        mask = np.zeros(n, dtype=bool)
        mask[positions] = True
        reasons.add(mask, lambda p: duplicate_reason[p])
    valid = reasons.ok

    modified = pd.to_datetime(_text(_column(records, "modifiedon")), utc=True, errors="coerce", format="ISO8601")
    clean = pd.DataFrame(
        {
            "store_id": store_id[valid],
            "business_date": business_date[valid].dt.date.astype(object),
            "channel": channel[valid],
            "daypart": daypart[valid],
            "net_sales": net_sales[valid].round(2),
            "orders": orders[valid].astype("int64"),
            "discounts": discounts[valid].fillna(0.0).round(2),
            "ly_net_sales": ly_net_sales[valid].round(2),
            "ly_orders": ly_orders[valid].astype("Int64"),
            "source_id": _text(_column(records, "crf63_saleschanneldailyid"))[valid],
            "source_modified": modified[valid].dt.as_unit("us"),
        }
    ).reset_index(drop=True)

    rejected_positions = np.flatnonzero(~valid)
    rejected = records.iloc[rejected_positions]
    raw_columns = [c for c in records.columns if c != "source_row"]
    rejects = make_rejects(
        rejected["source_row"].tolist(), raw_dicts(rejected, raw_columns), reasons.reasons[rejected_positions]
    )
    return Transformed(clean, rejects)
