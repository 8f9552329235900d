"""Labor hours by day part -> Dataverse ``crf63_labortimes`` (alternate key ``crf63_businesskey``).

``crf63_businesskey`` = ``{store}_{employee_id}_{YYYYMMDD}_{day_part}``. Rows that failed
before are sent again with this run's rows; rows marked ``crf63_overwrite = true`` in
Dataverse are never written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg

from include.sources.base import TableStore, WriteResult
from include.writeback import upsert_unprotected

ENTITY_SET = "crf63_labortimes"
KEY = ("crf63_businesskey",)


def business_key(store_id: str, employee_id: str, business_date: date, daypart: str) -> str:
    return f"{store_id}_{employee_id}_{business_date:%Y%m%d}_{daypart}"


def labor_rows(conn: psycopg.Connection, since: date | None = None, stores: set[str] | None = None) -> list[dict]:
    """``labor.hours_daypart`` (from ``since`` on) as Dataverse records."""
    refreshed = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    rows = conn.execute(
        """
        SELECT store_id, employee_id, employee_name, daypart, hours, business_date
        FROM labor.hours_daypart
        WHERE (%(since)s::date IS NULL OR business_date >= %(since)s::date)
          AND (%(stores)s::text[] IS NULL OR store_id = ANY(%(stores)s::text[]))
        ORDER BY business_date, store_id, employee_id, daypart
        """,
        {"since": since, "stores": sorted(stores) if stores is not None else None},
    ).fetchall()
    records = []
    for store_id, employee_id, name, daypart, hours, business_date in rows:
        key = business_key(store_id, employee_id, business_date, daypart)
        records.append({
            "crf63_businesskey": key,
            "crf63_name": key,
            "crf63_storenumber": store_id,
            "crf63_employeeid": employee_id,
            "crf63_employeename": name,
            "crf63_daypart": daypart,
            "crf63_totalhours": round(float(hours), 4),
            "crf63_workdate": business_date.isoformat(),
            "crf63_datasource": "bw-airflow",
            "crf63_lastrefreshed": refreshed,
        })
    return records


def write_labor_hours(
    conn: psycopg.Connection, store: TableStore, *, since: date | None = None, stores: set[str] | None = None
) -> WriteResult:
    """Upsert labor hours from ``since`` (all when None) plus the rows that failed before."""
    return upsert_unprotected(conn, store, ENTITY_SET, KEY, labor_rows(conn, since, stores),
                              store_column="crf63_storenumber", stores=stores)
