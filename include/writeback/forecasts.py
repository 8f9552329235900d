"""Daypart sales forecasts -> Dataverse ``crf63_bwsalesforecasts``.

Alternate key: day part, day of week, fiscal week, store. Rows that exist in Dataverse with
``crf63_overwrite = true`` were set by a manager and are never written (counted as skipped).
"""

from __future__ import annotations

import logging
from datetime import date

import psycopg

from include.sources.base import TableStore, WriteResult
from include.writeback import pending_failures, record_outcome, row_key

log = logging.getLogger(__name__)

ENTITY_SET = "crf63_bwsalesforecasts"
KEY = ("crf63_forecasteddaypart", "crf63_forecasteddow", "crf63_forecastedfiscalweek", "crf63_forecastedstore")


def forecast_rows(conn: psycopg.Connection, stores: set[str] | None = None) -> list[dict]:
    """``sales.forecast_daypart`` as Dataverse records (day of week 1 = Monday ... 7 = Sunday)."""
    rows = conn.execute(
        """
        SELECT store_id, fiscal_week_label, day_of_week, daypart, forecast_sales, generated_at::date
        FROM sales.forecast_daypart
        WHERE %(stores)s::text[] IS NULL OR store_id = ANY(%(stores)s::text[])
        ORDER BY store_id, fiscal_week_label, day_of_week, daypart
        """,
        {"stores": sorted(stores) if stores is not None else None},
    ).fetchall()
    return [
        {
            "crf63_forecastedstore": store,
            "crf63_forecastedfiscalweek": week,
            "crf63_forecasteddow": int(dow),
            "crf63_forecasteddaypart": daypart,
            "crf63_forecastedsales": float(sales),
            "crf63_dateofforecast": (generated or date.today()).isoformat(),
        }
        for store, week, dow, daypart, sales, generated in rows
    ]


def protected_keys(store: TableStore) -> set[tuple]:
    """Keys of the Dataverse rows a manager marked ``crf63_overwrite = true``."""
    found = store.read_where(ENTITY_SET, [*KEY, "crf63_overwrite"], {"crf63_overwrite": True})
    return {tuple(r.get(k) for k in KEY) for r in found}


def write_sales_forecasts(
    conn: psycopg.Connection, store: TableStore, *, stores: set[str] | None = None
) -> WriteResult:
    """Upsert the daypart forecasts (and earlier failures); never touch protected rows."""
    rows = forecast_rows(conn, stores)
    keys = {row_key(KEY, r) for r in rows}
    for retry in pending_failures(conn, ENTITY_SET):
        if row_key(KEY, retry) not in keys and (stores is None or retry.get("crf63_forecastedstore") in stores):
            rows.append(retry)
    protected = protected_keys(store)
    sendable = [r for r in rows if tuple(r[k] for k in KEY) not in protected]
    result = store.upsert(ENTITY_SET, KEY, sendable) if sendable else WriteResult()
    result.skipped += len(rows) - len(sendable)
    record_outcome(conn, ENTITY_SET, KEY, rows, result)
    log.info("%s: %d created, %d updated, %d protected, %d failed", ENTITY_SET, result.created, result.updated,
             len(rows) - len(sendable), len(result.failed))
    return result
