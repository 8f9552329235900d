"""Reading worksheets of the dimensions workbook into raw frames that keep their row numbers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_sheet(path: Path, sheet: str, header_name: str | None = None, search_rows: int = 20) -> pd.DataFrame:
    """A worksheet as a frame of raw cell values plus ``source_row`` (1 = first row under the header).

    The header is the first row when ``header_name`` is None, else the first of the first
    ``search_rows`` rows holding a cell equal to ``header_name`` (banner rows may sit above).
    Entirely blank rows are skipped (they are not data), but row numbers keep counting them.
    Columns without a header are dropped; a repeated header name keeps its first column.
    """
    import openpyxl
    import pandas as pd

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet not in workbook.sheetnames:
            raise ValueError(f"{Path(path).name}: no sheet {sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
        rows = workbook[sheet].iter_rows(values_only=True)
        header: tuple | None = None
        for index, row in enumerate(rows):
            if header_name is None or any(isinstance(v, str) and v.strip() == header_name for v in row):
                header = row
                break
            if index + 1 >= search_rows:
                break
        if header is None:
            where = (
                "on its first row"
                if header_name is None
                else f"with a {header_name!r} column in its first {search_rows} rows"
            )
            raise ValueError(f"{Path(path).name}: sheet {sheet!r} has no header row {where}")
        positions: dict[str, int] = {}
        for position, name in enumerate(header):
            if not _is_blank(name):
                positions.setdefault(str(name).strip(), position)
        records: list[list[Any]] = []
        numbers: list[int] = []
        for number, row in enumerate(rows, start=1):
            if all(_is_blank(v) for v in row):
                continue
            records.append([row[p] if p < len(row) else None for p in positions.values()])
            numbers.append(number)
    finally:
        workbook.close()
    frame = pd.DataFrame(records, columns=list(positions), dtype=object)
    if frame.empty:
        frame = pd.DataFrame({name: pd.Series(dtype=object) for name in positions})
    frame["source_row"] = pd.array(numbers, dtype="int64")
    return frame


def require_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    """Raise a clear error naming the required columns that ``frame`` lacks."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(map(repr, missing))}; it has {list(frame.columns)}")
