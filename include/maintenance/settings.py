"""Maintenance settings (``BW_BACKUP_*``, ``BW_PG_BIN_DIR``) and the connection ids it uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from include.config import settings

#: A login that may read every database to back up and create scratch databases (CREATEDB).
BACKUP_CONN_ID = "postgres_backup"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class BackupSettings:
    """Where dumps go, how many are kept, which databases are dumped, which client binaries run."""

    backup_dir: Path
    keep_daily: int
    keep_weekly: int
    databases: tuple[str, ...]
    pg_bin_dir: Path | None

    @classmethod
    def from_env(cls) -> BackupSettings:
        raw_dbs = os.environ.get("BW_BACKUP_DATABASES", "").strip() or "warehouse,metabase"
        bin_dir = os.environ.get("BW_PG_BIN_DIR", "").strip()
        return cls(
            backup_dir=Path(os.environ.get("BW_BACKUP_DIR", "").strip() or settings().data_dir / "backups"),
            keep_daily=_int("BW_BACKUP_KEEP_DAILY", 7),
            keep_weekly=_int("BW_BACKUP_KEEP_WEEKLY", 4),
            databases=tuple(d.strip() for d in raw_dbs.split(",") if d.strip()),
            pg_bin_dir=Path(bin_dir) if bin_dir else None,
        )
