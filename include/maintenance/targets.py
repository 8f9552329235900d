"""Which databases the maintenance DAG backs up, and the server login it uses to do so.

With the ``postgres_backup`` connection (a login with CREATEDB that may read every table,
e.g. a member of ``pg_read_all_data``), each database in ``BW_BACKUP_DATABASES`` is dumped.
Without it (a local run), only the warehouse is, through the warehouse connection.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from psycopg.conninfo import make_conninfo

from include.config import WAREHOUSE_CONN_ID
from include.maintenance.pgtools import database_of, with_database
from include.maintenance.settings import BACKUP_CONN_ID, BackupSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Targets:
    """Database label -> URL to dump it, and the URL of a login that may create scratch databases."""

    databases: dict[str, str]
    admin_url: str

    def url(self, label: str) -> str:
        try:
            return self.databases[label]
        except KeyError:
            raise ValueError(f"no backup target named {label!r} (known: {', '.join(self.databases)})") from None


def connection_url(conn_id: str) -> str | None:
    """A libpq URL from an Airflow connection, or None when it does not exist."""
    from include.maintenance.health import connection_exists

    if not connection_exists(conn_id):
        return None
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    params = {
        "host": conn.host or "localhost",
        "port": conn.port or 5432,
        "user": conn.login or None,
        "password": conn.password or None,
        "dbname": conn.schema or "postgres",
    }
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


def resolve_targets(cfg: BackupSettings) -> Targets:
    """The databases to dump under the current configuration."""
    backup_url = connection_url(BACKUP_CONN_ID)
    if backup_url:
        return Targets({db: with_database(backup_url, db) for db in cfg.databases}, backup_url)
    warehouse_url = os.environ.get("BW_WAREHOUSE_URL") or connection_url(WAREHOUSE_CONN_ID)
    if not warehouse_url:
        raise RuntimeError(
            f"nothing to back up: no connection {BACKUP_CONN_ID!r}, no BW_WAREHOUSE_URL and no {WAREHOUSE_CONN_ID!r}"
        )
    log.info("no connection %r: backing up only the warehouse through its own connection", BACKUP_CONN_ID)
    return Targets({database_of(warehouse_url): warehouse_url}, warehouse_url)
