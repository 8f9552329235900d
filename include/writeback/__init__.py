"""Write-back of forecasts and labor hours to Dataverse (upserts by alternate key).

Rows Dataverse refuses are kept in ``etl.writeback_failures`` and sent again next run;
rows a manager marked ``crf63_overwrite = true`` are never written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence

import psycopg

from include.sources.base import TableStore, WriteResult

log = logging.getLogger(__name__)


def row_key(key_columns: Sequence[str], row: Mapping[str, object]) -> str:
    """A stable text key of a row's alternate key (JSON of the key values in order)."""
    return json.dumps([row.get(c) for c in key_columns], default=str)


def pending_failures(conn: psycopg.Connection, entity_set: str) -> list[dict]:
    """Payloads of rows that failed earlier and have not been written since."""
    rows = conn.execute(
        "SELECT payload FROM etl.writeback_failures WHERE entity_set = %s ORDER BY row_key", (entity_set,)
    ).fetchall()
    return [r[0] for r in rows]


def record_outcome(
    conn: psycopg.Connection,
    entity_set: str,
    key_columns: Sequence[str],
    sent: Iterable[Mapping[str, object]],
    result: WriteResult,
) -> None:
    """Keep the failed rows (with Dataverse's error) and forget the ones written or skipped now; commit."""
    by_key = {row_key(key_columns, row): row for row in sent}
    failed_keys = set()
    with conn.transaction():
        for failure in result.failed:
            key = row_key(key_columns, failure["key"])
            failed_keys.add(key)
            conn.execute(
                """
                INSERT INTO etl.writeback_failures
                    (entity_set, row_key, payload, status, error_code, error_message)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (entity_set, row_key) DO UPDATE SET
                    payload = EXCLUDED.payload, status = EXCLUDED.status, error_code = EXCLUDED.error_code,
                    error_message = EXCLUDED.error_message, attempts = etl.writeback_failures.attempts + 1,
                    last_failed_at = now()
                """,
                (entity_set, key, json.dumps(by_key.get(key, failure["key"]), default=str), failure.get("status"),
                 failure.get("code"), failure.get("message")),
            )
        succeeded = [k for k in by_key if k not in failed_keys]
        if succeeded:
            conn.execute(
                "DELETE FROM etl.writeback_failures WHERE entity_set = %s AND row_key = ANY(%s)",
                (entity_set, succeeded),
            )


def upsert_unprotected(
    conn: psycopg.Connection,
    store: TableStore,
    entity_set: str,
    key_columns: Sequence[str],
    rows: list[dict],
    *,
    store_column: str,
    stores: set[str] | None = None,
) -> WriteResult:
    """Upsert ``rows`` plus the earlier failures of the same stores; never touch protected rows.

    Rows a manager marked ``crf63_overwrite = true`` in Dataverse are counted as skipped;
    the outcome of every row is recorded for the next run (:func:`record_outcome`).
    """
    keys = {row_key(key_columns, r) for r in rows}
    for retry in pending_failures(conn, entity_set):
        if row_key(key_columns, retry) not in keys and (stores is None or retry.get(store_column) in stores):
            rows.append(retry)
    found = store.read_where(entity_set, [*key_columns, "crf63_overwrite"], {"crf63_overwrite": True})
    protected = {row_key(key_columns, r) for r in found}
    sendable = [r for r in rows if row_key(key_columns, r) not in protected]
    result = store.upsert(entity_set, key_columns, sendable) if sendable else WriteResult()
    result.skipped += len(rows) - len(sendable)
    record_outcome(conn, entity_set, key_columns, rows, result)
    log.info("%s: %d created, %d updated, %d protected, %d failed", entity_set, result.created, result.updated,
             len(rows) - len(sendable), len(result.failed))
    return result


def summary(result: WriteResult) -> dict:
    """Counts and failed rows for the run summary."""
    return {
        "created": result.created,
        "updated": result.updated,
        "skipped": result.skipped,
        "failed": len(result.failed),
        "failures": result.failed[:50],
    }
