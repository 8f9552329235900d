"""Fixtures and seed data shared by the Metabase tests (a double per test, a seeded warehouse)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from include.metabase.desired import load_desired
from tests.doubles.metabase import MetabaseDouble

STORES = [f"{n:06d}" for n in (101, 126, 205, 318, 422, 507, 611, 733, 845, 912)]
LEVELS = ("view", "explore")


def sample_access() -> tuple[list[tuple[str, str, str, bool]], dict[str, dict[str, str]]]:
    """~20 users: store managers (one store), district managers (several), admins, an inactive user,
    a user without grants. Returns users (email, first, last, active) and grants by email."""
    users, grants = [], {}
    for i in range(20):
        email = f"user{i:02d}@beachwood.me"
        users.append((email, f"First{i}", f"Last{i}", i != 17))
        if i == 18:
            continue  # no grants at all
        if i == 19:
            grants[email] = {s: "admin" for s in STORES}
            continue
        # every fifth user is a district manager with three stores; the others manage one
        count = 3 if i % 5 == 0 else 1
        stores = [STORES[(i + k) % len(STORES)] for k in range(count)]
        grants[email] = {s: LEVELS[(i + n) % 2] for n, s in enumerate(stores)}
    return users, grants


def seed_access(conn: psycopg.Connection, users=None, grants=None) -> None:
    """Stores, users and grants into the warehouse (replacing what is there)."""
    if users is None:
        users, grants = sample_access()
    with conn.transaction():
        conn.execute("DELETE FROM access.user_store_access")
        for store in STORES:
            conn.execute("INSERT INTO core.stores (store_id, store_name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (store, f"Beachwood {store[-3:]}"))
        for email, first, last, active in users:
            conn.execute(
                "INSERT INTO access.users (email, first_name, last_name, active) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (lower(email)) DO UPDATE SET active = EXCLUDED.active", (email, first, last, active))
        for email, by_store in grants.items():
            for store, level in by_store.items():
                conn.execute(
                    "INSERT INTO access.user_store_access (user_id, store_id, access_level) "
                    "SELECT user_id, %s, %s FROM access.users WHERE lower(email) = lower(%s)", (store, level, email))


@pytest.fixture(name="metabase")
def metabase_double(monkeypatch, tmp_path) -> Iterator[MetabaseDouble]:
    """A set-up Metabase double with an administrators' API key in ``metabase_default``."""
    with MetabaseDouble() as double:
        key = double.bootstrap()
        conn = {"conn_type": "http", "host": "127.0.0.1", "port": int(double.url.rsplit(":", 1)[1]),
                "schema": "http", "password": key}
        monkeypatch.setenv("AIRFLOW_CONN_METABASE_DEFAULT", json.dumps(conn))
        monkeypatch.setenv("BW_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("BW_METABASE_DB_HOST", "warehouse.internal")
        monkeypatch.setenv("BW_METABASE_DB_USER", "metabase_reader")
        monkeypatch.setenv("BW_METABASE_DB_PASSWORD", "reader-secret")
        yield double
        assert double.violations == [], "requests that do not fit Metabase's OpenAPI description"


def warehouse_db(double) -> int:
    """The id of the registered warehouse in the double."""
    return next(iter(double.databases))


def assert_isolation(double, conn, minimum: int = 15) -> int:
    """Each user's reachable stores (collections, query access, admin) equal their grants exactly."""
    desired = load_desired(conn)
    db = warehouse_db(double)
    checked = 0
    for email in desired.users:
        grants = desired.user_grants(email)
        colls, queries, admin = double.reachable(email, db)
        if "admin" in grants.values():
            assert admin, email
            continue
        assert not admin, email
        assert colls == set(grants), f"{email}: collections {sorted(colls)} != grants {sorted(grants)}"
        assert queries == {s for s, lvl in grants.items() if lvl == "explore"}, email
        checked += 1
    assert checked >= minimum
    return checked
