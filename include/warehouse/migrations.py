"""Ordered SQL migrations from ``sql/``, each applied once and recorded with its checksum."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from include.config import REPO_ROOT

log = logging.getLogger(__name__)

MIGRATIONS_DIR = REPO_ROOT / "sql"
#: Serialises concurrent runners (two DAGs starting at once).
_LOCK_KEY = 0x42570001


class MigrationError(RuntimeError):
    """A migration cannot be applied, or an applied one was edited."""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files (``NNNN_name.sql``) in name order."""
    files = sorted(p for p in directory.glob("[0-9][0-9][0-9][0-9]_*.sql") if p.is_file())
    return [Migration(p.name, p.read_text(encoding="utf-8")) for p in files]


def apply_migrations(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied.

    Raises MigrationError when a file already applied has changed since.
    """
    migrations = discover(directory)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS etl")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS etl.schema_migrations (
                   name text PRIMARY KEY, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
    applied = dict(conn.execute("SELECT name, checksum FROM etl.schema_migrations").fetchall())
    for name, checksum in applied.items():
        current = next((m for m in migrations if m.name == name), None)
        if current is not None and current.checksum != checksum:
            raise MigrationError(
                f"migration {name} was edited after it was applied "
                f"(recorded checksum {checksum[:12]}, file now {current.checksum[:12]}); "
                "add a new migration instead of changing an applied one"
            )
    done: list[str] = []
    for migration in migrations:
        if migration.name in applied:
            continue
        log.info("applying migration %s", migration.name)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            already = conn.execute(
                "SELECT 1 FROM etl.schema_migrations WHERE name = %s", (migration.name,)
            ).fetchone()
            if already:
                continue
            try:
                conn.execute(migration.sql)
            except psycopg.Error as exc:
                raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
            conn.execute(
                "INSERT INTO etl.schema_migrations (name, checksum) VALUES (%s, %s)",
                (migration.name, migration.checksum),
            )
        done.append(migration.name)
    return done
