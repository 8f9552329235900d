"""Load users and their store grants into ``access.users`` and ``access.user_store_access``.

The source (the ``Access`` sheet or a Dataverse table, already cleaned by
``include.transforms.access``) is the whole truth: one call makes the warehouse mirror it,
in one transaction, and appends every change to ``access.changes``:

- users are matched by lower-cased email; new ones are created, changed names or ``active``
  are updated; users absent from the source are deactivated (never deleted);
- grants are added (``granted_at`` = now), their level changed, or revoked when absent from
  the source. Inactive users hold no grants;
- rejected rows go to ``etl.quarantine`` under one ``etl.load_batches`` row.

A re-run with the same input changes no table: the batch's ``source_etag`` is a hash of the
input's content, and a load that changes nothing and repeats the last batch's content
writes nothing at all (a load that repairs a change made in the warehouse meanwhile is recorded).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    import pandas as pd

    from include.warehouse.loader import BatchInfo

log = logging.getLogger(__name__)

ACCESS_LEVELS = frozenset({"view", "explore", "admin"})
USER_COLUMNS = ("email", "first_name", "last_name", "active")
GRANT_COLUMNS = ("email", "store_id", "access_level")
REJECT_COLUMNS = ("source_row", "raw", "reason")
TARGET_TABLE = "access.users"
SUMMARY_KEYS = (
    "users_created", "users_updated", "users_deactivated", "users_reactivated",
    "grants_added", "grants_changed", "grants_revoked",
)
#: Serialises access loads.
_LOCK_KEY = 0x42570006
_STORE_ID = re.compile(r"[0-9]{6}")


class AccessLoadError(ValueError):
    """The input breaks the transform's contract, or would wipe every user's access."""


@dataclass(frozen=True)
class _User:
    email: str
    first_name: str | None
    last_name: str | None
    active: bool


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pd.NA refuses bool()
        return True


def _text(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AccessLoadError(f"{what} frame lacks columns {missing}; expected {list(columns)}")


def _email(value: Any, what: str) -> str:
    email = (_text(value) or "").strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and domain):
        raise AccessLoadError(f"{what}: {value!r} is not an email; the transform must quarantine it")
    return email


def _boolean(value: Any, email: str) -> bool:
    if not _missing(value) and (isinstance(value, bool | int) or type(value).__name__ == "bool_") and value in (0, 1):
        return bool(value)
    raise AccessLoadError(f"users: active of {email} must be a boolean, got {value!r}")


def _prepare_users(users: pd.DataFrame) -> dict[str, _User]:
    _require_columns(users, USER_COLUMNS, "users")
    prepared: dict[str, _User] = {}
    for row in users[list(USER_COLUMNS)].itertuples(index=False):
        email = _email(row.email, "users")
        if email in prepared:
            raise AccessLoadError(f"users: {email} appears twice; the transform must quarantine duplicates")
        prepared[email] = _User(email, _text(row.first_name), _text(row.last_name), _boolean(row.active, email))
    return prepared


def _prepare_grants(grants: pd.DataFrame, users: dict[str, _User]) -> dict[tuple[str, str], str]:
    _require_columns(grants, GRANT_COLUMNS, "grants")
    prepared: dict[tuple[str, str], str] = {}
    for row in grants[list(GRANT_COLUMNS)].itertuples(index=False):
        email = _email(row.email, "grants")
        store_id = _text(row.store_id) or ""
        level = (_text(row.access_level) or "").strip().lower()
        if email not in users:
            raise AccessLoadError(f"grants: {email} has a grant but no user row")
        if not _STORE_ID.fullmatch(store_id):
            raise AccessLoadError(f"grants: store id {store_id!r} of {email} is not 6 digits")
        if level not in ACCESS_LEVELS:
            raise AccessLoadError(f"grants: access level {level!r} of {email} is not one of {sorted(ACCESS_LEVELS)}")
        if (email, store_id) in prepared:
            raise AccessLoadError(f"grants: {email} is granted store {store_id} twice")
        prepared[(email, store_id)] = level
    return prepared


def _prepare_rejects(rejects: pd.DataFrame) -> list[tuple[int | None, Any, str]]:
    _require_columns(rejects, REJECT_COLUMNS, "rejects")
    rows = []
    for row in rejects[list(REJECT_COLUMNS)].itertuples(index=False):
        source_row = None if _missing(row.source_row) else int(row.source_row)
        rows.append((source_row, row.raw, str(row.reason)))
    return rows


def content_hash(users: dict[str, _User], grants: dict[tuple[str, str], str], rejects: list) -> str:
    """A hash of the input's content, independent of row order."""
    payload = {
        "users": sorted([u.email, u.first_name, u.last_name, u.active] for u in users.values()),
        "grants": sorted([e, s, level] for (e, s), level in grants.items()),
        "rejects": sorted(json.dumps(r, default=str, sort_keys=True) for r in rejects),
    }
    return hashlib.sha256(json.dumps(payload, default=str, sort_keys=True).encode()).hexdigest()


def _sync_users(
    conn: psycopg.Connection, desired: dict[str, _User], summary: dict, changes: list
) -> tuple[dict[str, int], set[int]]:
    """Upsert users and deactivate the absent; return user ids by email and the ids updated."""
    current = {
        r[1].lower(): r
        for r in conn.execute("SELECT user_id, email, first_name, last_name, active FROM access.users").fetchall()
    }
    ids: dict[str, int] = {}
    touched: set[int] = set()
    for email, want in desired.items():
        row = current.get(email)
        if row is None:
            user_id = conn.execute(
                """INSERT INTO access.users (email, first_name, last_name, active)
                   VALUES (%s, %s, %s, %s) RETURNING user_id""",
                (want.email, want.first_name, want.last_name, want.active),
            ).fetchone()[0]
            ids[email] = user_id
            summary["users_created"] += 1
            changes.append((user_id, None, "user_created", None, json.dumps(want.__dict__)))
            continue
        user_id, old_email, first, last, active = row
        ids[email] = user_id
        old = {"email": old_email, "first_name": first, "last_name": last}
        new = {"email": want.email, "first_name": want.first_name, "last_name": want.last_name}
        diff = [k for k in old if old[k] != new[k]]
        if diff:
            summary["users_updated"] += 1
            changes.append((user_id, None, "user_updated", json.dumps({k: old[k] for k in diff}),
                            json.dumps({k: new[k] for k in diff})))
        if active != want.active:
            summary["users_reactivated" if want.active else "users_deactivated"] += 1
            changes.append((user_id, None, "user_reactivated" if want.active else "user_deactivated",
                            str(active).lower(), str(want.active).lower()))
        if diff or active != want.active:
            conn.execute(
                """UPDATE access.users SET email = %s, first_name = %s, last_name = %s, active = %s, updated_at = now()
                   WHERE user_id = %s""",
                (want.email, want.first_name, want.last_name, want.active, user_id),
            )
            touched.add(user_id)
    for email, (user_id, *_rest, active) in current.items():
        if email not in desired and active:
            conn.execute("UPDATE access.users SET active = false, updated_at = now() WHERE user_id = %s", (user_id,))
            summary["users_deactivated"] += 1
            changes.append((user_id, None, "user_deactivated", "true", "false"))
            touched.add(user_id)
    return ids, touched


def _sync_grants(
    conn: psycopg.Connection, desired: dict[tuple[int, str], str], summary: dict, changes: list
) -> None:
    """Make access.user_store_access equal ``desired`` ({(user_id, store_id): level})."""
    current = {
        (r[0], r[1]): r[2]
        for r in conn.execute("SELECT user_id, store_id, access_level FROM access.user_store_access").fetchall()
    }
    for (user_id, store_id), level in sorted(desired.items()):
        old = current.get((user_id, store_id))
        if old is None:
            conn.execute(
                "INSERT INTO access.user_store_access (user_id, store_id, access_level) VALUES (%s, %s, %s)",
                (user_id, store_id, level),
            )
            summary["grants_added"] += 1
            changes.append((user_id, store_id, "granted", None, level))
        elif old != level:
            conn.execute(
                "UPDATE access.user_store_access SET access_level = %s WHERE user_id = %s AND store_id = %s",
                (level, user_id, store_id),
            )
            summary["grants_changed"] += 1
            changes.append((user_id, store_id, "level_changed", old, level))
    for (user_id, store_id), old in sorted(current.items()):
        if (user_id, store_id) not in desired:
            conn.execute(
                "DELETE FROM access.user_store_access WHERE user_id = %s AND store_id = %s", (user_id, store_id)
            )
            summary["grants_revoked"] += 1
            changes.append((user_id, store_id, "revoked", old, None))


def _latest_batch(conn: psycopg.Connection, info: BatchInfo) -> tuple[int, str | None] | None:
    return conn.execute(
        """SELECT batch_id, source_etag FROM etl.load_batches
           WHERE source = %s AND source_item = %s AND status = 'succeeded'
           ORDER BY batch_id DESC LIMIT 1""",
        (info.source, info.source_item),
    ).fetchone()


def _write_quarantine(conn: psycopg.Connection, batch_id: int, info: BatchInfo, rejects: list) -> None:
    if not rejects:
        return
    with conn.cursor().copy(
        "COPY etl.quarantine (batch_id, source, source_item, source_row, raw, reason) FROM STDIN"
    ) as copy:
        for source_row, raw, reason in rejects:
            copy.write_row((batch_id, info.source, info.source_item, source_row, json.dumps(raw, default=str), reason))


def load_access(
    conn: psycopg.Connection,
    users: pd.DataFrame,
    grants: pd.DataFrame,
    rejects: pd.DataFrame,
    info: BatchInfo,
    *,
    allow_empty: bool = False,
) -> dict:
    """Mirror the access source into the warehouse in one transaction; return what changed.

    ``users``: email, first_name, last_name, active (one row per email); ``grants``: email,
    store_id, access_level (emails of ``users``, stores of ``core.stores``); ``rejects``:
    source_row, raw, reason. ``info.source_etag`` is not used: the content hash replaces it.
    An input without any user while the warehouse has active ones is refused unless
    ``allow_empty`` (a broken source must not revoke everyone's access).

    Returns the counts ``users_created``, ``users_updated``, ``users_deactivated``,
    ``users_reactivated``, ``grants_added``, ``grants_changed``, ``grants_revoked``,
    ``quarantined``, plus ``batch_id`` and ``skipped`` (True when nothing was written).
    """
    desired_users = _prepare_users(users)
    desired_grants = _prepare_grants(grants, desired_users)
    reject_rows = _prepare_rejects(rejects)
    digest = f"sha256:{content_hash(desired_users, desired_grants, reject_rows)}"
    started = datetime.now(UTC)
    summary: dict[str, Any] = dict.fromkeys(SUMMARY_KEYS, 0)
    changes: list[tuple] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        if not desired_users and not allow_empty:
            active = conn.execute("SELECT count(*) FROM access.users WHERE active").fetchone()[0]
            if active:
                raise AccessLoadError(
                    f"the access source has no valid user ({len(reject_rows)} rejected) while {active} users are "
                    "active: refusing to revoke everyone's access (pass allow_empty=True to do it on purpose)"
                )
        stores = sorted({s for _e, s in desired_grants})
        known = {r[0] for r in conn.execute("SELECT store_id FROM core.stores WHERE store_id = ANY(%s)", (stores,))}
        unknown = sorted(set(stores) - known)
        if unknown:
            raise AccessLoadError(f"grants name stores missing from core.stores: {', '.join(unknown)}")
        ids, touched = _sync_users(conn, desired_users, summary, changes)
        wanted = {
            (ids[email], store_id): level
            for (email, store_id), level in desired_grants.items()
            if desired_users[email].active
        }
        _sync_grants(conn, wanted, summary, changes)
        latest = _latest_batch(conn, info)
        if not changes and latest is not None and (latest[1] or "").split("#", 1)[0] == digest:
            log.info("access from %s %s unchanged since batch %s: nothing written", info.source,
                     info.source_item, latest[0])
            return {**summary, "quarantined": 0, "batch_id": latest[0], "skipped": True}
        if changes:
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO access.changes (user_id, store_id, change, old_value, new_value)
                       VALUES (%s, %s, %s, %s, %s)""",
                    changes,
                )
        # The content hash alone could repeat an older batch's etag (A, B, A): chain it to the last batch.
        etag = f"{digest}#after:{latest[0] if latest else 0}"
        batch_id = conn.execute(
            """INSERT INTO etl.load_batches
                   (dag_id, run_id, source, source_item, source_etag, target_table, rows_read, rows_loaded,
                    rows_quarantined, rows_inserted, rows_updated, started_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING batch_id""",
            (info.dag_id, info.run_id, info.source, info.source_item, etag, TARGET_TABLE,
             len(desired_users) + len(reject_rows), len(desired_users), len(reject_rows),
             summary["users_created"], len(touched), started),
        ).fetchone()[0]
        _write_quarantine(conn, batch_id, info, reject_rows)
    summary.update(quarantined=len(reject_rows), batch_id=batch_id, skipped=False)
    log.info("access from %s %s: %s", info.source, info.source_item,
             ", ".join(f"{k} {summary[k]}" for k in (*SUMMARY_KEYS, "quarantined")))
    return summary
