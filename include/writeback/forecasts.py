"""Daypart sales forecasts -> Dataverse ``crf63_bwsalesforecasts``.

Alternate key: day part, day of week, fiscal week, store. Rows that exist in Dataverse with
``crf63_overwrite = true`` were set by a manager and are never written (counted as skipped).
"""

from __future__ import annotations

from datetime import date

import psycopg

from include.sources.base import TableStore, WriteResult
from include.writeback import upsert_unprotected

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


def write_sales_forecasts(
    conn: psycopg.Connection, store: TableStore, *, stores: set[str] | None = None
) -> WriteResult:
    """Upsert the daypart forecasts (and earlier failures); never touch protected rows."""
    return upsert_unprotected(conn, store, ENTITY_SET, KEY, forecast_rows(conn, stores),
                              store_column="crf63_forecastedstore", stores=stores)
