"""Day-part split: shares over the last complete weeks, exact cents, peers' shares for new stores."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from bench.forecast_synthetic import fiscal_calendar, fiscal_year_start
from include.forecast.split import daypart_shares, share_window, split_forecast
from include.forecast.weekly import fiscal_weeks

START = fiscal_year_start(2026)  # Monday 2025-12-29


def _cells(store: str, first: date, days: int, by_part: dict[str, float]) -> pd.DataFrame:
    rows = []
    for i in range(days):
        day = first + timedelta(days=i)
        weekend = 2.0 if day.isoweekday() >= 6 else 1.0
        rows += [(store, day, part, value * weekend) for part, value in by_part.items()]
    return pd.DataFrame(rows, columns=["store_id", "business_date", "daypart", "net_sales"])


def test_share_window_is_the_last_ten_complete_fiscal_weeks():
    weeks = fiscal_weeks(fiscal_calendar(2025, 2026))
    start, end = share_window(weeks, START + timedelta(weeks=3))
    assert end == START + timedelta(weeks=4) - timedelta(days=1)
    assert start == START + timedelta(weeks=3) - timedelta(weeks=9)  # crosses into fiscal 2025


def test_shares_follow_each_cell_and_sum_to_one():
    cells = _cells("000001", START, 14, {"Lunch": 30.0, "Dinner": 70.0})
    shares = daypart_shares(cells, ["000001"], START, START + timedelta(days=13))
    assert len(shares) == 28
    assert shares["share"].sum() == pytest.approx(1.0)
    by_cell = shares.set_index(["day_of_week", "daypart"])["share"]
    total = 2 * (5 * 100 + 2 * 200)
    assert by_cell[(6, "Dinner")] == pytest.approx(2 * 140 / total)
    assert by_cell[(1, "Lunch")] == pytest.approx(2 * 30 / total)
    assert by_cell[(1, "Evening")] == 0


def test_a_store_without_recent_sales_takes_the_peers_mean_shares():
    cells = pd.concat([_cells("000001", START, 7, {"Lunch": 100.0}), _cells("000002", START, 7, {"Dinner": 100.0})])
    shares = daypart_shares(cells, ["000001", "000002", "000003"], START, START + timedelta(days=6))
    new = shares[shares["store_id"] == "000003"].set_index(["day_of_week", "daypart"])["share"]
    assert new.sum() == pytest.approx(1.0)
    assert new[(1, "Lunch")] == pytest.approx(new[(1, "Dinner")])
    assert new[(1, "Lunch")] > 0 and new[(1, "Evening")] == 0


def test_unknown_sales_day_parts_are_refused():
    cells = _cells("000001", START, 7, {"Brunch": 10.0})
    with pytest.raises(ValueError, match="unknown sales day parts"):
        daypart_shares(cells, ["000001"], START, START + timedelta(days=6))


def test_cells_sum_exactly_to_the_weekly_forecast_with_dates_from_the_week():
    cells = _cells("000001", START, 70, {"Lunch": 33.3, "Afternoon": 11.1, "Dinner": 41.7, "Evening": 13.9})
    shares = daypart_shares(cells, ["000001"], START, START + timedelta(days=69))
    weekly = pd.DataFrame(
        {"store_id": "000001", "fiscal_week_label": ["Y2026W11", "Y2026W12"],
         "week_start": [date(2026, 3, 9), date(2026, 3, 16)], "forecast_sales": [21345.67, 19999.99]}
    )
    split = split_forecast(weekly, shares)
    assert len(split) == 56
    sums = split.groupby("fiscal_week_label")["forecast_sales"].sum().round(2)
    assert sums.to_dict() == {"Y2026W11": 21345.67, "Y2026W12": 19999.99}
    assert all(round(v * 100) == pytest.approx(v * 100) for v in split["forecast_sales"])  # whole cents
    sunday = split[(split["fiscal_week_label"] == "Y2026W11") & (split["day_of_week"] == 7)]
    assert set(sunday["business_date"]) == {date(2026, 3, 15)}
    assert date(2026, 3, 15).isoweekday() == 7


def test_split_needs_shares_for_every_store():
    shares = daypart_shares(_cells("000001", START, 7, {"Lunch": 1.0}), ["000001"], START, START + timedelta(days=6))
    weekly = pd.DataFrame({"store_id": ["000002"], "fiscal_week_label": ["Y2026W02"], "week_start": [START],
                           "forecast_sales": [10.0]})
    with pytest.raises(ValueError, match="no day-part shares"):
        split_forecast(weekly, shares)
