"""The maintenance DAG's task bodies: explicit inputs, small JSON results for XCom."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from include.maintenance.settings import BackupSettings


def databases_to_back_up() -> list[str]:
    from include.maintenance.targets import resolve_targets

    return sorted(resolve_targets(BackupSettings.from_env()).databases)


def back_up(database: str) -> dict[str, str]:
    """Dump one database; returns ``{"path", "label"}``."""
    from include.maintenance.backup import dump_database
    from include.maintenance.targets import resolve_targets

    cfg = BackupSettings.from_env()
    url = resolve_targets(cfg).url(database)
    return dump_database(url, database, cfg.backup_dir, now=datetime.now(UTC), pg_bin_dir=cfg.pg_bin_dir).to_xcom()


def verify_restore(dump: dict[str, str]) -> dict[str, str]:
    """Restore a dump into a scratch database and compare row counts; passes the dump on."""
    from include.maintenance.restore_check import restore_check
    from include.maintenance.targets import resolve_targets

    cfg = BackupSettings.from_env()
    report = restore_check(Path(dump["path"]), resolve_targets(cfg).admin_url, pg_bin_dir=cfg.pg_bin_dir)
    return {**dump, "tables": str(report.tables), "rows": str(report.rows)}


def prune(dump: dict[str, str]) -> dict[str, int]:
    """Apply retention to the folder of a dump that passed its restore check."""
    from include.maintenance.retention import apply_retention

    cfg = BackupSettings.from_env()
    path = Path(dump["path"])
    plan = apply_retention(path.parent, dump["label"], keep_daily=cfg.keep_daily, keep_weekly=cfg.keep_weekly)
    return {"kept": len(plan.keep), "deleted": len(plan.delete)}


def health() -> list[str]:
    """Run every configured health check; raise naming each failed one."""
    from include.maintenance.health import raise_if_failed, run_checks

    results = run_checks()
    raise_if_failed(results)
    return [str(r) for r in results]
