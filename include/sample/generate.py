"""Generate a deterministic sample source folder (the layout of ``docs/source-formats.md``).

    python -m include.sample.generate --dest .local/source [--stores 25] [--seed 20261122]
        [--end-date 2026-11-22] [--sales-years 3] [--labor-weeks 8]

The same arguments always produce byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from include.sample.access import build_access
from include.sample.calendar import calendar_range, closed_holidays, write_calendar
from include.sample.labor import write_labor
from include.sample.manifest import Manifest
from include.sample.sales import write_sales
from include.sample.stores import build_stores
from include.sample.workbook import ITEM, build_stores_sheet, write_workbook

DIMENSIONS_PATH = Path("onedrive/General/BI Import") / ITEM
LABOR_DIR = Path("onedrive/Labor")
CALENDAR_PATH = Path("dataverse/crf63_bwfiscalcalendars.jsonl")
SALES_PATH = Path("dataverse/crf63_saleschanneldailies.jsonl")


@dataclass(frozen=True)
class SampleSpec:
    """The generator's arguments, validated."""

    stores: int
    seed: int
    end_date: date
    sales_years: int
    labor_weeks: int

    def __post_init__(self) -> None:
        if self.sales_years < 1 or self.sales_years > 10:
            raise ValueError(f"sales_years must be 1..10, got {self.sales_years}")
        if self.labor_weeks < 1 or self.labor_weeks > 52:
            raise ValueError(f"labor_weeks must be 1..52, got {self.labor_weeks}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")

    @property
    def first_sales_date(self) -> date:
        """``sales_years`` whole 52-week years ending on ``end_date``."""
        return self.end_date - timedelta(days=364 * self.sales_years - 1)


def generate_sample(
    dest: Path,
    *,
    stores: int = 25,
    seed: int = 20261122,
    end_date: date = date(2026, 11, 22),
    sales_years: int = 3,
    labor_weeks: int = 8,
) -> Manifest:
    """Write the sample into ``dest`` (``onedrive/``, ``dataverse/``, ``manifest.json``) and return its manifest.

    Files the generator owns are overwritten; other files in ``dest`` are left alone, except
    the labor folder, which is emptied of zips first so only this sample's files are there.
    """
    spec = SampleSpec(stores, seed, end_date, sales_years, labor_weeks)
    dest = Path(dest)
    first = spec.first_sales_date
    roster = build_stores(seed, stores, end_date, first)
    stamp = datetime.combine(end_date + timedelta(days=1), time(6, 0))
    modified = f"{stamp:%Y-%m-%dT%H:%M:%SZ}"

    for rel in (DIMENSIONS_PATH.parent, LABOR_DIR, CALENDAR_PATH.parent):
        (dest / rel).mkdir(parents=True, exist_ok=True)
    for old in (dest / LABOR_DIR).glob("*.zip"):
        old.unlink()

    stores_sheet = build_stores_sheet(seed, roster)
    access = build_access(seed, roster, ITEM)
    write_workbook(dest / DIMENSIONS_PATH, stores_sheet, access, stamp)

    cal_first, cal_last = calendar_range(first, end_date)
    calendar_rows = write_calendar(dest / CALENDAR_PATH, seed, cal_first, cal_last, modified)
    sales = write_sales(dest / SALES_PATH, seed, roster, first, end_date)
    labor = write_labor(dest / LABOR_DIR, seed, roster, end_date, labor_weeks)

    recent = next(s for s in roster if s.role == "recent")
    one_year = next(s for s in roster if s.role == "one_year")
    remodeled = next(s for s in roster if s.remodel)
    manifest = Manifest(
        seed=seed,
        end_date=end_date.isoformat(),
        first_sales_date=first.isoformat(),
        first_calendar_date=cal_first.isoformat(),
        last_calendar_date=cal_last.isoformat(),
        stores=len(roster),
        store_ids=[s.store_id for s in roster],
        active_stores=[s.store_id for s in roster if s.active],
        closed_stores=[s.store_id for s in roster if not s.active],
        store_sheet_rows=len(stores_sheet.rows),
        users=access.users,
        inactive_users=access.inactive,
        access_sheet_rows=len(access.rows),
        calendar_rows=calendar_rows,
        sales_rows=sales.rows,
        labor_files=labor.files,
        labor_timecard_rows=labor.timecard_rows,
        recently_opened_store=recent.store_id,
        recently_opened_on=recent.first_day.isoformat(),
        one_year_store=one_year.store_id,
        tuned_store="001089",
        remodel={"store": remodeled.store_id, "first_day": remodeled.remodel[0].isoformat(),
                 "last_day": remodeled.remodel[1].isoformat()},
        closed_holidays=[d.isoformat() for d in closed_holidays(first, end_date)],
        labor_dates=[d.isoformat() for d in labor.dates],
        superseded_labor_files=sorted(labor.superseded),
        missing_labor_files=sorted(labor.missing),
        capped_shifts=labor.capped,
        bad_records=[*stores_sheet.bad, *access.bad, *sales.bad, *labor.bad],
    )
    manifest.write(dest)
    return manifest


def _summary(dest: Path, manifest: Manifest) -> str:
    lines = [
        f"wrote sample source data to {dest}",
        f"  {DIMENSIONS_PATH}: {manifest.stores} stores ({len(manifest.closed_stores)} closed), "
        f"{manifest.users} users ({manifest.inactive_users} inactive)",
        f"  {CALENDAR_PATH}: {manifest.calendar_rows} days "
        f"{manifest.first_calendar_date}..{manifest.last_calendar_date}",
        f"  {SALES_PATH}: {manifest.sales_rows} rows {manifest.first_sales_date}..{manifest.end_date}",
        f"  {LABOR_DIR}/: {manifest.labor_files} zips ({len(manifest.superseded_labor_files)} superseded, "
        f"{len(manifest.missing_labor_files)} store-days missing)",
        f"  recently opened store {manifest.recently_opened_store} on {manifest.recently_opened_on}",
        "  deliberately bad records:",
    ]
    for source, kinds in manifest.bad_counts().items():
        lines.append(f"    {source}: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
    lines.append(f"  manifest: {dest / 'manifest.json'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.sample.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--dest", required=True, type=Path, help="folder to write (BW_LOCAL_SOURCE_DIR)")
    parser.add_argument("--stores", type=int, default=25, help="number of stores, 4..500")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 11, 22), help="YYYY-MM-DD")
    parser.add_argument("--sales-years", type=int, default=3)
    parser.add_argument("--labor-weeks", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        manifest = generate_sample(args.dest, stores=args.stores, seed=args.seed, end_date=args.end_date,
                                   sales_years=args.sales_years, labor_weeks=args.labor_weeks)
    except ValueError as exc:
        parser.error(str(exc))
    print(_summary(args.dest, manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
