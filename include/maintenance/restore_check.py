"""Prove a dump restores: ``pg_restore`` it into a scratch database and compare row counts per table.

The expected counts are the dump's manifest, taken in the dump's own snapshot, so a database
that kept changing after the dump does not cause false alarms. The scratch database is always
dropped afterwards.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from include.maintenance.backup import count_rows, read_dump, server_major
from include.maintenance.pgtools import find_tool, run_tool, split_password, with_database
from include.warehouse.connection import _libpq_url

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "bw_restore_check_"


class RestoreCheckError(RuntimeError):
    """The dump did not restore, or restored with different row counts."""


@dataclass(frozen=True)
class RestoreReport:
    dump: Path
    scratch_database: str
    tables: int
    rows: int


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    """Human-readable differences between two ``schema.table -> rows`` maps (empty when equal)."""
    problems = [f"{t}: missing after restore (expected {n} rows)" for t, n in expected.items() if t not in actual]
    problems += [f"{t}: not in the dump's manifest ({n} rows)" for t, n in actual.items() if t not in expected]
    problems += [
        f"{t}: {actual[t]} rows restored, {n} expected" for t, n in expected.items() if t in actual and actual[t] != n
    ]
    return sorted(problems)


def restore_check(dump_path: Path, admin_url: str, *, pg_bin_dir: Path | None = None) -> RestoreReport:
    """Restore ``dump_path`` into a new scratch database on the server of ``admin_url`` and verify it.

    ``admin_url`` needs CREATEDB. Raises RestoreCheckError naming every differing table.
    """
    dump = read_dump(dump_path)
    scratch = f"{SCRATCH_PREFIX}{dump.label[:20]}_{uuid.uuid4().hex[:8]}".lower()
    admin = _libpq_url(admin_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        pg_restore = find_tool("pg_restore", server_major(conn), pg_bin_dir)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    try:
        scratch_url = with_database(admin, scratch)
        conninfo, _ = split_password(scratch_url)
        run_tool(
            pg_restore,
            ["--no-owner", "--no-acl", "--exit-on-error", f"--dbname={conninfo}", str(dump_path)],
            scratch_url,
            what=f"pg_restore of {dump_path.name}",
        )
        with psycopg.connect(scratch_url) as conn:
            actual = count_rows(conn)
    except Exception as exc:
        if isinstance(exc, RestoreCheckError):
            raise
        raise RestoreCheckError(f"restore check of {dump_path.name}: {exc}") from exc
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    problems = compare_counts(dump.row_counts, actual)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise RestoreCheckError(f"restore check of {dump_path.name} found {len(problems)} differences: {shown}")
    report = RestoreReport(dump_path, scratch, len(actual), sum(actual.values()))
    log.info("restore check of %s passed: %d tables, %d rows match", dump_path.name, report.tables, report.rows)
    return report
