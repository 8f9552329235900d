"""Split weekly forecasts into (day of week, sales day part) cells by each cell's recent share."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from include.forecast import SALES_DAYPARTS

#: Complete fiscal weeks whose sales give the cell shares.
SHARE_WEEKS = 10
CELL_COLUMNS = ["store_id", "day_of_week", "daypart", "share"]


def all_cells() -> pd.DataFrame:
    """The 28 (day of week 1=Mon..7=Sun, day part) cells."""
    return pd.DataFrame(
        [(dow, part) for dow in range(1, 8) for part in SALES_DAYPARTS], columns=["day_of_week", "daypart"]
    )


def share_window(weeks: pd.DataFrame, last_week_start: date, n: int = SHARE_WEEKS) -> tuple[date, date]:
    """First and last day of the ``n`` fiscal weeks ending with the week starting ``last_week_start``."""
    done = weeks[weeks["week_start"] <= last_week_start].tail(n)
    return done["week_start"].iloc[0], done["week_end"].iloc[-1]


def daypart_shares(cells: pd.DataFrame, stores: list[str], start: date, end: date) -> pd.DataFrame:
    """Each store's share of sales per (day of week, day part) over ``start``..``end``.

    ``cells`` has ``store_id, business_date, daypart, net_sales`` (any channels; summed
    here). A newer store uses the weeks it has; a store with no sales in the window takes
    the peers' mean shares (uniform when no store has any). Shares of a store sum to 1.
    """
    frame = cells[["store_id", "business_date", "daypart", "net_sales"]].copy()
    frame["business_date"] = pd.to_datetime(frame["business_date"]).dt.date
    frame = frame[(frame["business_date"] >= start) & (frame["business_date"] <= end)]
    unknown = set(frame["daypart"]) - set(SALES_DAYPARTS)
    if unknown:
        raise ValueError(f"unknown sales day parts {sorted(unknown)}; expected {SALES_DAYPARTS}")
    frame["day_of_week"] = [d.isoweekday() for d in frame["business_date"]]
    frame["net_sales"] = pd.to_numeric(frame["net_sales"]).astype(float).clip(lower=0)
    sums = frame.groupby(["store_id", "day_of_week", "daypart"], as_index=False)["net_sales"].sum()
    totals = sums.groupby("store_id")["net_sales"].transform("sum")
    sums = sums[totals > 0].assign(share=lambda f: f["net_sales"] / totals[totals > 0])
    grid = all_cells()
    if sums.empty:
        peer = grid.assign(share=1 / len(grid))
    else:
        per_store = sums.pivot_table(index="store_id", columns=["day_of_week", "daypart"], values="share",
                                     fill_value=0.0)
        mean = per_store.mean(axis=0)
        peer = grid.merge(mean.rename("share").reset_index(), on=["day_of_week", "daypart"], how="left").fillna(0.0)
        peer["share"] = peer["share"] / peer["share"].sum()
    out = []
    have = set(sums["store_id"])
    for store_id in stores:
        if store_id in have:
            own = grid.merge(sums[sums["store_id"] == store_id][["day_of_week", "daypart", "share"]],
                             on=["day_of_week", "daypart"], how="left").fillna(0.0)
            out.append(own.assign(store_id=store_id))
        else:
            out.append(peer.assign(store_id=store_id))
    if not out:
        return pd.DataFrame(columns=CELL_COLUMNS)
    return pd.concat(out, ignore_index=True)[CELL_COLUMNS]


def split_forecast(weekly: pd.DataFrame, shares: pd.DataFrame) -> pd.DataFrame:
    """Cells of each weekly forecast, summing exactly (to the cent) to it.

    ``weekly`` has ``store_id, fiscal_week_label, week_start, forecast_sales``; ``shares``
    comes from :func:`daypart_shares`. Every one of the 28 cells is returned (zero where
    the share is zero) with its ``business_date``; the rounding remainder goes to the
    store-week's largest cell.
    """
    merged = weekly.merge(shares, on="store_id", how="inner", validate="many_to_many")
    missing = set(weekly["store_id"]) - set(shares["store_id"])
    if missing:
        raise ValueError(f"no day-part shares for stores {sorted(missing)[:5]}")
    merged = merged.sort_values(["store_id", "fiscal_week_label", "day_of_week", "daypart"], ignore_index=True)
    week_cents = np.rint(merged["forecast_sales"].astype(float).to_numpy() * 100).astype(np.int64)
    cents = np.rint(merged["share"].to_numpy() * week_cents).astype(np.int64)
    merged["cents"] = cents
    groups = merged.groupby(["store_id", "fiscal_week_label"], sort=False)
    remainder = (pd.Series(week_cents, index=merged.index).groupby([merged["store_id"], merged["fiscal_week_label"]],
                                                                   sort=False).transform("first")
                 - groups["cents"].transform("sum"))
    largest = groups["share"].idxmax()
    merged.loc[largest.to_numpy(), "cents"] += remainder.loc[largest.to_numpy()].to_numpy()
    merged["forecast_sales"] = merged["cents"] / 100
    merged["business_date"] = [
        start + timedelta(days=int(dow) - 1) for start, dow in zip(merged["week_start"], merged["day_of_week"],
                                                                    strict=True)
    ]
    return merged[["store_id", "fiscal_week_label", "day_of_week", "daypart", "forecast_sales", "business_date"]]
