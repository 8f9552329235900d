"""How the project reaches the warehouse: the Airflow connection, or a URL outside Airflow."""

from __future__ import annotations

import os

import psycopg

from include.config import WAREHOUSE_CONN_ID


def connect(url: str | None = None) -> psycopg.Connection:
    """Open a psycopg connection to the warehouse, in autocommit mode.

    Inside Airflow the ``warehouse_default`` connection is used (through PostgresHook);
    outside it, ``url`` or ``BW_WAREHOUSE_URL``. Every unit of work is a
    ``with conn.transaction():`` block, which commits on exit: without autocommit a first
    read would open an implicit transaction and turn every later block into a savepoint of it.
    """
    url = url or os.environ.get("BW_WAREHOUSE_URL")
    if url:
        return psycopg.connect(_libpq_url(url), autocommit=True)
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
    if not isinstance(conn, psycopg.Connection):  # psycopg2 fallback is not supported
        raise RuntimeError("the warehouse connection must use psycopg 3; install psycopg")
    conn.autocommit = True
    return conn


def _libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs (``postgresql+psycopg://``) as well as libpq ones."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgres") else url
