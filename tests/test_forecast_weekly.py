"""Fiscal weekly aggregation (not ISO weeks), complete weeks only, and the horizon labels."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from bench.forecast_synthetic import fiscal_calendar, fiscal_year_start
from include.forecast.weekly import fiscal_weeks, horizon, weekly_series


def _daily(store: str, first: date, last: date, per_day: float = 100.0, closed: tuple[date, ...] = ()) -> pd.DataFrame:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    rows = [(store, d, part, per_day / 2) for d in days if d not in closed for part in ("Lunch", "Dinner")]
    return pd.DataFrame(rows, columns=["store_id", "business_date", "daypart", "net_sales"])


def test_fiscal_year_is_not_the_iso_year():
    # FY2026 starts on the first Monday on or after 2025-12-26: 2025-12-29, which is ISO week 1 of 2026,
    # but FY2021 starts 2020-12-28, which is ISO 2020-W53.
    assert fiscal_year_start(2026) == date(2025, 12, 29)
    assert fiscal_year_start(2021) == date(2020, 12, 28)
    assert date(2020, 12, 28).isocalendar()[:2] == (2020, 53)
    calendar = fiscal_calendar(2021, 2021)
    assert calendar.iloc[0]["fiscal_week_label"] == "Y2021W01"
    assert calendar.iloc[0]["calendar_date"] == date(2020, 12, 28)


def test_weekly_sums_follow_fiscal_weeks_and_drop_partial_weeks():
    calendar = fiscal_calendar(2020, 2022)
    # FY2021 W01 = 2020-12-28 .. 2021-01-03: crosses the calendar and ISO year boundaries.
    # Store opens on a Wednesday (partial first week) and data ends on a Thursday (partial last week).
    first, last = date(2020, 12, 16), date(2021, 1, 14)
    daily = _daily("000126", first, last, closed=(date(2020, 12, 25),))
    weekly, last_week = weekly_series(daily, calendar)
    assert last_week["fiscal_week_label"] == "Y2021W02"
    assert list(weekly["fiscal_week_label"]) == ["Y2020W52", "Y2021W01", "Y2021W02"]
    # The Christmas closure stays inside its week: 6 days x 100.
    assert list(weekly["net_sales"]) == [600.0, 700.0, 700.0]
    assert list(weekly["week_start"]) == [date(2020, 12, 21), date(2020, 12, 28), date(2021, 1, 4)]


def test_a_week_without_any_sales_inside_the_history_is_zero_not_a_gap():
    calendar = fiscal_calendar(2024, 2024)
    start = fiscal_year_start(2024)
    daily = pd.concat([_daily("000001", start, start + timedelta(days=6)),
                       _daily("000001", start + timedelta(days=14), start + timedelta(days=20))])
    weekly, _ = weekly_series(daily, calendar)
    assert list(weekly["net_sales"]) == [700.0, 0.0, 700.0]


def test_as_of_limits_the_complete_weeks():
    calendar = fiscal_calendar(2024, 2024)
    start = fiscal_year_start(2024)
    daily = _daily("000001", start, start + timedelta(days=27))
    weekly, last = weekly_series(daily, calendar, as_of=start + timedelta(days=15))
    assert last["fiscal_week_label"] == "Y2024W02"
    assert len(weekly) == 2


def test_horizon_takes_the_next_five_fiscal_weeks_across_a_53_week_year():
    calendar = fiscal_calendar(2022, 2024)
    weeks = fiscal_weeks(calendar)
    assert weeks["fiscal_week_label"].str.startswith("Y2023").sum() == 53  # 2022-12-26 .. 2023-12-31
    last = weeks[weeks["fiscal_week_label"] == "Y2023W51"].iloc[0]
    future = horizon(weeks, last["week_start"])
    assert list(future["fiscal_week_label"]) == ["Y2023W52", "Y2023W53", "Y2024W01", "Y2024W02", "Y2024W03"]
    assert future.iloc[2]["week_start"] == fiscal_year_start(2024) == date(2024, 1, 1)


def test_horizon_needs_the_calendar_to_reach_far_enough():
    weeks = fiscal_weeks(fiscal_calendar(2026, 2026))
    with pytest.raises(ValueError, match="load the next fiscal year"):
        horizon(weeks, weeks.iloc[-3]["week_start"])


def test_sales_before_the_calendar_are_left_out(caplog):
    calendar = fiscal_calendar(2026, 2026)
    weekly, _ = weekly_series(_daily("000001", date(2025, 6, 1), date(2026, 1, 20)), calendar)
    assert list(weekly["fiscal_week_label"]) == ["Y2026W01", "Y2026W02", "Y2026W03"]
    assert "before the fiscal calendar" in caplog.text
