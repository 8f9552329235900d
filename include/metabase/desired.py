"""The state Metabase should be in, read from the warehouse, and the names that key it.

Stable keys: groups are found by name (``Store 000126 - viewers``), collections, cards and
dashboards by a key written into their description (``[bw:store/000126]``), so a renamed
store renames its collection in place instead of creating a second one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import psycopg

#: access_level -> the group suffix; ``admin`` makes a Metabase administrator instead.
LEVEL_GROUPS = {"view": "viewers", "explore": "explorers"}
_GROUP_RE = re.compile(r"^Store (\d{6}) - (viewers|explorers)$")
_KEY_RE = re.compile(r"\[bw:([^\]\s]+)\]")
DATA_QUALITY_KEY = "data-quality"


def schema_name(store_id: str) -> str:
    """The store's reporting schema."""
    if not re.fullmatch(r"\d{6}", store_id):
        raise ValueError(f"not a store id: {store_id!r}")
    return f"store_{store_id}"


def group_name(store_id: str, level: str) -> str:
    return f"Store {store_id} - {LEVEL_GROUPS[level]}"


def parse_group_name(name: str) -> tuple[str, str] | None:
    """``(store_id, level)`` of a store group, None for any other group."""
    match = _GROUP_RE.match(name or "")
    if not match:
        return None
    level = next(k for k, v in LEVEL_GROUPS.items() if v == match.group(2))
    return match.group(1), level


def collection_name(store_id: str, store_name: str) -> str:
    return f"Store {store_id} – {store_name}"


def key_marker(key: str) -> str:
    return f"[bw:{key}]"


def parse_key(description: str | None) -> str | None:
    match = _KEY_RE.search(description or "")
    return match.group(1) if match else None


def store_collection_key(store_id: str) -> str:
    return f"store/{store_id}"


@dataclass(frozen=True)
class Store:
    store_id: str
    store_name: str
    active: bool = True


@dataclass(frozen=True)
class User:
    user_id: int
    email: str
    first_name: str | None
    last_name: str | None
    active: bool = True


@dataclass
class DesiredState:
    """Stores, users (by lower-case email) and each user's grants ``{store_id: level}``."""

    stores: dict[str, Store] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    grants: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def active_stores(self) -> list[Store]:
        return [s for s in sorted(self.stores.values(), key=lambda s: s.store_id) if s.active]

    def user_grants(self, email: str) -> dict[str, str]:
        """The grants that count: an active user's grants on active stores."""
        user = self.users.get(email.lower())
        if user is None or not user.active:
            return {}
        return {s: lvl for s, lvl in self.grants.get(email.lower(), {}).items()
                if s in self.stores and self.stores[s].active}

    def is_admin(self, email: str) -> bool:
        return "admin" in self.user_grants(email).values()

    def groups_of(self, email: str) -> set[str]:
        """Names of the store groups the user belongs in (admins keep their view/explore groups too)."""
        return {group_name(s, lvl) for s, lvl in self.user_grants(email).items() if lvl in LEVEL_GROUPS}

    def store_managers(self) -> dict[str, set[str]]:
        """Emails of each active store's managers: active users with a view or explore grant on it."""
        out: dict[str, set[str]] = {}
        for email in self.users:
            for store_id, level in self.user_grants(email).items():
                if level in LEVEL_GROUPS:
                    out.setdefault(store_id, set()).add(email)
        return out


def load_desired(conn: psycopg.Connection) -> DesiredState:
    """Read stores, users and grants from the warehouse."""
    state = DesiredState()
    for store_id, name, active in conn.execute("SELECT store_id, store_name, active FROM core.stores"):
        state.stores[store_id] = Store(store_id, name, bool(active))
    rows = conn.execute("SELECT user_id, email, first_name, last_name, active FROM access.users")
    for user_id, email, first, last, active in rows:
        state.users[email.lower()] = User(int(user_id), email, first, last, bool(active))
    rows = conn.execute(
        "SELECT u.email, a.store_id, a.access_level FROM access.user_store_access a "
        "JOIN access.users u USING (user_id)"
    )
    for email, store_id, level in rows:
        state.grants.setdefault(email.lower(), {})[store_id] = level
    conn.rollback()  # read-only: end the transaction the reads opened
    return state


@dataclass(frozen=True)
class WarehouseRegistration:
    """How Metabase reaches the warehouse (as the read-only role)."""

    display_name: str
    host: str
    port: int
    dbname: str
    user: str
    password: str | None
    ssl: bool = False

    def details(self) -> dict:
        details = {
            "host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user, "ssl": self.ssl,
            "schema-filters-type": "inclusion", "schema-filters-patterns": "store_*,dq",
        }
        if self.password:
            details["password"] = self.password
        return details


def warehouse_registration() -> WarehouseRegistration:
    """From the Airflow connection ``warehouse_metabase_ro`` when it exists, else ``BW_METABASE_DB_*``.

    Environment: ``BW_METABASE_DB_HOST`` (default ``postgres``), ``_PORT`` (5432), ``_NAME``
    (``warehouse``), ``_USER`` (``bw_metabase_ro``), ``_PASSWORD``, ``_SSL`` (``false``),
    ``_DISPLAY_NAME`` (``Beachwood warehouse``).
    """
    env = os.environ.get
    display = env("BW_METABASE_DB_DISPLAY_NAME") or "Beachwood warehouse"
    ssl = (env("BW_METABASE_DB_SSL") or "false").lower() in ("1", "true", "yes")
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection("warehouse_metabase_ro")
    except Exception:  # no Airflow or no such connection: fall back to the environment
        conn = None
    if conn is not None:
        return WarehouseRegistration(display, conn.host or "postgres", int(conn.port or 5432),
                                     conn.schema or "warehouse", conn.login or "bw_metabase_ro",
                                     conn.password or None, ssl)
    return WarehouseRegistration(
        display, env("BW_METABASE_DB_HOST") or "postgres", int(env("BW_METABASE_DB_PORT") or 5432),
        env("BW_METABASE_DB_NAME") or "warehouse", env("BW_METABASE_DB_USER") or "bw_metabase_ro",
        env("BW_METABASE_DB_PASSWORD") or None, ssl,
    )
