"""The transport interface shared by the local folder and the Microsoft services.

Files (OneDrive/SharePoint through Graph) and tables (Dataverse) each have one
protocol. A cursor is an opaque string (a Graph delta link, a Dataverse delta
token, a local content fingerprint): callers persist it in ``etl.source_state``
only after the data it covers has been loaded and committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class RemoteFile:
    """A file in the drive. ``path`` is relative to the drive root, with ``/`` separators."""

    item_id: str
    name: str
    path: str
    etag: str
    size: int
    modified: datetime | None = None


@dataclass(frozen=True)
class FileChanges:
    """What changed in a folder since a cursor."""

    files: list[RemoteFile]
    deleted_ids: list[str]
    cursor: str | None
    full_resync: bool


class FileStore(Protocol):
    """Files in a drive."""

    def stat(self, path: str) -> RemoteFile:
        """Metadata of one file by path; FileNotFoundError when absent."""

    def changes(self, folder: str, cursor: str | None) -> FileChanges:
        """Files added or changed under ``folder`` since ``cursor`` (all of them when None)."""

    def download(self, item: RemoteFile, dest_dir: Path) -> Path:
        """Stream the file into ``dest_dir`` (never whole into memory); return the local path."""


@dataclass(frozen=True)
class TableSnapshot:
    """Records read from a table, spooled to a JSONL file (one record per line)."""

    entity_set: str
    path: Path
    rows: int
    deleted_ids: list[str]
    cursor: str | None
    full_read: bool


@dataclass
class WriteResult:
    """Per-row outcome of an upsert by alternate key."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: list[dict] = field(default_factory=list)  # {"key": ..., "code": ..., "message": ...}

    @property
    def written(self) -> int:
        return self.created + self.updated


class TableStore(Protocol):
    """Tables in Dataverse."""

    def read(
        self, entity_set: str, columns: Sequence[str], cursor: str | None, dest: Path
    ) -> TableSnapshot:
        """Rows changed since ``cursor`` (all rows when None or expired), spooled to ``dest``."""

    def read_where(
        self, entity_set: str, columns: Sequence[str], equals: Mapping[str, object]
    ) -> list[dict]:
        """Rows whose columns equal the given values (small result sets only)."""

    def upsert(
        self, entity_set: str, key_columns: Sequence[str], rows: Sequence[Mapping[str, object]]
    ) -> WriteResult:
        """Create or update each row by its alternate key (``key_columns``); rows fail alone."""
