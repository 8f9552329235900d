"""Labor hours needed per store, date and labor day part, from the sales forecast.

Hours for a labor day part that has a sales day part of the same name (Lunch, Afternoon,
Dinner, Evening) = forecast sales / the store's sales per labor hour (SPLH) in that day
part over the trailing weeks, kept between a floor of ``MIN_STAFF`` people for the whole
day part (only when sales are forecast: a cell with no forecast sales is closed and needs
0 hours) and a cap of ``MAX_STAFF`` people. Morning (8-10) and Late Night (0-8) have no
sales forecast: they get the store's trailing average hours for the same day of week
(opening and closing work; 0 where the store never staffs them), capped the same way.
A store without labor history takes the peers' median SPLH for the day part, and
``DEFAULT_SPLH`` when no store has any.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

#: Labor day parts: (start hour, end hour) of the store-local clock.
LABOR_DAYPARTS: dict[str, tuple[int, int]] = {
    "Late Night": (0, 8),
    "Morning": (8, 10),
    "Lunch": (10, 14),
    "Afternoon": (14, 17),
    "Dinner": (17, 21),
    "Evening": (21, 24),
}
#: Labor day parts staffed from the sales forecast (the same names as the sales day parts).
SALES_DRIVEN = ("Lunch", "Afternoon", "Dinner", "Evening")
#: Labor day parts without sales: the trailing average hours.
TRAILING_ONLY = ("Late Night", "Morning")
#: People on the floor at least, for the whole day part, when sales are forecast.
MIN_STAFF = 2
#: People at most: anything above is an input error, not a staffing need.
MAX_STAFF = 25
#: Trailing weeks of actual sales and hours.
TRAILING_WEEKS = 8
#: Sales per labor hour (USD) when neither the store nor any peer has labor history.
DEFAULT_SPLH = 60.0
OUTPUT_COLUMNS = ["store_id", "business_date", "daypart", "hours_needed", "forecast_sales", "sales_per_labor_hour"]


def daypart_hours(daypart: str) -> int:
    start, end = LABOR_DAYPARTS[daypart]
    return end - start


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["business_date"] = pd.to_datetime(frame["business_date"]).dt.date
    return frame


def sales_per_labor_hour(sales: pd.DataFrame, hours: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """SPLH per store and sales-driven day part over ``start``..``end``.

    ``sales``: ``store_id, business_date, daypart, net_sales``; ``hours``: ``store_id,
    business_date, daypart, hours`` (any number of rows per key; summed). Only dates with
    labor hours recorded for the store count (a missing labor file must not inflate SPLH).
    Returns ``store_id, daypart, sales_per_labor_hour`` (rows with hours > 0 only).
    """
    sales, hours = _dates(sales), _dates(hours)
    sales = sales[(sales["business_date"] >= start) & (sales["business_date"] <= end)]
    hours = hours[(hours["business_date"] >= start) & (hours["business_date"] <= end)]
    staffed = hours[hours["hours"] > 0][["store_id", "business_date"]].drop_duplicates()
    sales = sales.merge(staffed, on=["store_id", "business_date"], how="inner")
    s = sales.groupby(["store_id", "daypart"])["net_sales"].sum().astype(float)
    h = hours[hours["daypart"].isin(SALES_DRIVEN)].groupby(["store_id", "daypart"])["hours"].sum().astype(float)
    both = pd.concat([s.rename("sales"), h.rename("hours")], axis=1).fillna(0.0)
    both = both[(both["hours"] > 0) & (both["sales"] > 0)]
    out = (both["sales"] / both["hours"]).rename("sales_per_labor_hour").reset_index()
    return out[["store_id", "daypart", "sales_per_labor_hour"]]


def trailing_hours(hours: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Average hours per store, day of week and day part over the dates with labor data.

    Returns ``store_id, day_of_week, daypart, avg_hours``.
    """
    hours = _dates(hours)
    hours = hours[(hours["business_date"] >= start) & (hours["business_date"] <= end)]
    if hours.empty:
        return pd.DataFrame(columns=["store_id", "day_of_week", "daypart", "avg_hours"])
    hours = hours.assign(day_of_week=[d.isoweekday() for d in hours["business_date"]])
    days = hours.groupby(["store_id", "day_of_week"])["business_date"].nunique().rename("days")
    total = hours.groupby(["store_id", "day_of_week", "daypart"])["hours"].sum().astype(float).rename("total")
    out = total.reset_index().merge(days.reset_index(), on=["store_id", "day_of_week"])
    out["avg_hours"] = out["total"] / out["days"]
    return out[["store_id", "day_of_week", "daypart", "avg_hours"]]


def labor_forecast(forecast: pd.DataFrame, splh: pd.DataFrame, trailing: pd.DataFrame) -> pd.DataFrame:
    """Hours needed for every store, forecast date and labor day part.

    ``forecast``: sales forecast cells ``store_id, business_date, daypart, forecast_sales``;
    ``splh`` from :func:`sales_per_labor_hour`; ``trailing`` from :func:`trailing_hours`.
    """
    forecast = _dates(forecast)
    unknown = set(forecast["daypart"]) - set(SALES_DRIVEN)
    if unknown:
        raise ValueError(f"forecast day parts {sorted(unknown)} are not sales day parts {SALES_DRIVEN}")
    days = forecast[["store_id", "business_date"]].drop_duplicates()
    grid = days.merge(pd.DataFrame({"daypart": list(LABOR_DAYPARTS)}), how="cross")
    grid["day_of_week"] = [d.isoweekday() for d in grid["business_date"]]
    sales = forecast.groupby(["store_id", "business_date", "daypart"], as_index=False)["forecast_sales"].sum()
    grid = grid.merge(sales, on=["store_id", "business_date", "daypart"], how="left")
    peer = splh.groupby("daypart")["sales_per_labor_hour"].median()
    grid = grid.merge(splh, on=["store_id", "daypart"], how="left")
    fill = grid["daypart"].map(peer).fillna(DEFAULT_SPLH)
    driven = grid["daypart"].isin(SALES_DRIVEN)
    grid.loc[driven, "sales_per_labor_hour"] = grid.loc[driven, "sales_per_labor_hour"].fillna(fill[driven])
    grid.loc[driven, "forecast_sales"] = grid.loc[driven, "forecast_sales"].astype(float).fillna(0.0)
    grid = grid.merge(trailing, on=["store_id", "day_of_week", "daypart"], how="left")
    length = grid["daypart"].map(daypart_hours).astype(float)
    floor, cap = MIN_STAFF * length, MAX_STAFF * length
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = grid["forecast_sales"].astype(float) / grid["sales_per_labor_hour"].astype(float)
    needed = np.where(grid["forecast_sales"].astype(float) > 0, np.clip(needed, floor, cap), 0.0)
    trailing_only = np.clip(grid["avg_hours"].astype(float).fillna(0.0), 0, cap)
    grid["hours_needed"] = np.round(np.where(driven, needed, trailing_only), 2)
    grid.loc[~driven, ["forecast_sales", "sales_per_labor_hour"]] = np.nan
    grid["forecast_sales"] = grid["forecast_sales"].astype(float).round(2)
    grid["sales_per_labor_hour"] = grid["sales_per_labor_hour"].astype(float).round(2)
    return grid.sort_values(["store_id", "business_date", "daypart"], ignore_index=True)[OUTPUT_COLUMNS]
