"""load_access: users by lower-cased email, grants mirrored from the source, every change logged."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pandas as pd
import psycopg
import pytest

from include.access.load import AccessLoadError, load_access
from include.warehouse.loader import BatchInfo

INFO = BatchInfo("access", "run-1", "sheet", "BI Dimensions.xlsx#Access")
STORES = ("000126", "000200", "000301")


@pytest.fixture
def db(warehouse_url) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO core.stores (store_id, store_name) VALUES (%s, %s)", [(s, f"Store {s}") for s in STORES]
            )
        yield conn


def users(*rows: tuple) -> pd.DataFrame:
    """Rows of (email, first_name, last_name, active)."""
    return pd.DataFrame(list(rows), columns=["email", "first_name", "last_name", "active"])


def grants(*rows: tuple) -> pd.DataFrame:
    """Rows of (email, store_id, access_level)."""
    return pd.DataFrame(list(rows), columns=["email", "store_id", "access_level"])


def rejects(*rows: tuple) -> pd.DataFrame:
    """Rows of (source_row, raw, reason)."""
    return pd.DataFrame(list(rows), columns=["source_row", "raw", "reason"])


NO_REJECTS = rejects()

ANN = ("ann@example.com", "Ann", "Lee", True)
BOB = ("bob@example.com", "Bob", "Diaz", True)


def load(conn, u, g, r=NO_REJECTS, **kwargs) -> dict:
    return load_access(conn, u, g, r, INFO, **kwargs)


def user_rows(conn) -> dict[str, tuple]:
    rows = conn.execute("SELECT email, first_name, last_name, active FROM access.users").fetchall()
    return {r[0]: r[1:] for r in rows}


def grant_rows(conn) -> set[tuple]:
    return set(
        conn.execute(
            "SELECT u.email, g.store_id, g.access_level "
            "FROM access.user_store_access g JOIN access.users u USING (user_id)"
        ).fetchall()
    )


def change_rows(conn, since: int = 0) -> list[tuple]:
    return conn.execute(
        """SELECT u.email, c.store_id, c.change, c.old_value, c.new_value FROM access.changes c
           JOIN access.users u USING (user_id) WHERE c.change_id > %s ORDER BY c.change_id""",
        (since,),
    ).fetchall()


def last_change_id(conn) -> int:
    return conn.execute("SELECT coalesce(max(change_id), 0) FROM access.changes").fetchone()[0]


def snapshot(conn) -> dict[str, list]:
    """Every row (with its xmin, so even a no-op UPDATE shows) of the tables a load may touch."""
    tables = ["access.users", "access.user_store_access", "access.changes", "etl.load_batches", "etl.quarantine"]
    return {t: conn.execute(f"SELECT xmin::text, t::text FROM {t} t ORDER BY 2").fetchall() for t in tables}


def test_first_load_creates_users_grants_batch_and_log(db):
    summary = load(db, users(ANN, BOB), grants(
        ("ann@example.com", "000126", "view"), ("ann@example.com", "000200", "explore"),
        ("bob@example.com", "000301", "admin"),
    ))
    assert summary == {
        "users_created": 2, "users_updated": 0, "users_deactivated": 0, "users_reactivated": 0,
        "grants_added": 3, "grants_changed": 0, "grants_revoked": 0, "quarantined": 0,
        "batch_id": summary["batch_id"], "skipped": False,
    }
    assert user_rows(db) == {"ann@example.com": ("Ann", "Lee", True), "bob@example.com": ("Bob", "Diaz", True)}
    assert grant_rows(db) == {
        ("ann@example.com", "000126", "view"), ("ann@example.com", "000200", "explore"),
        ("bob@example.com", "000301", "admin"),
    }
    changes = change_rows(db)
    assert [c[2] for c in changes].count("user_created") == 2
    assert ("ann@example.com", "000200", "granted", None, "explore") in changes
    batch = db.execute(
        "SELECT source, source_item, target_table, rows_read, rows_loaded, rows_quarantined, rows_inserted "
        "FROM etl.load_batches WHERE batch_id = %s", (summary["batch_id"],)
    ).fetchone()
    assert batch == ("sheet", "BI Dimensions.xlsx#Access", "access.users", 2, 2, 0, 2)
    granted_at = db.execute("SELECT bool_and(granted_at = changed_at) FROM access.user_store_access g "
                            "JOIN access.changes c USING (user_id, store_id)").fetchone()[0]
    assert granted_at is True


def test_users_match_case_insensitively(db):
    db.execute("INSERT INTO access.users (email, first_name) VALUES ('Ann@Example.COM', 'Ann')")
    summary = load(db, users(("  ANN@example.com ", "Ann", "Lee", True)), grants(("ANN@EXAMPLE.com", "000126", "view")))
    assert summary["users_created"] == 0 and summary["users_updated"] == 1
    assert user_rows(db) == {"ann@example.com": ("Ann", "Lee", True)}
    assert grant_rows(db) == {("ann@example.com", "000126", "view")}
    updated = [c for c in change_rows(db) if c[2] == "user_updated"]
    assert updated == [("ann@example.com", None, "user_updated",
                        '{"email": "Ann@Example.COM", "last_name": null}',
                        '{"email": "ann@example.com", "last_name": "Lee"}')]
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("INSERT INTO access.users (email) VALUES ('ANN@EXAMPLE.COM')")


def test_level_change_and_revocation_are_logged(db):
    load(db, users(ANN, BOB), grants(
        ("ann@example.com", "000126", "view"), ("ann@example.com", "000200", "view"),
        ("bob@example.com", "000301", "view"),
    ))
    before = last_change_id(db)
    granted_at = db.execute("SELECT granted_at FROM access.user_store_access WHERE store_id = '000126'").fetchone()
    assert granted_at is not None
    summary = load(db, users(ANN, BOB), grants(
        ("ann@example.com", "000126", "explore"), ("bob@example.com", "000301", "view"),
    ))
    assert (summary["grants_added"], summary["grants_changed"], summary["grants_revoked"]) == (0, 1, 1)
    assert grant_rows(db) == {("ann@example.com", "000126", "explore"), ("bob@example.com", "000301", "view")}
    assert change_rows(db, before) == [
        ("ann@example.com", "000126", "level_changed", "view", "explore"),
        ("ann@example.com", "000200", "revoked", "view", None),
    ]
    # A level change keeps the original grant time.
    query = "SELECT granted_at FROM access.user_store_access WHERE store_id = '000126'"
    assert db.execute(query).fetchone() == granted_at


def test_absent_user_is_deactivated_and_comes_back(db):
    load(db, users(ANN, BOB), grants(("ann@example.com", "000126", "view"), ("bob@example.com", "000200", "admin")))
    mark = last_change_id(db)
    summary = load(db, users(ANN), grants(("ann@example.com", "000126", "view")))
    assert summary["users_deactivated"] == 1 and summary["grants_revoked"] == 1
    assert user_rows(db)["bob@example.com"] == ("Bob", "Diaz", False)  # kept, not deleted
    assert grant_rows(db) == {("ann@example.com", "000126", "view")}
    assert change_rows(db, mark) == [
        ("bob@example.com", None, "user_deactivated", "true", "false"),
        ("bob@example.com", "000200", "revoked", "admin", None),
    ]
    mark = last_change_id(db)
    summary = load(db, users(ANN, ("bob@example.com", "Robert", "Diaz", True)),
                   grants(("ann@example.com", "000126", "view"), ("bob@example.com", "000200", "view")))
    assert (summary["users_reactivated"], summary["users_updated"], summary["grants_added"]) == (1, 1, 1)
    assert user_rows(db)["bob@example.com"] == ("Robert", "Diaz", True)
    assert {c[2] for c in change_rows(db, mark)} == {"user_updated", "user_reactivated", "granted"}


def test_user_marked_inactive_in_source_holds_no_grant(db):
    load(db, users(ANN), grants(("ann@example.com", "000126", "view")))
    summary = load(db, users(("ann@example.com", "Ann", "Lee", False)), grants(("ann@example.com", "000126", "view")))
    assert summary["users_deactivated"] == 1 and summary["grants_revoked"] == 1
    assert grant_rows(db) == set()
    assert user_rows(db)["ann@example.com"][2] is False


def test_same_input_again_changes_no_table(db):
    u = users(ANN, BOB, ("cy@example.com", "Cy", None, False))
    g = grants(("ann@example.com", "000126", "view"), ("bob@example.com", "000200", "explore"),
               ("bob@example.com", "000301", "view"))
    r = rejects((7, {"Email": "bad@", "Stores": "126"}, "malformed email 'bad@'"))
    first = load(db, u, g, r)
    before = snapshot(db)
    # Same content, rows in another order: still the same input.
    order = list(range(len(g)))
    random.Random(3).shuffle(order)
    again = load(db, u.iloc[::-1], g.iloc[order], r)
    assert again["skipped"] is True and again["batch_id"] == first["batch_id"]
    assert all(again[k] == 0 for k in ("users_created", "grants_added", "grants_revoked", "quarantined"))
    assert snapshot(db) == before


def test_returning_to_an_earlier_input_is_applied(db):
    a = (users(ANN), grants(("ann@example.com", "000126", "view")))
    b = (users(ANN), grants(("ann@example.com", "000126", "admin")))
    load(db, *a)
    load(db, *b)
    back = load(db, *a)
    assert back["grants_changed"] == 1 and back["skipped"] is False
    assert grant_rows(db) == {("ann@example.com", "000126", "view")}
    assert db.execute("SELECT count(*) FROM etl.load_batches").fetchone()[0] == 3


def test_a_change_made_in_the_warehouse_is_repaired_by_the_same_input(db):
    u, g = users(ANN), grants(("ann@example.com", "000126", "view"))
    load(db, u, g)
    db.execute("DELETE FROM access.user_store_access")
    again = load(db, u, g)
    assert again["grants_added"] == 1 and again["skipped"] is False
    assert grant_rows(db) == {("ann@example.com", "000126", "view")}


def test_quarantine_counts_add_up_and_rejects_grant_nothing(db):
    r = rejects(
        (3, {"Email": "not-an-email", "Stores": "126"}, "malformed email 'not-an-email'"),
        (4, {"Email": "eve@example.com", "Stores": "999"}, "unknown store 999"),
        (5, {"Email": "dan@example.com", "Access Level": "owner"}, "unknown access level 'owner'"),
    )
    summary = load(db, users(ANN, BOB), grants(("ann@example.com", "000126", "view")), r)
    assert summary["quarantined"] == 3
    batch = db.execute(
        "SELECT rows_read, rows_loaded, rows_quarantined FROM etl.load_batches WHERE batch_id = %s",
        (summary["batch_id"],),
    ).fetchone()
    assert batch == (5, 2, 3)
    rows = db.execute(
        "SELECT source, source_item, source_row, raw, reason FROM etl.quarantine "
        "WHERE batch_id = %s ORDER BY source_row",
        (summary["batch_id"],),
    ).fetchall()
    assert [(row[2], row[4]) for row in rows] == [
        (3, "malformed email 'not-an-email'"), (4, "unknown store 999"), (5, "unknown access level 'owner'"),
    ]
    assert rows[1][:2] == ("sheet", "BI Dimensions.xlsx#Access") and rows[1][3] == {"Email": "eve@example.com",
                                                                                     "Stores": "999"}
    assert set(user_rows(db)) == {"ann@example.com", "bob@example.com"}
    assert grant_rows(db) == {("ann@example.com", "000126", "view")}


def test_hostile_strings_are_stored_as_text(db):
    evil_name = "Robert'); DROP TABLE access.users; --"
    evil_email = "o'brien+\"x\"@example.com"
    raw = {"Email": "x'; DELETE FROM access.users; --", "Note": "$$ \\ %s {}"}
    load(db, users((evil_email, evil_name, "Tables\"; DROP SCHEMA core CASCADE; --", True)),
         grants((evil_email, "000126", "view")), rejects((9, raw, "malformed email 'x'; DELETE ...'")))
    assert user_rows(db) == {evil_email: (evil_name, "Tables\"; DROP SCHEMA core CASCADE; --", True)}
    assert db.execute("SELECT raw FROM etl.quarantine").fetchone()[0] == raw
    assert db.execute("SELECT count(*) FROM core.stores").fetchone()[0] == len(STORES)


def test_empty_source_does_not_revoke_everyone_unless_asked(db):
    load(db, users(ANN), grants(("ann@example.com", "000126", "view")))
    before = snapshot(db)
    every_row_rejected = rejects((2, {"Stores": "126"}, "unknown store 126"))
    with pytest.raises(AccessLoadError, match="refusing to revoke"):
        load(db, users(), grants(), every_row_rejected)
    assert snapshot(db) == before
    summary = load(db, users(), grants(), every_row_rejected, allow_empty=True)
    assert summary["users_deactivated"] == 1 and summary["grants_revoked"] == 1


@pytest.mark.parametrize(
    ("u", "g", "message"),
    [
        (users(ANN, ("ANN@example.com", "A", "L", True)), grants(), "appears twice"),
        (users(ANN), grants(("ann@example.com", "000999", "view")), "missing from core.stores: 000999"),
        (users(ANN), grants(("ann@example.com", "126", "view")), "not 6 digits"),
        (users(ANN), grants(("ann@example.com", "000126", "owner")), "access level 'owner'"),
        (users(ANN), grants(("zed@example.com", "000126", "view")), "no user row"),
        (users(("ann", "Ann", "Lee", True)), grants(), "not an email"),
        (users(("ann@example.com", "Ann", "Lee", None)), grants(), "must be a boolean"),
        (users(ANN).drop(columns=["active"]), grants(), "lacks columns"),
    ],
)
def test_contract_breaches_are_refused_before_any_write(db, u, g, message):
    before = snapshot(db)
    with pytest.raises(AccessLoadError, match=message):
        load(db, u, g)
    assert snapshot(db) == before
