"""Realistic synthetic sales for forecast tests and the benchmark.

Daily sales per store and sales day part with a day-of-week pattern, a yearly season,
a trend, holiday closures and reduced days, weekly promotion shocks and daily noise;
plus the Beachwood fiscal calendar (Monday-Sunday weeks, fiscal year Y starting on the
first Monday on or after 26 December of Y-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

SALES_DAYPARTS = ("Lunch", "Afternoon", "Dinner", "Evening")
_DAYPART_MIX = np.array([0.32, 0.14, 0.40, 0.14])
_DOW_PATTERN = np.array([0.85, 0.88, 0.92, 0.98, 1.18, 1.25, 0.94])  # Monday .. Sunday


def fiscal_year_start(year: int) -> date:
    """First Monday on or after 26 December of ``year - 1``."""
    day = date(year - 1, 12, 26)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def fiscal_calendar(first_year: int, last_year: int) -> pd.DataFrame:
    """``calendar_date, fiscal_year, fiscal_week, fiscal_week_label`` for whole fiscal years."""
    rows = []
    for year in range(first_year, last_year + 1):
        start, end = fiscal_year_start(year), fiscal_year_start(year + 1)
        for offset in range((end - start).days):
            day = start + timedelta(days=offset)
            week = offset // 7 + 1
            rows.append((day, year, week, f"Y{year}W{week:02d}"))
    return pd.DataFrame(rows, columns=["calendar_date", "fiscal_year", "fiscal_week", "fiscal_week_label"])


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def holiday_factor(day: date) -> float:
    """Sales multiplier of a holiday (0 = closed)."""
    if (day.month, day.day) == (12, 25) or day == _thanksgiving(day.year):
        return 0.0
    if (day.month, day.day) in ((12, 24), (12, 31), (7, 4)):
        return 0.6
    if (day.month, day.day) == (1, 1):
        return 0.75
    return 1.0


@dataclass(frozen=True)
class StoreProfile:
    store_id: str
    level: float  # mean daily sales at the start
    growth: float  # yearly growth rate
    season_amp: float
    season_phase: float
    noise: float  # daily multiplicative noise (sd of the log)
    shock: float  # weekly promotion shock sd (AR(1))
    mix: tuple[float, ...]


def random_profile(store_id: str, rng: np.random.Generator) -> StoreProfile:
    mix = rng.dirichlet(_DAYPART_MIX * 60)
    return StoreProfile(
        store_id=store_id,
        level=float(rng.lognormal(np.log(3200), 0.35)),
        growth=float(rng.uniform(-0.04, 0.10)),
        season_amp=float(rng.uniform(0.06, 0.18)),
        season_phase=float(rng.uniform(-0.6, 0.6)),
        noise=float(rng.uniform(0.06, 0.14)),
        shock=float(rng.uniform(0.01, 0.035)),
        mix=tuple(float(m) for m in mix),
    )


def store_daily(profile: StoreProfile, first: date, last: date, rng: np.random.Generator) -> pd.DataFrame:
    """One store's sales: ``store_id, business_date, daypart, net_sales, orders``."""
    days = pd.date_range(first, last, freq="D")
    n = len(days)
    years = (days - pd.Timestamp("2020-01-01")).days.to_numpy() / 365.25
    doy = days.dayofyear.to_numpy() / 365.25
    season = 1 + profile.season_amp * np.sin(2 * np.pi * (doy - 0.3) + profile.season_phase) \
        + 0.3 * profile.season_amp * np.cos(4 * np.pi * doy)
    trend = (1 + profile.growth) ** (years - years[0])
    weeks = np.arange(n) // 7
    shocks = np.zeros(weeks[-1] + 1)
    for w in range(1, len(shocks)):
        shocks[w] = 0.6 * shocks[w - 1] + rng.normal(0, profile.shock)
    holidays = np.array([holiday_factor(d.date()) for d in days])
    base = profile.level * trend * season * _DOW_PATTERN[days.dayofweek.to_numpy()] * np.exp(shocks[weeks]) * holidays
    cells = base[:, None] * np.array(profile.mix)[None, :] * rng.lognormal(0, profile.noise, (n, len(SALES_DAYPARTS)))
    frame = pd.DataFrame(
        {
            "store_id": profile.store_id,
            "business_date": np.repeat(days.date, len(SALES_DAYPARTS)),
            "daypart": np.tile(SALES_DAYPARTS, n),
            "net_sales": np.round(cells.ravel(), 2),
        }
    )
    frame["orders"] = np.maximum(0, np.round(frame["net_sales"] / 24)).astype(int)
    return frame[frame["net_sales"] > 0].reset_index(drop=True)


def sample_sales(
    n_stores: int,
    last_day: date,
    *,
    years: float = 3.0,
    seed: int = 7,
    history_days: list[int] | None = None,
) -> pd.DataFrame:
    """Daily day-part sales for ``n_stores`` stores (ids 100001...) ending at ``last_day``.

    ``history_days`` (one per store) overrides how many days each store has sold.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_stores):
        days = history_days[i] if history_days else round(years * 365.25)
        if days <= 0:
            continue
        profile = random_profile(f"{100001 + i:06d}", rng)
        frames.append(store_daily(profile, last_day - timedelta(days=days - 1), last_day, rng))
    return pd.concat(frames, ignore_index=True)
