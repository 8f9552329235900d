"""Choose the transport by configuration: ``BW_TRANSPORT=local`` (default) or ``microsoft``."""

from __future__ import annotations

from include.config import settings
from include.sources.base import FileStore, TableStore
from include.sources.local import LocalFileStore, LocalTableStore


def file_store() -> FileStore:
    """The drive holding the Stores workbook and the labor zips."""
    cfg = settings()
    if cfg.transport == "local":
        return LocalFileStore(cfg.local_source_dir)
    if cfg.transport == "microsoft":
        from include.sources.graph import graph_file_store

        return graph_file_store(cfg)
    raise ValueError(f"BW_TRANSPORT must be 'local' or 'microsoft', not {cfg.transport!r}")


def table_store() -> TableStore:
    """Dataverse tables (fiscal calendar, sales dailies, write-back)."""
    cfg = settings()
    if cfg.transport == "local":
        return LocalTableStore(cfg.local_source_dir)
    if cfg.transport == "microsoft":
        from include.sources.dataverse import dataverse_table_store

        return dataverse_table_store(cfg)
    raise ValueError(f"BW_TRANSPORT must be 'local' or 'microsoft', not {cfg.transport!r}")
