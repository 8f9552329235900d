"""Shared pieces of the transforms: store numbers, the result type and rejected-row helpers.

Every transform returns the rows it could clean and the rows it rejected, each rejected
row with its ``source_row`` (1-based), its ``raw`` values (a dict of strings) and a
``reason`` whose leading words name the kind of problem (so counts can be grouped).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Columns of a rejected-rows frame (the loader's quarantine contract).
REJECT_COLUMNS: tuple[str, ...] = ("source_row", "raw", "reason")

_STORE_TEXT = re.compile(r"^([0-9]{1,6})(?:\.0*)?$")
#: The same rule for pandas' (RE2) vectorised string methods.
STORE_PATTERN = r"^([0-9]{1,6})(?:\.0*)?$"


@dataclass
class Transformed:
    """Clean rows (target columns only, unique keys) and rejected rows of one source item."""

    clean: pd.DataFrame
    rejects: pd.DataFrame

    @property
    def rows_read(self) -> int:
        return len(self.clean) + len(self.rejects)


def is_missing(value: Any) -> bool:
    """True for None, NaN, pandas' NA/NaT and blank strings."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def normalise_store_id(value: Any) -> str | None:
    """The canonical 6-digit store number, or None when ``value`` is not a store number.

    ``126``, ``"126"``, ``"000126"``, ``126.0`` and ``" 126 "`` all give ``"000126"``.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        number = int(value)
        return f"{number:06d}" if 0 <= number <= 999_999 else None
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and 0 <= number <= 999_999:
            return f"{int(number):06d}"
        return None
    if isinstance(value, (str, Decimal)):
        match = _STORE_TEXT.match(str(value).strip())
        return match.group(1).zfill(6) if match else None
    return None


def store_id_problem(value: Any) -> str | None:
    """Why ``value`` is not a store number (a sentence starting ``invalid store number:``), or None."""
    if normalise_store_id(value) is not None:
        return None
    prefix = "invalid store number: "
    if is_missing(value):
        return prefix + "empty"
    text = str(value).strip()
    if not isinstance(value, bool):
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number):
            if number < 0:
                return prefix + f"'{text}' is negative"
            if not number.is_integer():
                return prefix + f"'{text}' is fractional"
            if number > 999_999:
                return prefix + f"'{text}' has more than 6 digits"
    if re.fullmatch(r"[0-9]{7,}", text):
        return prefix + f"'{text}' has more than 6 digits"
    return prefix + f"'{text}' is not 1-6 digits"


def normalise_store_ids(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_store_id`: canonical ids, missing (NaN) where invalid."""
    text = values.astype("str").str.strip()
    valid = text.str.fullmatch(STORE_PATTERN).fillna(False).astype(bool)
    digits = text.where(valid).str.replace(r"\.0*$", "", regex=True)
    return digits.str.zfill(6)


def clean_text(value: Any) -> str | None:
    """A cell as stripped text; None when missing or blank. Whole floats lose their ``.0``."""
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def raw_value(value: Any) -> str | None:
    """A raw value for the quarantine: its text, or None when missing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if is_missing(value):
        return None
    return str(value)


def raw_dicts(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, str | None]]:
    """The rows of ``frame`` as dicts of raw text (JSON-serialisable), for the quarantine."""
    columns = [c for c in (columns if columns is not None else frame.columns) if c != "source_row"]
    if not len(frame):
        return []
    lists = []
    for name in columns:
        column = frame[name]
        if column.dtype == object:
            lists.append([raw_value(v) for v in column.tolist()])
        else:
            text = column.astype("str")
            lists.append(text.astype(object).where(text.notna(), None).tolist())
    return [dict(zip(columns, values, strict=True)) for values in zip(*lists, strict=True)]


def object_column(values: Sequence[Any]) -> np.ndarray:
    """An ``object`` array of ``values`` (no type inference: cheap, and None stays None)."""
    import numpy as np

    column = np.empty(len(values), dtype=object)
    column[:] = list(values)
    return column


def make_rejects(
    source_rows: Iterable[int | None], raws: Iterable[dict], reasons: Iterable[str]
) -> pd.DataFrame:
    """A rejected-rows frame from parallel sequences."""
    import pandas as pd

    rows = list(source_rows)
    if not rows:
        return empty_rejects()
    return pd.DataFrame(
        {
            "source_row": pd.array(rows, dtype="Int64"),
            "raw": pd.Series(object_column(list(raws)), dtype=object),
            "reason": pd.Series(object_column(list(reasons)), dtype=object),
        }
    )


_EMPTY_REJECTS: pd.DataFrame | None = None


def empty_rejects() -> pd.DataFrame:
    """A rejected-rows frame with no rows."""
    global _EMPTY_REJECTS
    if _EMPTY_REJECTS is None:
        import numpy as np
        import pandas as pd

        _EMPTY_REJECTS = pd.DataFrame(
            {
                "source_row": pd.array([], dtype="Int64"),
                "raw": np.empty(0, dtype=object),
                "reason": np.empty(0, dtype=object),
            }
        )
    return _EMPTY_REJECTS.copy()


def records_frame(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A frame of ``columns`` from dicts, every column ``object`` so missing text stays None (not NaN)."""
    import pandas as pd

    data = {c: object_column([row[c] for row in rows]) for c in columns}
    return pd.DataFrame(data, columns=list(columns), dtype=object)


def ensure_source_row(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``source_row`` column (1..n when it has none) and a 0..n-1 index."""
    frame = frame.reset_index(drop=True)
    if "source_row" not in frame.columns:
        frame = frame.assign(source_row=range(1, len(frame) + 1))
    return frame


class FirstReason:
    """Collects one reason per row; the first check that flags a row wins."""

    def __init__(self, length: int) -> None:
        import numpy as np

        self.reasons = np.full(length, None, dtype=object)

    def add(self, mask: Any, reason: str | Callable[[np.ndarray], Sequence[str]]) -> None:
        """Give rows flagged by ``mask`` (and not flagged before) ``reason``.

        ``reason`` is one string, or a function of the flagged positions returning one string
        each (so per-row sentences are only built for the rows that need them).
        """
        import numpy as np

        flagged = np.asarray(mask, dtype=bool) & self.ok
        if not flagged.any():
            return
        if isinstance(reason, str):
            self.reasons[flagged] = reason
        else:
            positions = np.flatnonzero(flagged)
            self.reasons[positions] = np.asarray(list(reason(positions)), dtype=object)

    @property
    def ok(self) -> np.ndarray:
        """Rows without a reason so far."""
        import numpy as np

        return np.equal(self.reasons, None)


def quoted(values: pd.Series) -> pd.Series:
    """``'value'`` text for reasons (vectorised), ``''`` for missing values."""
    return "'" + values.astype("str").fillna("") + "'"


def validate_rows(
    records: pd.DataFrame,
    validate: Callable[[dict[str, Any]], tuple[dict[str, Any] | None, str | None]],
    key: str,
    duplicate: Callable[[Any, int], str],
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Validate each record in order: (clean rows, rejects).

    ``validate`` returns a clean row or a reason; the first row of each ``key`` value is kept
    and a later one is rejected with ``duplicate(value, first source_row)``.
    """
    clean: list[dict[str, Any]] = []
    reject_index: list[int] = []
    reasons: list[str] = []
    first_row: dict[Any, int] = {}
    for index, row in enumerate(records.to_dict("records")):
        item, reason = validate(row)
        if item is not None and item[key] in first_row:
            item, reason = None, duplicate(item[key], first_row[item[key]])
        if item is None:
            reject_index.append(index)
            reasons.append(reason or "invalid row")
            continue
        first_row[item[key]] = int(row["source_row"])
        clean.append(item)
    rejected = records.iloc[reject_index]
    return clean, make_rejects(rejected["source_row"].tolist(), raw_dicts(rejected), reasons)
