"""Incremental source state (``etl.source_state``): cursors such as delta links and tokens.

Rule for callers: read the cursor with :func:`get_state`, load everything the transport
returned for it, and call :func:`set_state` only once that load has committed (ideally in
the same transaction as the load's last write). A run that dies before then leaves the
old cursor in place, so the next run sees the same changes again; loads skip item versions
already loaded (``etl.load_batches``), so nothing is lost and nothing is loaded twice.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from include.sources.base import RemoteFile


def get_state(conn: psycopg.Connection, source: str) -> str | None:
    """The stored cursor of ``source``, or None before its first successful load."""
    row = conn.execute("SELECT state FROM etl.source_state WHERE source = %s", (source,)).fetchone()
    return row[0] if row else None


def set_state(conn: psycopg.Connection, source: str, state: str) -> None:
    """Store the cursor of ``source`` in the caller's transaction (the caller commits it with its load)."""
    if not state:
        raise ValueError(f"refusing to store an empty cursor for {source!r}")
    conn.execute(
        """
        INSERT INTO etl.source_state (source, state, updated_at) VALUES (%s, %s, now())
        ON CONFLICT (source) DO UPDATE SET state = EXCLUDED.state, updated_at = now()
        WHERE etl.source_state.state IS DISTINCT FROM EXCLUDED.state
        """,
        (source, state),
    )


def clear_state(conn: psycopg.Connection, source: str) -> None:
    """Forget the cursor of ``source`` (the next run reads everything), in the caller's transaction."""
    conn.execute("DELETE FROM etl.source_state WHERE source = %s", (source,))


def loaded_etags(conn: psycopg.Connection, source: str, files: Iterable[RemoteFile]) -> set[str]:
    """Item ids among ``files`` whose current etag was already loaded successfully: skip them."""
    pairs = [(f.item_id, f.etag) for f in files]
    if not pairs:
        return set()
    rows = conn.execute(
        """
        SELECT b.source_item FROM etl.load_batches b
        JOIN unnest(%s::text[], %s::text[]) AS f(item, etag) ON b.source_item = f.item AND b.source_etag = f.etag
        WHERE b.source = %s AND b.status = 'succeeded'
        """,
        ([p[0] for p in pairs], [p[1] for p in pairs], source),
    ).fetchall()
    return {r[0] for r in rows}
