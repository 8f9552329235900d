"""Labor hours needed: sales / sales per labor hour, floor and cap, trailing hours for Morning and Late Night."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from include.forecast.labor import (
    DEFAULT_SPLH,
    LABOR_DAYPARTS,
    MAX_STAFF,
    MIN_STAFF,
    labor_forecast,
    sales_per_labor_hour,
    trailing_hours,
)

START, END = date(2026, 1, 5), date(2026, 3, 1)  # 8 fiscal weeks
MONDAY = date(2026, 3, 2)


def _frame(rows, columns):
    return pd.DataFrame(rows, columns=columns)


def test_sales_per_labor_hour_counts_only_days_with_labor_data():
    sales = _frame([("000001", START, "Lunch", 1000.0), ("000001", START + timedelta(days=1), "Lunch", 5000.0),
                    ("000001", START, "Dinner", 600.0)], ["store_id", "business_date", "daypart", "net_sales"])
    hours = _frame([("000001", START, "Lunch", 6.0), ("000001", START, "Lunch", 4.0),
                    ("000001", START, "Dinner", 12.0), ("000001", START, "Morning", 3.0)],
                   ["store_id", "business_date", "daypart", "hours"])
    splh = sales_per_labor_hour(sales, hours, START, END).set_index("daypart")["sales_per_labor_hour"]
    # The second day has sales but no labor file: left out, not counted as sales without hours.
    assert splh.to_dict() == {"Dinner": 50.0, "Lunch": 100.0}


def test_trailing_hours_average_over_the_days_with_labor_data():
    hours = _frame([("000001", START, "Late Night", 4.0), ("000001", START + timedelta(weeks=1), "Late Night", 2.0),
                    ("000001", START + timedelta(weeks=1), "Morning", 3.0)],
                   ["store_id", "business_date", "daypart", "hours"])
    avg = trailing_hours(hours, START, END).set_index(["day_of_week", "daypart"])["avg_hours"]
    assert avg[(1, "Late Night")] == 3.0
    assert avg[(1, "Morning")] == 1.5


def test_hours_needed_formula_floor_cap_and_closed_cells():
    forecast = _frame(
        [("000001", MONDAY, "Lunch", 2000.0),  # 2000 / 100 = 20 h
         ("000001", MONDAY, "Afternoon", 100.0),  # 1 h -> floor 2 people x 3 h
         ("000001", MONDAY, "Dinner", 1_000_000.0),  # absurd -> cap
         ("000001", MONDAY, "Evening", 0.0)],  # closed
        ["store_id", "business_date", "daypart", "forecast_sales"],
    )
    splh = _frame([("000001", "Lunch", 100.0), ("000001", "Afternoon", 100.0), ("000001", "Dinner", 100.0)],
                  ["store_id", "daypart", "sales_per_labor_hour"])
    trailing = _frame([("000001", 1, "Late Night", 5.5), ("000001", 1, "Morning", 300.0)],
                      ["store_id", "day_of_week", "daypart", "avg_hours"])
    out = labor_forecast(forecast, splh, trailing).set_index("daypart")
    assert set(out.index) == set(LABOR_DAYPARTS)
    assert out.loc["Lunch", "hours_needed"] == 20.0
    assert out.loc["Afternoon", "hours_needed"] == MIN_STAFF * 3
    assert out.loc["Dinner", "hours_needed"] == MAX_STAFF * 4
    assert out.loc["Evening", "hours_needed"] == 0.0
    assert out.loc["Late Night", "hours_needed"] == 5.5
    assert out.loc["Morning", "hours_needed"] == MAX_STAFF * 2  # trailing hours are capped too
    assert pd.isna(out.loc["Morning", "forecast_sales"]) and pd.isna(out.loc["Morning", "sales_per_labor_hour"])
    assert out.loc["Lunch", "sales_per_labor_hour"] == 100.0


def test_stores_without_labor_history_use_the_peers_median_then_the_default():
    forecast = _frame([("000002", MONDAY, "Lunch", 1500.0), ("000002", MONDAY, "Dinner", 3000.0)],
                      ["store_id", "business_date", "daypart", "forecast_sales"])
    splh = _frame([("000001", "Lunch", 50.0), ("000003", "Lunch", 150.0), ("000004", "Lunch", 100.0)],
                  ["store_id", "daypart", "sales_per_labor_hour"])
    empty = _frame([], ["store_id", "day_of_week", "daypart", "avg_hours"])
    out = labor_forecast(forecast, splh, empty).set_index("daypart")
    assert out.loc["Lunch", "hours_needed"] == 15.0  # 1500 / median 100
    assert out.loc["Dinner", "hours_needed"] == pytest.approx(round(3000 / DEFAULT_SPLH, 2))
    assert out.loc["Morning", "hours_needed"] == 0.0  # never staffed: no opening hours invented


def test_forecast_day_parts_must_be_sales_day_parts():
    forecast = _frame([("000001", MONDAY, "Morning", 10.0)], ["store_id", "business_date", "daypart", "forecast_sales"])
    empty_splh = _frame([], ["store_id", "daypart", "sales_per_labor_hour"])
    empty = _frame([], ["store_id", "day_of_week", "daypart", "avg_hours"])
    with pytest.raises(ValueError, match="not sales day parts"):
        labor_forecast(forecast, empty_splh, empty)
