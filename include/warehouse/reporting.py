"""Per-store reporting schemas (``store_NNNNNN``) generated from one SQL template.

Each store in ``core.stores`` gets a schema of ``security_barrier`` views filtered to it,
built from ``sql/templates/store_reporting.sql``. A schema is (re)built when its store is
new, when the template's checksum differs from the one recorded in ``etl.reporting_schemas``,
or when the schema went missing; otherwise it is left untouched. The read-only role
``bw_metabase_ro`` gets USAGE and SELECT on it (and default privileges for later views).

The store id reaches SQL only through ``psycopg.sql.Identifier``/``Literal``, after it was
checked to be six digits.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import psycopg
from psycopg import sql

from include.config import REPO_ROOT

log = logging.getLogger(__name__)

TEMPLATE_PATH = REPO_ROOT / "sql" / "templates" / "store_reporting.sql"
#: The NOLOGIN role Metabase's login user is a member of (created by sql/0020_reporting_role.sql).
READONLY_ROLE = "bw_metabase_ro"
#: Serialises concurrent refreshes (stores DAG runs overlapping).
_LOCK_KEY = 0x42570020
_STORE_ID = re.compile(r"[0-9]{6}")


def schema_name(store_id: str) -> str:
    """The reporting schema of a store: ``store_000126``. Raises ValueError for a malformed id."""
    if not isinstance(store_id, str) or not _STORE_ID.fullmatch(store_id):
        raise ValueError(f"store id must be 6 digits, got {store_id!r}")
    return f"store_{store_id}"


def template_checksum(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def render(template: str, store_id: str) -> sql.Composed:
    """The template with ``{schema}`` and ``{store_id}`` bound through psycopg.sql."""
    return sql.SQL(template).format(schema=sql.Identifier(schema_name(store_id)), store_id=sql.Literal(store_id))


def _build(conn: psycopg.Connection, store_id: str, template: str) -> None:
    """Drop and recreate the store's schema with the template's views, and grant the read-only role."""
    schema = sql.Identifier(schema_name(store_id))
    role = sql.Identifier(READONLY_ROLE)
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
    conn.execute(render(template, store_id))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role))
    conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(schema, role))


def refresh_reporting_schemas(
    conn: psycopg.Connection,
    stores: set[str] | None = None,
    *,
    template_path: Path = TEMPLATE_PATH,
) -> dict:
    """Create or rebuild the reporting schemas that need it, in one transaction.

    ``stores`` limits the work to those store ids (ids missing from ``core.stores`` are
    skipped with a warning); by default every store is considered. Returns ``{"created": [store ids],
    "refreshed": [store ids], "unchanged": count}``.
    """
    template = template_path.read_text(encoding="utf-8")
    checksum = template_checksum(template)
    wanted = None
    if stores is not None:
        wanted = sorted(set(stores))
        for store_id in wanted:
            schema_name(store_id)  # validates before any SQL
    created: list[str] = []
    refreshed: list[str] = []
    unchanged = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        known = [r[0] for r in conn.execute("SELECT store_id FROM core.stores ORDER BY store_id").fetchall()]
        if wanted is not None:
            missing = sorted(set(wanted) - set(known))
            if missing:  # e.g. an allowlist naming a store not loaded (yet)
                log.warning("no reporting schema for stores missing from core.stores: %s", ", ".join(missing))
            known = [s for s in wanted if s not in missing]
        recorded = dict(conn.execute("SELECT store_id, template_checksum FROM etl.reporting_schemas").fetchall())
        existing = {
            r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^store_[0-9]{6}$'")
        }
        for store_id in known:
            name = schema_name(store_id)
            if store_id in recorded and recorded[store_id] == checksum and name in existing:
                unchanged += 1
                continue
            _build(conn, store_id, template)
            if store_id in recorded:
                conn.execute(
                    """UPDATE etl.reporting_schemas SET template_checksum = %s, refreshed_at = now()
                       WHERE store_id = %s""",
                    (checksum, store_id),
                )
                refreshed.append(store_id)
            else:
                conn.execute(
                    "INSERT INTO etl.reporting_schemas (schema_name, store_id, template_checksum) VALUES (%s, %s, %s)",
                    (name, store_id, checksum),
                )
                created.append(store_id)
    log.info(
        "reporting schemas: %d created, %d refreshed, %d unchanged (template %s)",
        len(created), len(refreshed), unchanged, checksum[:12],
    )
    return {"created": created, "refreshed": refreshed, "unchanged": unchanged}
