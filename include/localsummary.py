"""The summary printed at the end of a local run: what landed where, and what is planned in Metabase."""

from __future__ import annotations

import psycopg

TABLES = (
    "core.stores", "core.fiscal_calendar", "sales.channel_daily", "sales.forecast_weekly",
    "sales.forecast_daypart", "sales.forecast_models", "labor.hours_daypart", "labor.employees",
    "labor.files_received", "labor.forecast_daypart", "access.users", "access.user_store_access",
    "etl.load_batches", "etl.quarantine",
)


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    from psycopg import sql

    counts = {}
    for name in TABLES:
        schema, table = name.split(".")
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        counts[name] = conn.execute(query).fetchone()[0]
    return counts


def quarantine_reasons(conn: psycopg.Connection, limit: int = 10) -> list[tuple[str, str, int]]:
    return conn.execute(
        """SELECT source, regexp_replace(split_part(reason, ':', 1), '[0-9]+', 'N', 'g') AS kind, count(*)
           FROM etl.quarantine GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT %s""",
        (limit,),
    ).fetchall()


def print_summary(url: str) -> None:
    with psycopg.connect(url) as conn:
        counts = table_counts(conn)
        reasons = quarantine_reasons(conn)
        forecast_stores = conn.execute("SELECT count(DISTINCT store_id) FROM sales.forecast_weekly").fetchone()[0]
    print("\n=== Summary ===")
    print(f"{'table':32} {'rows':>10}")
    for name, rows in counts.items():
        print(f"{name:32} {rows:>10,}")
    print(f"\nforecasts: {counts['sales.forecast_weekly']:,} weekly rows for {forecast_stores} stores, "
          f"{counts['sales.forecast_daypart']:,} day-part rows, {counts['labor.forecast_daypart']:,} labor rows")
    print(f"\nquarantined rows: {counts['etl.quarantine']:,}; top reasons:")
    for source, kind, rows in reasons:
        print(f"  {rows:>6,}  {source}: {kind}")
    from include.metabase.tasks import format_latest_plans

    print("\n" + format_latest_plans())
    print(f"\nwarehouse: {_display_url(url)}")


def _display_url(url: str) -> str:
    """The URL without a password."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    user = params.get("user", "postgres")
    return f"postgresql://{user}@{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname')}"
