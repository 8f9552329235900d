"""Weekly net sales per store by fiscal week (never ISO weeks), complete weeks only."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd

from include.forecast import HORIZON_WEEKS

log = logging.getLogger(__name__)


def fiscal_weeks(calendar: pd.DataFrame) -> pd.DataFrame:
    """One row per fiscal week: ``fiscal_week_label, week_start, week_end, days`` in date order.

    ``calendar`` has ``calendar_date`` and ``fiscal_week_label`` (core.fiscal_calendar).
    """
    missing = {"calendar_date", "fiscal_week_label"} - set(calendar.columns)
    if missing:
        raise ValueError(f"fiscal calendar lacks columns {sorted(missing)}")
    cal = calendar[["calendar_date", "fiscal_week_label"]].copy()
    cal["calendar_date"] = pd.to_datetime(cal["calendar_date"]).dt.date
    weeks = (
        cal.groupby("fiscal_week_label", sort=False)["calendar_date"]
        .agg(week_start="min", week_end="max", days="count")
        .reset_index()
        .sort_values("week_start", ignore_index=True)
    )
    return weeks


def last_complete_week(weeks: pd.DataFrame, as_of: date) -> pd.Series:
    """The last fiscal week whose final day is on or before ``as_of``."""
    done = weeks[weeks["week_end"] <= as_of]
    if done.empty:
        raise ValueError(f"the fiscal calendar has no week ending on or before {as_of}")
    return done.iloc[-1]


def horizon(weeks: pd.DataFrame, after: date, n: int = HORIZON_WEEKS) -> pd.DataFrame:
    """The ``n`` fiscal weeks starting after ``after`` (a week's start date), from the calendar."""
    future = weeks[weeks["week_start"] > after].head(n)
    if len(future) < n:
        last = weeks["week_end"].max() if len(weeks) else None
        raise ValueError(
            f"the fiscal calendar ends at {last}: it must cover {n} weeks after the week of {after}; "
            "load the next fiscal year into core.fiscal_calendar"
        )
    odd = future[(future["days"] != 7) | (pd.Series([d.weekday() for d in future["week_start"]],
                                                     index=future.index) != 0)]
    if not odd.empty:
        raise ValueError(f"fiscal weeks {list(odd['fiscal_week_label'])} are not Monday-Sunday weeks")
    return future[["fiscal_week_label", "week_start", "week_end"]].reset_index(drop=True)


def daily_totals(daily: pd.DataFrame) -> pd.DataFrame:
    """Net sales per store and date (summed over channels and day parts)."""
    missing = {"store_id", "business_date", "net_sales"} - set(daily.columns)
    if missing:
        raise ValueError(f"daily sales lack columns {sorted(missing)}")
    frame = daily[["store_id", "business_date", "net_sales"]].copy()
    frame["business_date"] = pd.to_datetime(frame["business_date"]).dt.date
    frame["net_sales"] = pd.to_numeric(frame["net_sales"]).astype(float)
    return frame.groupby(["store_id", "business_date"], as_index=False)["net_sales"].sum()


def weekly_series(
    daily: pd.DataFrame, calendar: pd.DataFrame, as_of: date | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """Complete fiscal weeks of net sales per store, and the last complete week.

    A week counts when it ended on or before ``as_of`` (default: the last date with sales
    in ``daily``) and the store was already selling on its first day (a store's first,
    partial week is dropped). Closed days and weeks inside a store's history are data
    (zero sales), not gaps. Returns ``store_id, fiscal_week_label, week_start, net_sales``
    ordered by store and week, and the last complete week (a calendar row).
    """
    totals = daily_totals(daily)
    if totals.empty:
        raise ValueError("no daily sales to aggregate")
    as_of = as_of or max(totals["business_date"])
    weeks = fiscal_weeks(calendar)
    last = last_complete_week(weeks, as_of)
    first_sale = totals.groupby("store_id")["business_date"].min()
    calendar_start = weeks["week_start"].min()
    if first_sale.min() < calendar_start:
        log.warning("sales before the fiscal calendar starts (%s) are left out", calendar_start)
        totals = totals[totals["business_date"] >= calendar_start]
        first_sale = first_sale.clip(lower=calendar_start)
    day_week = _day_to_week(calendar)
    totals = totals[totals["business_date"] <= last["week_end"]]
    totals = totals.assign(fiscal_week_label=totals["business_date"].map(day_week))
    if totals["fiscal_week_label"].isna().any():
        gaps = sorted(totals.loc[totals["fiscal_week_label"].isna(), "business_date"].unique())[:3]
        raise ValueError(f"dates missing from the fiscal calendar: {gaps}")
    sums = totals.groupby(["store_id", "fiscal_week_label"])["net_sales"].sum()
    frames = []
    past = weeks[weeks["week_end"] <= last["week_end"]]
    for store_id, first in first_sale.items():
        store_weeks = past[past["week_start"] >= first]
        if store_weeks.empty:
            continue
        labels = store_weeks["fiscal_week_label"]
        values = sums.get(store_id, pd.Series(dtype=float)).reindex(labels).fillna(0.0).to_numpy()
        frames.append(
            pd.DataFrame(
                {"store_id": store_id, "fiscal_week_label": labels.to_numpy(),
                 "week_start": store_weeks["week_start"].to_numpy(), "net_sales": values}
            )
        )
    columns = ["store_id", "fiscal_week_label", "week_start", "net_sales"]
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return result[columns], last


def _day_to_week(calendar: pd.DataFrame) -> dict:
    dates = pd.to_datetime(calendar["calendar_date"]).dt.date
    return dict(zip(dates, calendar["fiscal_week_label"], strict=True))
