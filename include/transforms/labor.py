"""Labor zips -> ``labor.hours_daypart`` and ``labor.employees``.

A zip ``{store}.pay_summ.{YYYYMMDD}.{HHMMSS}.zip`` (or ``.summary.``) holds tab-delimited
timecard and employee-detail members without headers. Every timecard of the file dated D
belongs to business day D, which runs [D 08:00, D+1 08:00); a shift's paid hours
((regular + overtime) / 60) are split across the labor day parts by the minutes it spends
in each. A zip holds about forty shifts, so the work is plain Python per zip (no frame
per row); frames are built once at the end.
"""

from __future__ import annotations

import logging
import math
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from include.transforms.common import make_rejects, normalise_store_id, object_column
from include.transforms.dayparts import LABOR_DAYPART_NAMES, split_minutes_by_daypart

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

HOURS_COLUMNS = ("store_id", "employee_id", "business_date", "daypart", "hours", "employee_name", "source_item")
EMPLOYEE_COLUMNS = ("store_id", "employee_id", "first_name", "last_name")

#: Names of the timecard fields by position (for the quarantine's ``raw``).
TIMECARD_FIELDS = (
    "store", "record_id", "business_date", "job_code", "job_name", "pay_rate", "shift_type",
    "clock_in", "clock_out", "break_minutes", "employee_id", "position", "regular_minutes", "overtime_minutes",
)
EMPLOYEE_FIELDS = ("field_0", "field_1", "field_2", "employee_id", "first_name", "last_name")

#: The business day ends (and the next begins) at this hour of D+1.
DAY_ROLLOVER_HOUR = 8

_FILE_NAME = re.compile(
    r"^(?P<store>[0-9]{1,6})\.(?:pay_summ|summary)\.(?P<date>[0-9]{8})\.(?P<stamp>[0-9]{6})\.zip$", re.IGNORECASE
)
_TIMECARD_MEMBER = re.compile(r"\.p_hs_timecard_record\.[0-9]{8}(?:_(?P<n>[0-9]+))?\.(?:csv|txt|tsv)$", re.IGNORECASE)
_PART_ORDER = {name: index for index, name in enumerate(LABOR_DAYPART_NAMES)}
_EMPLOYEE_MEMBER = re.compile(r"\.p_hs_employee_detail\.[0-9]{8}(?:_(?P<n>[0-9]+))?\.(?:csv|txt|tsv)$", re.IGNORECASE)


class LaborFileName(NamedTuple):
    """What a labor zip's name says: store, business date and the export time stamp (``HHMMSS``)."""

    store_id: str
    business_date: date
    stamp: str


class LaborFileSelection(NamedTuple):
    """File names sorted into the newest per (store, date), older ones, and names that are not labor zips."""

    chosen: list[str]
    superseded: list[str]
    unrecognised: list[str]


@dataclass
class LaborResult:
    """The clean rows and the rejects of one labor zip.

    ``rows_read`` counts timecard rows; ``rows_read == timecards_loaded + len(rejects)``.
    ``hours`` is aggregated by (store, employee, date, day part), so it has fewer rows than
    the timecards it came from. Employee-detail rows that cannot be used are in
    ``employee_rejects`` (they are not timecards and not counted in ``rows_read``).
    """

    source_item: str
    store_id: str
    business_date: date
    hours: pd.DataFrame
    employees: pd.DataFrame
    rejects: pd.DataFrame
    employee_rejects: pd.DataFrame
    rows_read: int
    timecards_loaded: int


def _base_name(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def parse_labor_file_name(name: str) -> LaborFileName:
    """Store, business date and stamp of ``{store}.pay_summ|summary.{YYYYMMDD}.{HHMMSS}.zip``; ValueError otherwise."""
    base = _base_name(name)
    match = _FILE_NAME.match(base)
    if not match:
        raise ValueError(f"not a labor file name: {base!r} (expected {{store}}.pay_summ.{{YYYYMMDD}}.{{HHMMSS}}.zip)")
    try:
        business_date = datetime.strptime(match["date"], "%Y%m%d").date()
        datetime.strptime(match["stamp"], "%H%M%S")
    except ValueError:
        raise ValueError(f"not a labor file name: {base!r} has an impossible date or time") from None
    return LaborFileName(match["store"].zfill(6), business_date, match["stamp"])


def select_newest_files(names: Iterable[str]) -> LaborFileSelection:
    """The newest zip (highest stamp) per (store, business date); the others are superseded.

    Chosen names come ordered by business date then store. Two names with the same stamp
    (``pay_summ`` and ``summary``) are ordered by name, the last one winning.
    """
    groups: dict[tuple[str, date], list[tuple[str, str]]] = {}
    unrecognised: list[str] = []
    for name in names:
        try:
            parsed = parse_labor_file_name(name)
        except ValueError:
            unrecognised.append(name)
            continue
        groups.setdefault((parsed.store_id, parsed.business_date), []).append((parsed.stamp, name))
    chosen: list[str] = []
    superseded: list[str] = []
    for key in sorted(groups, key=lambda k: (k[1], k[0])):
        versions = sorted(groups[key])
        chosen.append(versions[-1][1])
        superseded.extend(name for _, name in versions[:-1])
    return LaborFileSelection(chosen, sorted(superseded), unrecognised)


def parse_clock(text: str) -> datetime | None:
    """Store-local clock time from ``YYYY-MM-DD HH:MM:SS TZ`` (the zone is dropped); None if unparseable."""
    parts = text.split()
    if not 1 <= len(parts) <= 3:
        return None
    if len(parts) == 3 and not parts[2].isalpha():
        return None
    candidate = parts[0] if len(parts) == 1 else f"{parts[0]} {parts[1]}"
    if len(candidate) < 16:
        return None
    try:
        value = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return value.replace(tzinfo=None)


def _minutes(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@lru_cache(maxsize=4096)
def business_day_bounds(business_date: date) -> tuple[datetime, datetime, datetime]:
    """(earliest allowed clock-in D 00:00, day start D 08:00, day end D+1 08:00)."""
    midnight = datetime.combine(business_date, time())
    start = midnight + timedelta(hours=DAY_ROLLOVER_HOUR)
    return midnight, start, start + timedelta(days=1)


def split_shift_hours(
    clock_in: datetime, clock_out: datetime, business_date: date, paid_minutes: float
) -> dict[str, float]:
    """Paid hours of one valid shift by labor day part, capped at the end of the business day.

    ``paid_minutes`` (regular + overtime) is pro-rated by the share of the shift before
    D+1 08:00, then split by the minutes spent in each day part. The values add up to
    ``paid_minutes / 60 * capped share``.
    """
    _, _, day_end = business_day_bounds(business_date)
    end = min(clock_out, day_end)
    full = (clock_out - clock_in).total_seconds()
    kept = (end - clock_in).total_seconds()
    hours = paid_minutes / 60.0 * (kept / full)
    minutes = split_minutes_by_daypart(clock_in, end)
    total = sum(minutes.values())
    return {part: hours * spent / total for part, spent in minutes.items()}


def _timecard_problem(
    fields: list[str], store_id: str, business_date: date
) -> tuple[str | None, tuple[datetime, datetime, str, float] | None]:
    """The reason a timecard row is rejected, or its (clock-in, clock-out, employee, paid minutes)."""
    if len(fields) < len(TIMECARD_FIELDS):
        return f"malformed row: {len(fields)} fields, {len(TIMECARD_FIELDS)} expected", None
    if fields[0] != store_id and normalise_store_id(fields[0]) != store_id:
        return f"store mismatch: row store '{fields[0].strip()}' is not the file's store {store_id}", None
    clock_in = parse_clock(fields[7])
    if clock_in is None:
        return f"invalid clock-in: '{fields[7].strip()}' is not YYYY-MM-DD HH:MM:SS", None
    clock_out = parse_clock(fields[8])
    if clock_out is None:
        return f"invalid clock-out: '{fields[8].strip()}' is not YYYY-MM-DD HH:MM:SS", None
    if clock_out <= clock_in:
        return f"clock-out not after clock-in: {clock_in} to {clock_out}", None
    earliest, _, day_end = business_day_bounds(business_date)
    if not earliest <= clock_in < day_end:
        return (
            f"clock-in outside the business day: {clock_in} is not in [{earliest:%Y-%m-%d %H:%M}, "
            f"{day_end:%Y-%m-%d %H:%M}) for business date {business_date}"
        ), None
    employee_id = fields[10].strip()
    if not employee_id:
        return "missing employee id: the timecard has no employee id", None
    paid = 0.0
    for position, label in ((12, "regular"), (13, "overtime")):
        value = _minutes(fields[position].strip())
        if value is None:
            return f"invalid minutes: {label} minutes '{fields[position].strip()}' is not a number", None
        if value < 0:
            return f"invalid minutes: {label} minutes {fields[position].strip()} is negative", None
        paid += value
    return None, (clock_in, clock_out, employee_id, paid)


def _raw(file: str, member: str, fields: list[str], names: tuple[str, ...]) -> dict[str, str]:
    raw = {"file": file, "member": member}
    for position, value in enumerate(fields):
        raw[names[position] if position < len(names) else f"field_{position}"] = value
    return raw


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _lines(data: bytes) -> Iterable[tuple[int, list[str]]]:
    """(1-based line number, tab-separated fields) of the non-blank lines."""
    for number, line in enumerate(_decode(data).split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line.split("\t")


def _member_order(name: str, pattern: re.Pattern[str]) -> tuple[int, str]:
    match = pattern.search(name)
    return (int(match["n"]) if match and match["n"] else 0, name)


@dataclass
class _ZipRows:
    """One zip read into plain Python rows (frames are built later, once)."""

    name: str
    store_id: str
    business_date: date
    hours: list[tuple]
    employees: list[tuple]
    rejects: tuple[list[int], list[dict], list[str]]
    employee_rejects: tuple[list[int], list[dict], list[str]]
    rows_read: int
    timecards_loaded: int


def _read_members(path: Path) -> tuple[list[str], list[str], dict[str, bytes]]:
    """(timecard members, employee-detail members, their bytes) of a labor zip."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path.name} is not a readable zip file: {error}") from None
    with archive:
        members = [m for m in archive.namelist() if not m.endswith("/")]
        timecards = sorted((m for m in members if _TIMECARD_MEMBER.search(_base_name(m))),
                           key=lambda m: _member_order(_base_name(m), _TIMECARD_MEMBER))
        details = sorted((m for m in members if _EMPLOYEE_MEMBER.search(_base_name(m))),
                         key=lambda m: _member_order(_base_name(m), _EMPLOYEE_MEMBER))
        ignored = sorted(set(members) - set(timecards) - set(details))
        if ignored:
            log.warning("%s: ignoring members %s", path.name, ignored)
        if not timecards:
            log.warning("%s: no timecard member", path.name)
        return timecards, details, {m: archive.read(m) for m in timecards + details}


def _read_zip(path: Path) -> _ZipRows:
    path = Path(path)
    file_name = path.name
    parsed = parse_labor_file_name(file_name)
    store_id, business_date = parsed.store_id, parsed.business_date
    timecards, details, contents = _read_members(path)

    employees: dict[str, tuple[str | None, str | None]] = {}
    employee_rejects: tuple[list[int], list[dict], list[str]] = ([], [], [])
    for member in details:
        label = _base_name(member)
        for number, fields in _lines(contents[member]):
            employee_id = fields[3].strip() if len(fields) > 3 else ""
            if len(fields) < len(EMPLOYEE_FIELDS):
                reason = f"malformed employee row: {len(fields)} fields, {len(EMPLOYEE_FIELDS)} expected"
            elif not employee_id:
                reason = "missing employee id: the employee row has no employee id"
            elif employee_id in employees:
                reason = f"duplicate employee: {employee_id} is listed earlier in the zip"
            else:
                first, last = fields[4].strip() or None, fields[5].strip() or None
                employees[employee_id] = (first, last)
                continue
            employee_rejects[0].append(number)
            employee_rejects[1].append(_raw(file_name, label, fields, EMPLOYEE_FIELDS))
            employee_rejects[2].append(reason)

    hours: dict[tuple[str, str], float] = {}
    rejects: tuple[list[int], list[dict], list[str]] = ([], [], [])
    rows_read = loaded = 0
    for member in timecards:
        label = _base_name(member)
        for number, fields in _lines(contents[member]):
            rows_read += 1
            reason, shift = _timecard_problem(fields, store_id, business_date)
            if shift is None:
                rejects[0].append(number)
                rejects[1].append(_raw(file_name, label, fields, TIMECARD_FIELDS))
                rejects[2].append(reason or "invalid row")
                continue
            loaded += 1
            clock_in, clock_out, employee_id, paid = shift
            for part, value in split_shift_hours(clock_in, clock_out, business_date, paid).items():
                hours[(employee_id, part)] = hours.get((employee_id, part), 0.0) + value

    names = {e: " ".join(p for p in parts if p) or None for e, parts in employees.items()}

    keys = sorted(hours, key=lambda k: (k[0], _PART_ORDER[k[1]]))
    return _ZipRows(
        name=file_name,
        store_id=store_id,
        business_date=business_date,
        hours=[(store_id, e, business_date, part, round(hours[(e, part)], 4), names.get(e), file_name)
               for e, part in keys],
        employees=[(store_id, e, first, last) for e, (first, last) in employees.items()],
        rejects=rejects,
        employee_rejects=employee_rejects,
        rows_read=rows_read,
        timecards_loaded=loaded,
    )


def _frame(rows: list[tuple], columns: tuple[str, ...], floats: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame of object columns (None stays None) from row tuples; ``floats`` become float64."""
    import pandas as pd

    data = {c: object_column([row[i] for row in rows]) for i, c in enumerate(columns)}
    frame = pd.DataFrame(data, columns=list(columns), dtype=object)
    for column in floats:
        frame[column] = frame[column].astype("float64")
    return frame


def transform_labor_zip(path: Path) -> LaborResult:
    """Read every timecard and employee-detail member of one labor zip (see the module doc)."""
    rows = _read_zip(path)
    return LaborResult(
        source_item=rows.name,
        store_id=rows.store_id,
        business_date=rows.business_date,
        hours=_frame(rows.hours, HOURS_COLUMNS, floats=("hours",)),
        employees=_frame(rows.employees, EMPLOYEE_COLUMNS),
        rejects=make_rejects(*rows.rejects),
        employee_rejects=make_rejects(*rows.employee_rejects),
        rows_read=rows.rows_read,
        timecards_loaded=rows.timecards_loaded,
    )


@dataclass
class LaborFileCounts:
    """What one zip of a batch contributed (for the audit: ``rows_read == timecards_loaded + rejected``)."""

    source_item: str
    store_id: str
    business_date: date
    rows_read: int
    timecards_loaded: int
    rejected: int


@dataclass
class LaborBatchResult:
    """Several zips transformed together: one frame each, and per-file counts.

    ``employees`` keeps one row per (store, employee): the one from the latest business
    date among the zips. Rejected rows carry their zip's name in ``raw["file"]``.
    """

    hours: pd.DataFrame
    employees: pd.DataFrame
    rejects: pd.DataFrame
    employee_rejects: pd.DataFrame
    files: list[LaborFileCounts]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def timecards_loaded(self) -> int:
        return sum(f.timecards_loaded for f in self.files)


def _concat(parts: Iterable[tuple[list, list, list]]) -> tuple[list, list, list]:
    rows: list = []
    raws: list = []
    reasons: list = []
    for part in parts:
        rows.extend(part[0])
        raws.extend(part[1])
        reasons.extend(part[2])
    return rows, raws, reasons


def transform_labor_zips(paths: Iterable[Path]) -> LaborBatchResult:
    """:func:`transform_labor_zip` for many zips, building each frame once (the fast path for backfills).

    Pass one zip per (store, business date) (see :func:`select_newest_files`); two zips of
    the same store and date would give duplicate hour keys, so that is a ValueError.
    """
    all_rows = [_read_zip(Path(p)) for p in paths]
    seen: dict[tuple[str, date], str] = {}
    for rows in all_rows:
        key = (rows.store_id, rows.business_date)
        if key in seen:
            raise ValueError(f"{rows.name} and {seen[key]} are both for store {key[0]} on {key[1]}: pass only one")
        seen[key] = rows.name
    employees: dict[tuple[str, str], tuple] = {}
    for rows in sorted(all_rows, key=lambda r: r.business_date):
        for employee in rows.employees:
            employees[(employee[0], employee[1])] = employee
    return LaborBatchResult(
        hours=_frame([h for rows in all_rows for h in rows.hours], HOURS_COLUMNS, floats=("hours",)),
        employees=_frame(list(employees.values()), EMPLOYEE_COLUMNS),
        rejects=make_rejects(*_concat(r.rejects for r in all_rows)),
        employee_rejects=make_rejects(*_concat(r.employee_rejects for r in all_rows)),
        files=[LaborFileCounts(r.name, r.store_id, r.business_date, r.rows_read, r.timecards_loaded,
                               len(r.rejects[0])) for r in all_rows],
    )
