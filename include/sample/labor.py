"""Labor zips (``onedrive/Labor``): one per trading store and business date, with timecards and employees.

Shifts follow a pizza store's day: openers 07:30-15:00, lunch, mid, dinner, and closers until
23:00-01:30 (past midnight: still the same business day). Employees have stable ids per store;
regular and overtime minutes are the clock span minus the break, overtime past 40 hours in a
Monday-Sunday week. Special cases are planned up front: missing files, files re-sent with a
newer timestamp (one corrected row), bad timecard rows and a valid clock-out past 08:00.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from include.sample.calendar import closed_holidays
from include.sample.manifest import BadRecord
from include.sample.rand import rng_for
from include.sample.stores import Store

BAD_KINDS = ("too_few_fields", "clock_out_before_clock_in", "clock_in_after_business_day", "minutes_not_numeric")
BAD_PER_KIND = 3
MISSING_FILES = 3
RESENT_FILES = 2
CAPPED_SHIFTS = 1
WEEK_MINUTES = 40 * 60
NOT_NUMERIC = ("N/A", "7:30", "4.5h")

#: job code, job name, base pay rate, roster share
JOBS = (
    ("101", "General Manager", 21.50),
    ("102", "Shift Lead", 16.75),
    ("201", "Pizza Maker", 13.50),
    ("301", "Driver", 11.00),
    ("401", "Customer Service", 12.25),
)
FIRST_NAMES = (
    "James", "Mary", "Michael", "Patricia", "Robert", "Jennifer", "John", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Chris", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Ashley", "Steven", "Emily",
    "Andrew", "Megan", "Joshua", "Hannah", "Tyler", "Brianna", "Kevin", "Kayla", "Brandon", "Madison",
    "Jacob", "Olivia", "Ethan", "Abigail", "Noah", "Chloe", "Logan", "Destiny", "Jordan", "Alyssa",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker",
    "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards",
    "Kowalski", "Novak", "Schmidt", "Murphy", "Sullivan", "Russo", "Romano", "Nguyen", "Patel", "Garcia",
)


@dataclass(frozen=True)
class Employee:
    employee_id: str
    first: str
    last: str
    job: int  # index into JOBS
    rate: float
    hired: date


@dataclass
class Shift:
    employee: Employee
    clock_in: datetime
    clock_out: datetime
    break_minutes: int
    regular: int = 0
    overtime: int = 0

    @property
    def worked(self) -> int:
        return int((self.clock_out - self.clock_in).total_seconds() // 60) - self.break_minutes


@dataclass
class LaborPlan:
    """Store-days with something special, keyed by (store number, business date)."""

    missing: set[tuple[int, date]] = field(default_factory=set)
    resent: set[tuple[int, date]] = field(default_factory=set)
    bad: dict[tuple[int, date], str] = field(default_factory=dict)
    capped: set[tuple[int, date]] = field(default_factory=set)


@dataclass
class LaborResult:
    files: int
    timecard_rows: int
    dates: list[date]
    superseded: list[str]
    missing: list[tuple[str, str]]
    capped: list[dict[str, object]]
    bad: list[BadRecord]


def _tz(moment: datetime) -> str:
    """US Eastern abbreviation: daylight time from the second Sunday of March to the first Sunday of November."""
    year = moment.year
    mar1, nov1 = date(year, 3, 1), date(year, 11, 1)
    start = datetime.combine(mar1 + timedelta(days=(6 - mar1.weekday()) % 7 + 7), datetime.min.time()) + timedelta(
        hours=2)
    end = datetime.combine(nov1 + timedelta(days=(6 - nov1.weekday()) % 7), datetime.min.time()) + timedelta(hours=2)
    return "EDT" if start <= moment < end else "EST"


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} {_tz(moment)}"


def roster(seed: int, store: Store) -> list[Employee]:
    """The store's employees (stable ids), by job."""
    rng = rng_for(seed, "roster", store.number)
    counts = (1, 2, 5 + round(2 * store.size), 5 + round(3 * store.size), 3 + round(store.size))
    ids = rng.choice(np.arange(10000, 99999), size=sum(counts), replace=False)
    people, k = [], 0
    for job, count in enumerate(counts):
        for _ in range(count):
            hired = store.first_day - timedelta(days=int(rng.integers(0, 1500))) if store.role == "normal" else (
                store.first_day - timedelta(days=int(rng.integers(7, 30))))
            people.append(Employee(
                employee_id=str(int(ids[k])),
                first=FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))],
                last=LAST_NAMES[int(rng.integers(len(LAST_NAMES)))],
                job=job,
                rate=round(JOBS[job][2] * float(rng.uniform(0.95, 1.15)), 2),
                hired=hired,
            ))
            k += 1
    return people


def _at(day: date, hhmm: float, jitter: int) -> datetime:
    """``day`` at ``hhmm`` hours (24+ = the next day) plus ``jitter`` minutes."""
    return datetime.combine(day, datetime.min.time()) + timedelta(minutes=round(hhmm * 60) + jitter)


def day_shifts(rng: np.random.Generator, people: list[Employee], day: date, size: float) -> list[Shift]:
    """One business day's shifts, in clock-in order."""
    by_job = {j: [p for p in people if p.job == j] for j in range(len(JOBS))}
    busy = 1.0 + (0.35 if day.weekday() in (4, 5) else 0.0) + 0.25 * (size - 1)
    late = day.weekday() in (4, 5)
    taken: set[str] = set()

    def pick(jobs: tuple[int, ...]) -> Employee | None:
        pool = [p for j in jobs for p in by_job[j] if p.employee_id not in taken]
        if not pool:
            return None
        person = pool[int(rng.integers(len(pool)))]
        taken.add(person.employee_id)
        return person

    plan: list[tuple[tuple[int, ...], float, float]] = []
    gm_works = day.weekday() != 6 and rng.random() < 0.9
    plan.append(((0,) if gm_works else (1,), 7.5, 15.0))
    plan.append(((2,), 7.5, 15.0))
    plan += [((2, 3, 4), rng.choice([10.5, 11.0]), rng.choice([14.5, 15.0])) for _ in range(round(2 * busy))]
    plan += [((3, 4), 14.0, 19.0) for _ in range(max(1, round(busy)))]
    plan += [((2, 3), rng.choice([16.0, 17.0]), rng.choice([21.0, 22.0])) for _ in range(round(3 * busy))]
    close = rng.choice([25.0, 25.5]) if late else rng.choice([23.0, 23.5, 24.0, 24.5])
    plan.append(((1,), 16.5, close))
    plan += [((2, 3, 4), 17.0, close) for _ in range(1 + int(late))]
    shifts = []
    for jobs, start, end in plan:
        person = pick(jobs)
        if person is None:
            continue
        clock_in = _at(day, float(start), int(rng.integers(-8, 7)))
        clock_out = _at(day, float(end), int(rng.integers(-10, 13)))
        span = (clock_out - clock_in).total_seconds() / 60
        shifts.append(Shift(person, clock_in, clock_out, 30 if span > 360 else 0))
    shifts.sort(key=lambda s: (s.clock_in, s.employee.employee_id))
    return shifts


def split_overtime(days: list[list[Shift]]) -> None:
    """Set regular/overtime minutes: overtime past 40 hours per employee and Monday-Sunday week."""
    cumulative: dict[tuple[str, date], int] = {}
    for shifts in days:
        for s in shifts:
            week = s.clock_in.date() - timedelta(days=s.clock_in.weekday())
            key = (s.employee.employee_id, week)
            before = cumulative.get(key, 0)
            s.regular = max(0, min(s.worked, WEEK_MINUTES - before))
            s.overtime = s.worked - s.regular
            cumulative[key] = before + s.worked


def plan_labor(seed: int, stores: list[Store], dates: list[date]) -> LaborPlan:
    """Choose the special store-days among regular trading stores (distinct days for each purpose)."""
    rng = rng_for(seed, "labor-plan")
    pool = [(s.number, d) for s in stores if s.role in ("normal", "one_year") for d in dates if s.trades_on(d)]
    order = [pool[int(i)] for i in rng.permutation(len(pool))]
    plan = LaborPlan()
    wanted = [("bad", kind) for _ in range(BAD_PER_KIND) for kind in BAD_KINDS]
    wanted += [("missing", "")] * MISSING_FILES + [("resent", "")] * RESENT_FILES + [("capped", "")] * CAPPED_SHIFTS
    for (purpose, kind), pair in zip(wanted, order, strict=False):
        if purpose == "bad":
            plan.bad[pair] = kind
        else:
            getattr(plan, purpose).add(pair)
    return plan


def _row(store_id: str, record_id: int, day: date, s: Shift) -> list[str]:
    code, job, _ = JOBS[s.employee.job]
    return [
        store_id, str(record_id), f"{day:%Y%m%d}", code, job, f"{s.employee.rate:.2f}", "REG",
        _stamp(s.clock_in), _stamp(s.clock_out), str(s.break_minutes), s.employee.employee_id, job,
        str(s.regular), str(s.overtime),
    ]


def _corrupt(kind: str, row: list[str], day: date, rng: np.random.Generator) -> tuple[list[str], str]:
    """A bad version of a timecard row and the words for what is wrong."""
    if kind == "too_few_fields":
        return row[:10], "10 fields instead of 14"
    if kind == "clock_out_before_clock_in":
        row[7], row[8] = row[8], row[7]
        return row, f"clock-out {row[8]} before clock-in {row[7]}"
    if kind == "clock_in_after_business_day":
        start = _at(day + timedelta(days=1), 9.0, int(rng.integers(0, 40)))
        end = start + timedelta(minutes=int(rng.integers(180, 300)))
        row[7], row[8], row[9] = _stamp(start), _stamp(end), "0"
        row[12], row[13] = str(int((end - start).total_seconds() // 60)), "0"
        return row, f"clock-in {row[7]} at/after 08:00 of the next day"
    value = NOT_NUMERIC[int(rng.integers(len(NOT_NUMERIC)))]
    row[12] = value
    return row, f"regular minutes {value!r}"


def _zip(path: Path, members: list[tuple[str, str]], stamp: datetime) -> None:
    """Write a zip with fixed member timestamps and attributes (byte-identical on every run)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, text.encode("utf-8"))
    epoch = (stamp - datetime(1970, 1, 1)).total_seconds()
    os.utime(path, (epoch, epoch))


def _tsv(rows: list[list[str]]) -> str:
    return "".join("\t".join(r) + "\n" for r in rows)


def write_labor(folder: Path, seed: int, stores: list[Store], end_date: date, weeks: int) -> LaborResult:
    """Write the labor zips of the ``weeks`` weeks ending ``end_date``."""
    folder.mkdir(parents=True, exist_ok=True)
    dates = [end_date - timedelta(days=i) for i in range(7 * weeks - 1, -1, -1)]
    holidays = set(closed_holidays(dates[0], dates[-1]))
    plan = plan_labor(seed, stores, [d for d in dates if d not in holidays])
    result = LaborResult(0, 0, dates, [], [], [], [])
    senders = [s for s in stores if any(s.trades_on(d) and d not in holidays for d in dates)]
    for store in senders:
        trading = [d for d in dates if store.trades_on(d) and d not in holidays]
        rng = rng_for(seed, "labor", store.number)
        people = roster(seed, store)
        days = [day_shifts(rng, people, d, store.size) for d in trading]
        for d, shifts in zip(trading, days, strict=True):
            if (store.number, d) in plan.capped:  # the last closer forgot to clock out
                closer = max(shifts, key=lambda s: s.clock_out)
                closer.clock_out = _at(d + timedelta(days=1), 9.0, int(rng.integers(5, 95)))
        split_overtime(days)
        # some stores' POS names its export ``.summary.`` (always at least one store)
        kind_word = "summary" if rng.random() < 0.15 or store is senders[-1] else "pay_summ"
        record_id = int(rng.integers(1_000_000, 5_000_000))
        for d, shifts in zip(trading, days, strict=True):
            key = (store.number, d)
            sent = datetime.combine(d + timedelta(days=1), datetime.min.time()) + timedelta(
                seconds=int(rng.integers(8 * 3600 + 900, 12 * 3600)))
            if key in plan.missing:
                result.missing.append((store.store_id, d.isoformat()))
                continue
            rows = []
            for s in shifts:
                rows.append(_row(store.store_id, record_id, d, s))
                record_id += 1
            people_today = sorted({s.employee.employee_id: s.employee for s in shifts}.values(),
                                  key=lambda p: p.employee_id)
            detail = [[store.store_id, str(i + 1), f"{d:%Y%m%d}", p.employee_id, p.first, p.last, JOBS[p.job][1],
                       f"{p.hired:%Y%m%d}", "A"] for i, p in enumerate(people_today)]
            if key in plan.resent:  # first export had one clock-out wrong; the newer one corrects it
                wrong = [list(r) for r in rows]
                target = int(rng.integers(len(wrong)))
                fixed = shifts[target]
                early = fixed.clock_out - timedelta(minutes=int(rng.integers(30, 90)))
                wrong[target][8] = _stamp(early)
                worked = int((early - fixed.clock_in).total_seconds() // 60) - fixed.break_minutes
                overtime = min(fixed.overtime, worked)
                wrong[target][12], wrong[target][13] = str(worked - overtime), str(overtime)
                old_name = _write_file(folder, store, d, sent, kind_word, 1, wrong, detail)
                result.superseded.append(old_name)
                result.files += 1
                sent += timedelta(seconds=int(rng.integers(3 * 3600, 6 * 3600)))
            seq = 2 if key in plan.resent else 1
            member = f"{store.store_id}.p_hs_timecard_record.{d:%Y%m%d}_{seq}.csv"
            name = _zip_name(store, d, sent, kind_word)
            if key in plan.bad:
                line = int(rng.integers(len(rows)))
                rows[line], words = _corrupt(plan.bad[key], rows[line], d, rng)
                result.bad.append(BadRecord("labor", name, member, line + 1, plan.bad[key], words, store.store_id))
            if key in plan.capped:
                line = next(i for i, s in enumerate(shifts) if s.clock_out.date() > d and s.clock_out.hour >= 8)
                result.capped.append({"item": name, "member": member, "row": line + 1, "store": store.store_id,
                                      "employee_id": shifts[line].employee.employee_id})
            _write_file(folder, store, d, sent, kind_word, seq, rows, detail)
            result.files += 1
            result.timecard_rows += len(rows)
    result.bad.sort(key=lambda b: (b.item, b.row))
    return result


def _zip_name(store: Store, day: date, sent: datetime, kind_word: str) -> str:
    return f"{store.store_id}.{kind_word}.{day:%Y%m%d}.{sent:%H%M%S}.zip"


def _write_file(folder: Path, store: Store, day: date, sent: datetime, kind_word: str, seq: int,
                rows: list[list[str]], detail: list[list[str]]) -> str:
    name = _zip_name(store, day, sent, kind_word)
    _zip(folder / name, [
        (f"{store.store_id}.p_hs_timecard_record.{day:%Y%m%d}_{seq}.csv", _tsv(rows)),
        (f"{store.store_id}.p_hs_employee_detail.{day:%Y%m%d}_{seq}.csv", _tsv(detail)),
    ], sent)
    return name
