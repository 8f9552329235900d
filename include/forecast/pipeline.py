"""Warehouse glue: read sales, labor and the calendar; write the sales and labor forecasts.

Idempotence: each table is loaded by :func:`include.warehouse.loader.load_batch` with
``source_etag`` = a hash of the input data (plus the model settings). A re-run on the same
input is skipped before any model is fitted and changes no table (not even
``etl.load_batches``). When the input changes back to an earlier version, the etag gets
the id of the latest batch as a suffix, so it is loaded again instead of being mistaken
for the older load. Rows are upserted by key: a run on new input re-stamps
``generated_at`` (sales) / ``trained_at`` of every row it forecasts, since that is the
date of the forecast. Forecasts made earlier for weeks outside the new horizon stay as a
history of forecasts; a week forecast again is overwritten. ``forecast_models`` keeps one
row per store (the latest model). The labor forecast rows carry no run stamp: a re-run
on changed input updates only the rows whose hours changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, date, datetime, timedelta

import psycopg

from include.forecast import HORIZON_WEEKS, SALES_DAYPARTS

log = logging.getLogger(__name__)

SALES_SOURCE = "forecast:sales"
LABOR_SOURCE = "forecast:labor"
#: Bump when the models or the split change, so unchanged data is forecast again.
MODEL_VERSION = "forecast-v1"


def _targets():
    from include.warehouse.loader import Target

    return {
        "sales.forecast_weekly": Target("sales", "forecast_weekly", ("store_id", "fiscal_week_label")),
        "sales.forecast_daypart": Target(
            "sales", "forecast_daypart", ("store_id", "fiscal_week_label", "day_of_week", "daypart")
        ),
        "sales.forecast_models": Target("sales", "forecast_models", ("store_id",)),
        "labor.forecast_daypart": Target("labor", "forecast_daypart", ("store_id", "business_date", "daypart")),
    }


def _frame(conn: psycopg.Connection, query: str, params: tuple, columns: list[str]):
    import pandas as pd

    frame = pd.DataFrame(conn.execute(query, params).fetchall(), columns=columns)
    for column in columns:
        if column in ("net_sales", "hours", "forecast_sales"):
            frame[column] = frame[column].astype(float)
    return frame


def _input_hash(*parts) -> str:
    """sha256 over DataFrames (content, not order) and plain values."""
    import pandas as pd

    digest = hashlib.sha256(MODEL_VERSION.encode())
    for part in parts:
        if isinstance(part, pd.DataFrame):
            ordered = part.sort_values(list(part.columns), ignore_index=True).astype(str)
            digest.update(",".join(ordered.columns).encode())
            digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _latest_batch(conn: psycopg.Connection, source: str, item: str) -> tuple[int, str] | None:
    return conn.execute(
        """SELECT batch_id, source_etag FROM etl.load_batches
           WHERE source = %s AND source_item = %s AND status = 'succeeded'
           ORDER BY batch_id DESC LIMIT 1""",
        (source, item),
    ).fetchone()


def _etag(conn: psycopg.Connection, source: str, item: str, input_hash: str) -> str:
    """The etag to load with: the latest batch's when it was this input (so it is skipped)."""
    latest = _latest_batch(conn, source, item)
    if latest is None:
        return f"{input_hash}@0"
    batch_id, etag = latest
    if etag and etag.split("@")[0] == input_hash:
        return etag
    return f"{input_hash}@{batch_id}"


def _current(conn: psycopg.Connection, source: str, items: list[str], input_hash: str) -> bool:
    """Whether every table's latest load came from this very input."""
    for item in items:
        latest = _latest_batch(conn, source, item)
        if latest is None or not latest[1] or latest[1].split("@")[0] != input_hash:
            return False
    return True


def _load(conn, item: str, frame, *, dag_id: str, run_id: str, source: str, input_hash: str) -> dict:
    from include.warehouse.loader import BatchInfo, empty_rejects, load_batch

    info = BatchInfo(dag_id, run_id, source, item, _etag(conn, source, item, input_hash))
    return load_batch(conn, _targets()[item], frame, empty_rejects(), info).as_dict()


def _active_stores(conn: psycopg.Connection, stores: set[str] | None) -> list[str]:
    active = [r[0] for r in conn.execute("SELECT store_id FROM core.stores WHERE active ORDER BY store_id")]
    if stores is not None:
        wanted = {str(s).strip().zfill(6) for s in stores}
        unknown = wanted - set(active)
        if unknown:
            log.warning("stores %s are not active stores: not forecast", sorted(unknown))
        active = [s for s in active if s in wanted]
    return active


def _window(conn: psycopg.Connection):
    """Calendar weeks, the data's last date, the last complete week and the horizon."""
    from include.forecast.weekly import fiscal_weeks, horizon, last_complete_week

    calendar = _frame(conn, "SELECT calendar_date, fiscal_week_label FROM core.fiscal_calendar", (),
                      ["calendar_date", "fiscal_week_label"])
    if calendar.empty:
        raise ValueError("core.fiscal_calendar is empty: load the fiscal calendar first")
    as_of = conn.execute("SELECT max(business_date) FROM sales.channel_daily").fetchone()[0]
    if as_of is None:
        raise ValueError("sales.channel_daily is empty: nothing to forecast from")
    weeks = fiscal_weeks(calendar)
    last = last_complete_week(weeks, as_of)
    return calendar, weeks, as_of, last, horizon(weeks, last["week_start"], HORIZON_WEEKS)


def forecast_sales(
    conn: psycopg.Connection, *, dag_id: str, run_id: str, stores: set[str] | None = None, workers: int | None = None
) -> dict:
    """Forecast weekly sales of the active stores (or ``stores``) and split them by day and day part.

    Writes sales.forecast_weekly, sales.forecast_daypart and sales.forecast_models; returns
    a summary (stores forecast, rows written, median MAPE per family, stores beating
    seasonal naive, fallbacks used).
    """
    from include.forecast.models import load_tuned_orders
    from include.forecast.runner import forecast_all, forecast_frames, summarize
    from include.forecast.split import daypart_shares, share_window, split_forecast
    from include.forecast.weekly import weekly_series

    started = time.perf_counter()
    calendar, weeks, as_of, last, future = _window(conn)
    active = _active_stores(conn, stores)
    daily = _frame(
        conn,
        """SELECT store_id, business_date, sum(net_sales) FROM sales.channel_daily
           WHERE store_id = ANY(%s) AND business_date <= %s GROUP BY store_id, business_date""",
        (active, last["week_end"]),
        ["store_id", "business_date", "net_sales"],
    )
    start, end = share_window(weeks, last["week_start"])
    cells = _frame(
        conn,
        """SELECT store_id, business_date, daypart, sum(net_sales) FROM sales.channel_daily
           WHERE business_date BETWEEN %s AND %s GROUP BY store_id, business_date, daypart""",
        (start, end),
        ["store_id", "business_date", "daypart", "net_sales"],
    )
    partial = _frame(
        conn,
        """SELECT store_id, min(business_date), sum(net_sales) FROM sales.channel_daily
           WHERE store_id = ANY(%s) AND business_date <= %s GROUP BY store_id""",
        (active, as_of),
        ["store_id", "first_day", "net_sales"],
    )
    tuned = load_tuned_orders()
    input_hash = _input_hash(daily, cells, partial, future, {k: {kk: list(vv) for kk, vv in v.items()}
                                                             for k, v in tuned.items()}, str(as_of), active)
    items = ["sales.forecast_weekly", "sales.forecast_daypart", "sales.forecast_models"]
    summary: dict = {"as_of": str(as_of), "last_complete_week": last["fiscal_week_label"],
                     "horizon": list(future["fiscal_week_label"])}
    if _current(conn, SALES_SOURCE, items, input_hash):
        log.info("sales forecast input unchanged since the last load: skipped")
        return {**summary, "skipped": True, "stores_forecast": 0, "rows_written": dict.fromkeys(items, 0)}
    weekly = weekly_series(daily, calendar, as_of)[0] if not daily.empty else daily.assign(week_start=None)
    with_weeks = set(weekly["store_id"])
    newcomers = {
        row.store_id: 7 * row.net_sales / ((as_of - row.first_day).days + 1)
        for row in partial.itertuples() if row.store_id not in with_weeks
    }
    no_sales = sorted(set(active) - set(partial["store_id"]))
    if no_sales:
        log.warning("%d active stores have no sales at all and are not forecast: %s", len(no_sales), no_sales[:10])
    results = forecast_all(weekly, list(future["week_start"]), tuned, newcomers, workers=workers)
    weekly_fc, models = forecast_frames(results, future)
    shares = daypart_shares(cells, sorted(weekly_fc["store_id"].unique()), start, end)
    daypart_fc = split_forecast(weekly_fc, shares)
    stamp = datetime.now(UTC)  # the date of forecast (written back to Dataverse from generated_at)
    weekly_fc["generated_at"] = daypart_fc["generated_at"] = models["trained_at"] = stamp
    loads = {}
    conn.commit()  # end the read transaction: the three loads commit together or not at all
    with conn.transaction():
        for item, frame in zip(items, (weekly_fc, daypart_fc, models), strict=True):
            loads[item] = _load(conn, item, frame, dag_id=dag_id, run_id=run_id, source=SALES_SOURCE,
                                input_hash=input_hash)
    summary.update(summarize(results))
    summary.update(
        skipped=False,
        stores_without_sales=no_sales,
        rows_written={k: v["rows_inserted"] + v["rows_updated"] for k, v in loads.items()},
        loads=loads,
        seconds=round(time.perf_counter() - started, 1),
    )
    return summary


def forecast_labor(conn: psycopg.Connection, *, dag_id: str, run_id: str, stores: set[str] | None = None) -> dict:
    """Labor hours needed per store, forecast date and labor day part; writes labor.forecast_daypart.

    Uses the current horizon's rows of sales.forecast_daypart (run :func:`forecast_sales`
    first) and the trailing weeks of sales.channel_daily and labor.hours_daypart.
    """
    from include.forecast.labor import TRAILING_WEEKS, labor_forecast, sales_per_labor_hour, trailing_hours

    _, _, as_of, last, future = _window(conn)
    active = _active_stores(conn, stores)
    forecast = _frame(
        conn,
        """SELECT store_id, business_date, daypart, forecast_sales FROM sales.forecast_daypart
           WHERE store_id = ANY(%s) AND fiscal_week_label = ANY(%s)""",
        (active, list(future["fiscal_week_label"])),
        ["store_id", "business_date", "daypart", "forecast_sales"],
    )
    missing = sorted(set(active) - set(forecast["store_id"]))
    summary: dict = {"as_of": str(as_of), "horizon": list(future["fiscal_week_label"]),
                     "stores_without_sales_forecast": missing}
    if forecast.empty:
        raise ValueError(f"no sales forecast for weeks {summary['horizon']}: run forecast_sales first")
    end: date = last["week_end"]
    start = end - timedelta(days=7 * TRAILING_WEEKS - 1)
    sales = _frame(
        conn,
        """SELECT store_id, business_date, daypart, sum(net_sales) FROM sales.channel_daily
           WHERE store_id = ANY(%s) AND business_date BETWEEN %s AND %s
           GROUP BY store_id, business_date, daypart""",
        (active, start, end),
        ["store_id", "business_date", "daypart", "net_sales"],
    )
    hours = _frame(
        conn,
        """SELECT store_id, business_date, daypart, sum(hours) FROM labor.hours_daypart
           WHERE business_date BETWEEN %s AND %s GROUP BY store_id, business_date, daypart""",
        (start, end),
        ["store_id", "business_date", "daypart", "hours"],
    )
    input_hash = _input_hash(forecast, sales, hours, str(as_of), active)
    item = "labor.forecast_daypart"
    if _current(conn, LABOR_SOURCE, [item], input_hash):
        log.info("labor forecast input unchanged since the last load: skipped")
        return {**summary, "skipped": True, "rows_written": 0}
    splh = sales_per_labor_hour(sales, hours, start, end)
    trailing = trailing_hours(hours[hours["store_id"].isin(active)], start, end)
    frame = labor_forecast(forecast[forecast["daypart"].isin(SALES_DAYPARTS)], splh, trailing)
    conn.commit()
    with conn.transaction():
        load = _load(conn, item, frame, dag_id=dag_id, run_id=run_id, source=LABOR_SOURCE, input_hash=input_hash)
    summary.update(
        skipped=False,
        stores_forecast=int(frame["store_id"].nunique()),
        stores_without_labor_history=sorted(set(frame["store_id"]) - set(splh["store_id"])),
        rows_written=load["rows_inserted"] + load["rows_updated"],
        hours_needed_total=round(float(frame["hours_needed"].sum()), 2),
        load=load,
    )
    return summary
