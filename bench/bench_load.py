"""Load benchmark: the project's load path vs a bare psycopg COPY of the same DataFrame.

    python -m bench.bench_load [--rows 1000000] [--url postgresql://...]

Both run in this process against the same PostgreSQL (the embedded one by default),
each into a fresh, empty ``sales.channel_daily``. Prints a table of seconds, rows/s and
ratios; exits 1 when the targets are missed (load >= 0.75 x COPY's throughput into an
empty table; an unchanged re-load updates 0 rows in no more than COPY's time).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from include.pipelines.sales import CHANNEL_DAILY
from include.warehouse.loader import BatchInfo, empty_rejects, load_batch
from include.warehouse.migrations import apply_migrations

CHANNELS = ["carryout", "delivery", "online", "aggregator"]
DAYPARTS = ["Lunch", "Afternoon", "Dinner", "Evening"]


def sales_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    """``rows`` unique sales-like rows (stores x days x channels x day parts)."""
    rng = np.random.default_rng(seed)
    cells = len(CHANNELS) * len(DAYPARTS)
    days = 1095
    idx = np.arange(rows)
    store = idx // (days * cells)
    day = (idx // cells) % days
    cell = idx % cells
    start = date(2023, 11, 23)
    dates = pd.to_datetime(start) + pd.to_timedelta(day, unit="D")
    net = rng.gamma(4, 60, rows).round(2)
    return pd.DataFrame({
        "store_id": pd.Series(store + 100, dtype="int64").astype(str).str.zfill(6),
        "business_date": dates.date,
        "channel": np.array(CHANNELS)[cell // len(DAYPARTS)],
        "daypart": np.array(DAYPARTS)[cell % len(DAYPARTS)],
        "net_sales": net,
        "orders": rng.poisson(20, rows),
        "discounts": (net * 0.05).round(2),
        "ly_net_sales": (net * 0.97).round(2),
        "ly_orders": rng.poisson(19, rows),
        "source_id": [str(uuid.UUID(int=int(i) + 1)) for i in idx],
    })


def _fresh(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE sales.channel_daily, etl.load_batches CASCADE")
    conn.commit()


def bare_copy(conn: psycopg.Connection, frame: pd.DataFrame) -> float:
    """The baseline: DataFrame.to_csv + COPY straight into the table, one transaction."""
    start = time.perf_counter()
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    with conn.transaction():
        conn.execute("SELECT sales.ensure_month_partitions(%s, %s)",
                     (frame["business_date"].min(), frame["business_date"].max()))
        with conn.cursor().copy(sql.SQL("COPY sales.channel_daily ({}) FROM STDIN (FORMAT csv)").format(columns)) as cp:
            cp.write(buffer.getvalue())
    return time.perf_counter() - start


def project_load(conn: psycopg.Connection, frame: pd.DataFrame, etag: str) -> tuple[float, object]:
    start = time.perf_counter()
    result = load_batch(conn, CHANNEL_DAILY, frame, empty_rejects(),
                        BatchInfo("bench", "bench", "bench", "sales", etag))
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", help="an empty database to use (default: a throwaway embedded PostgreSQL)")
    args = parser.parse_args(argv)
    frame = sales_frame(args.rows)
    server = None
    url = args.url
    if url is None:
        from include.devdb import EmbeddedPostgres, ensure_database, free_port

        server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="bw-bench-", dir="/tmp")), free_port()).start()
        ensure_database(server.url(), "bench")
        url = server.url("bench")
    try:
        with psycopg.connect(url) as conn:
            apply_migrations(conn)
            conn.commit()
            _fresh(conn)
            bare_copy(conn, frame.head(10_000))  # warm-up (partitions, caches)
            _fresh(conn)
            t_copy = bare_copy(conn, frame)
            _fresh(conn)
            t_load, first = project_load(conn, frame, "first")
            t_reload, again = project_load(conn, frame, "second")
    finally:
        if server is not None:
            server.stop()
    rows = len(frame)
    print(f"\nLoad benchmark, {rows:,} sales rows")
    print(f"{'path':38} {'seconds':>8} {'rows/s':>10} {'vs COPY':>8}")
    print(f"{'bare COPY (to_csv), empty table':38} {t_copy:8.2f} {rows / t_copy:10,.0f} {1.0:8.2f}")
    print(f"{'project load, empty table':38} {t_load:8.2f} {rows / t_load:10,.0f} {t_copy / t_load:8.2f}")
    print(f"{'project re-load, unchanged':38} {t_reload:8.2f} {rows / t_reload:10,.0f} {t_copy / t_reload:8.2f}")
    print(f"inserted {first.rows_inserted:,}; re-load updated {again.rows_updated:,} rows")
    ok = t_copy / t_load >= 0.75 and again.rows_updated == 0 and t_reload <= t_copy
    print("targets: throughput >= 0.75 x COPY, unchanged re-load updates 0 rows within COPY's time:",
          "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
