"""The fiscal calendar rule, US holidays the sample needs, and the ``crf63_bwfiscalcalendars`` table."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from include.sample.rand import guids, rng_for


def fiscal_year_start(year: int) -> date:
    """Fiscal year ``year`` starts on the first Monday on or after 26 December of ``year - 1``."""
    dec26 = date(year - 1, 12, 26)
    return dec26 + timedelta(days=(7 - dec26.weekday()) % 7)


def fiscal_week(day: date) -> tuple[int, int]:
    """(fiscal year, fiscal week 1..53) of a day."""
    year = day.year + 1
    while fiscal_year_start(year) > day:
        year -= 1
    return year, (day - fiscal_year_start(year)).days // 7 + 1


def fiscal_week_label(day: date) -> str:
    """``Y2026W08`` style label of the fiscal week holding ``day``."""
    year, week = fiscal_week(day)
    return f"Y{year}W{week:02d}"


def thanksgiving(year: int) -> date:
    """Fourth Thursday of November."""
    nov1 = date(year, 11, 1)
    return nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)


def super_bowl_sunday(year: int) -> date:
    """First Sunday of February (second Sunday from 2022 on)."""
    feb1 = date(year, 2, 1)
    first = feb1 + timedelta(days=(6 - feb1.weekday()) % 7)
    return first + timedelta(days=7) if year >= 2022 else first


def closed_holidays(first: date, last: date) -> list[date]:
    """Days every store is closed (Thanksgiving, Christmas Day) within [first, last]."""
    days = []
    for year in range(first.year, last.year + 1):
        days += [thanksgiving(year), date(year, 12, 25)]
    return sorted(d for d in days if first <= d <= last)


def calendar_range(first_sales_date: date, end_date: date, weeks_ahead: int = 60) -> tuple[date, date]:
    """From the start of the fiscal year holding the first sales date to the end of the fiscal year
    holding ``end_date + weeks_ahead`` weeks (so forecasts always find their future weeks)."""
    start = fiscal_year_start(fiscal_week(first_sales_date)[0])
    horizon_year = fiscal_week(end_date + timedelta(weeks=weeks_ahead))[0]
    return start, fiscal_year_start(horizon_year + 1) - timedelta(days=1)


def write_calendar(path: Path, seed: int, first: date, last: date, modified: str) -> int:
    """Write one record per day of [first, last]; return the number of records."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    ids = guids(rng_for(seed, "calendar-ids"), len(days))
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for day, guid in zip(days, ids, strict=True):
            year, week = fiscal_week(day)
            record = {
                "crf63_bwfiscalcalendarid": guid,
                "crf63_date": day.isoformat(),
                "crf63_fiscalyearlabel": f"FY{year}",
                "crf63_fiscalweeknumber": week,
                "crf63_fiscalyearnumber": year,
                "modifiedon": modified,
            }
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return len(days)
