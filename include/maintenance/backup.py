"""Consistent ``pg_dump`` backups, each with the row counts of the snapshot it was taken from.

The dump and the counts come from one exported snapshot, so the restore check can compare
them exactly even while loads keep writing to the database.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from include.maintenance.pgtools import database_of, find_tool, run_tool, split_password
from include.warehouse.connection import _libpq_url

log = logging.getLogger(__name__)

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Dump:
    """One backup file and its manifest (``<dump>.json``: database, time, server version, row counts)."""

    path: Path
    label: str
    taken_at: datetime
    row_counts: dict[str, int]

    @property
    def manifest_path(self) -> Path:
        return manifest_of(self.path)

    def to_xcom(self) -> dict[str, str]:
        return {"path": str(self.path), "label": self.label}


def manifest_of(dump_path: Path) -> Path:
    return dump_path.with_name(dump_path.name + ".json")


def dump_name(label: str, taken_at: datetime) -> str:
    return f"{label}_{taken_at.astimezone(UTC).strftime(STAMP_FORMAT)}.dump"


def count_rows(conn: psycopg.Connection) -> dict[str, int]:
    """Exact row counts of every ordinary table (leaf partitions included), keyed ``schema.table``."""
    tables = conn.execute(
        """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
           ORDER BY 1, 2"""
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts


def server_major(conn: psycopg.Connection) -> int:
    return conn.info.server_version // 10000


def dump_database(
    url: str,
    label: str,
    backup_dir: Path,
    *,
    now: datetime | None = None,
    pg_bin_dir: Path | None = None,
) -> Dump:
    """Dump the database at ``url`` (custom format) into ``backup_dir/label/`` and write its manifest.

    The file appears under its final name only when complete (written as ``.partial``, then renamed).
    """
    taken_at = (now or datetime.now(UTC)).astimezone(UTC)
    folder = backup_dir / label
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / dump_name(label, taken_at)
    partial = final.with_name(final.name + ".partial")
    with psycopg.connect(_libpq_url(url)) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        pg_dump = find_tool("pg_dump", server_major(conn), pg_bin_dir)
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        conninfo, _ = split_password(url)
        try:
            run_tool(
                pg_dump,
                [
                    "--format=custom",
                    "--compress=6",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    f"--dbname={conninfo}",
                ],
                url,
                what=f"pg_dump of {label}",
            )
            counts = count_rows(conn)  # same snapshot as the dump
            version = conn.info.server_version
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            conn.rollback()
    if partial.stat().st_size == 0:
        partial.unlink()
        raise RuntimeError(f"pg_dump of {label} produced an empty file")
    manifest = {
        "label": label,
        "database": database_of(url),
        "taken_at": taken_at.isoformat(),
        "server_version": version,
        "row_counts": counts,
    }
    manifest_tmp = manifest_of(partial)
    manifest_tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, final)
    os.replace(manifest_tmp, manifest_of(final))
    log.info(
        "%s dumped to %s (%d bytes, %d tables, %d rows)",
        label,
        final,
        final.stat().st_size,
        len(counts),
        sum(counts.values()),
    )
    return Dump(final, label, taken_at, counts)


def read_dump(dump_path: Path) -> Dump:
    """A dump and its manifest; a missing or unreadable manifest is an error naming the file."""
    manifest_path = manifest_of(dump_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return Dump(
            dump_path,
            manifest["label"],
            datetime.fromisoformat(manifest["taken_at"]),
            {str(k): int(v) for k, v in manifest["row_counts"].items()},
        )
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"manifest {manifest_path} of {dump_path.name} is missing or unreadable: {exc}") from exc
