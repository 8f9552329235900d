"""What a generated sample holds, and exactly which of its records are deliberately bad."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class BadRecord:
    """One deliberately bad input record.

    ``source`` is ``stores``, ``access``, ``sales`` or ``labor``. ``item`` names the source item:
    ``BI Dimensions.xlsx`` for both sheets, ``crf63_saleschanneldailies`` for sales, the zip file
    name (e.g. ``000126.pay_summ.20261101.061502.zip``) for labor. ``member`` is the sheet name
    (``Stores``/``Access``), the JSONL file name, or the timecard CSV inside the zip.
    ``row`` is described in :class:`Manifest`. ``kind`` is a short code (see ``KINDS``);
    ``detail`` says what is wrong in words; ``store`` is the store the record belongs to as written.
    """

    source: str
    item: str
    member: str
    row: int
    kind: str
    detail: str
    store: str = ""


#: Every kind of bad record the generator writes, per source.
KINDS: dict[str, tuple[str, ...]] = {
    "stores": ("bad_store_number", "store_number_too_long", "missing_store_name"),
    "access": ("malformed_email", "unknown_store", "unknown_access_level"),
    "sales": ("bad_store_number", "negative_net_sales", "unknown_daypart", "duplicate_key"),
    "labor": ("too_few_fields", "clock_out_before_clock_in", "clock_in_after_business_day", "minutes_not_numeric"),
}


@dataclass
class Manifest:
    """Counts and the deliberately bad records of one generated sample.

    Row numbering (``BadRecord.row`` and every other ``row``), as the transforms report it:

    * Sheets: the 1-based data row within the sheet, header and banner rows excluded. In
      ``Stores`` (two banner rows, header on Excel row 3) data row 1 is Excel row 4; in
      ``Access`` (header on Excel row 1) data row 1 is Excel row 2.
    * Sales JSONL: the 1-based line number in ``dataverse/crf63_saleschanneldailies.jsonl``
      (there are no blank lines). A ``duplicate_key`` record always comes after the record it
      duplicates; that record's line is in its ``detail``.
    * Labor: the 1-based line number in the timecard CSV (no header row) of the zip ``item``.

    Labor zips re-sent with a newer timestamp supersede the older file (``superseded_labor_files``,
    never holding bad rows). ``missing_labor_files`` lists the (store, business date) pairs whose
    file was deliberately left out while the store traded; days a store did not trade (before it
    opened, after it closed, a remodel, ``closed_holidays``) have no file and are not listed.
    ``capped_shifts`` are valid timecard rows whose clock-out is past 08:00 of the next day.
    Store numbers are canonical (6 digits) except in ``BadRecord.store``.
    """

    seed: int
    end_date: str
    first_sales_date: str
    last_calendar_date: str
    first_calendar_date: str
    stores: int  # valid store rows in the Stores sheet
    store_ids: list[str]
    active_stores: list[str]
    closed_stores: list[str]
    store_sheet_rows: int  # data rows, bad ones included
    users: int  # valid Access rows (inactive users included)
    inactive_users: int
    access_sheet_rows: int  # data rows, bad ones included
    calendar_rows: int
    sales_rows: int  # lines in the sales JSONL, bad ones included
    labor_files: int  # zips written, superseded ones included
    labor_timecard_rows: int  # rows in the timecard CSVs of the files that count (not superseded)
    recently_opened_store: str
    recently_opened_on: str
    one_year_store: str
    tuned_store: str
    remodel: dict[str, str]  # store, first_day, last_day
    closed_holidays: list[str]
    labor_dates: list[str]
    superseded_labor_files: list[str]
    missing_labor_files: list[tuple[str, str]]  # (store, YYYY-MM-DD)
    capped_shifts: list[dict[str, object]]  # item, member, row, store, employee_id
    bad_records: list[BadRecord] = field(default_factory=list)

    def bad(self, source: str, kind: str | None = None) -> list[BadRecord]:
        """The bad records of one source (and kind)."""
        return [b for b in self.bad_records if b.source == source and (kind is None or b.kind == kind)]

    def bad_counts(self) -> dict[str, dict[str, int]]:
        """``{source: {kind: count}}`` of the bad records."""
        counts: dict[str, dict[str, int]] = {}
        for (source, kind), n in sorted(Counter((b.source, b.kind) for b in self.bad_records).items()):
            counts.setdefault(source, {})[kind] = n
        return counts

    @property
    def sales_valid_rows(self) -> int:
        """Sales lines that should load."""
        return self.sales_rows - len(self.bad("sales"))

    def to_json(self) -> str:
        data = asdict(self)
        data["bad_counts"] = self.bad_counts()
        return json.dumps(data, indent=2, sort_keys=True, default=_default) + "\n"

    def write(self, folder: Path) -> Path:
        path = Path(folder) / MANIFEST_NAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Load ``manifest.json`` from a generated sample folder."""
        data = json.loads((Path(folder) / MANIFEST_NAME).read_text(encoding="utf-8"))
        data.pop("bad_counts", None)
        data["bad_records"] = [BadRecord(**b) for b in data["bad_records"]]
        data["missing_labor_files"] = [tuple(m) for m in data["missing_labor_files"]]
        return cls(**data)


def _default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to the manifest")
