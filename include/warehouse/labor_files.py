"""Which stores have not sent their labor file for a business date."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg


def missing_labor_stores(
    conn: psycopg.Connection, dates: list[date], expected: Collection[str] | None = None
) -> dict[date, list[str]]:
    """Active stores (open on the date; among ``expected`` when given) without a labor file, per date."""
    if not dates:
        return {}
    only = sorted(expected) if expected else None
    rows = conn.execute(
        """SELECT d::date, s.store_id FROM core.stores s CROSS JOIN unnest(%s::date[]) d
           WHERE s.active AND (s.opened_on IS NULL OR s.opened_on <= d)
             AND (%s::text[] IS NULL OR s.store_id = ANY(%s::text[]))
             AND NOT EXISTS (SELECT 1 FROM labor.files_received f
                             WHERE f.store_id = s.store_id AND f.business_date = d)
           ORDER BY 1, 2""",
        (dates, only, only),
    ).fetchall()
    missing: dict[date, list[str]] = {}
    for day, store_id in rows:
        missing.setdefault(day, []).append(store_id)
    return missing
