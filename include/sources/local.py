"""The local folder transport: a folder that mirrors the drive and the Dataverse tables.

Layout of ``BW_LOCAL_SOURCE_DIR``::

    onedrive/<drive path>                 e.g. onedrive/General/BI Import/BI Dimensions.xlsx
    dataverse/<entity_set>.jsonl          one record per line, Dataverse column names

Etags and cursors are content fingerprints, so an unchanged folder reads as "no changes".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from include.sources.base import FileChanges, RemoteFile, TableSnapshot, WriteResult


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:32]


class LocalFileStore:
    """Files under ``<root>/onedrive``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "onedrive"

    def _remote(self, path: Path) -> RemoteFile:
        rel = path.relative_to(self.root).as_posix()
        stat = path.stat()
        return RemoteFile(
            item_id=rel,
            name=path.name,
            path=rel,
            etag=_fingerprint(path),
            size=stat.st_size,
            modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    def stat(self, path: str) -> RemoteFile:
        full = self.root / path
        if not full.is_file():
            raise FileNotFoundError(f"no file {path!r} in the local drive folder {self.root}")
        return self._remote(full)

    def changes(self, folder: str, cursor: str | None) -> FileChanges:
        base = self.root / folder
        current = {f.item_id: f for f in (self._remote(p) for p in sorted(base.rglob("*")) if p.is_file())}
        seen: dict[str, str] = json.loads(cursor) if cursor else {}
        changed = [f for f in current.values() if seen.get(f.item_id) != f.etag]
        deleted = sorted(set(seen) - set(current))
        new_cursor = json.dumps({k: f.etag for k, f in current.items()}, sort_keys=True)
        return FileChanges(files=changed, deleted_ids=deleted, cursor=new_cursor, full_resync=cursor is None)

    def download(self, item: RemoteFile, dest_dir: Path) -> Path:
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / item.name
        shutil.copyfile(self.root / item.path, target)
        return target


class LocalTableStore:
    """Tables as ``<root>/dataverse/<entity_set>.jsonl``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "dataverse"

    def _file(self, entity_set: str) -> Path:
        return self.root / f"{entity_set}.jsonl"

    def _records(self, entity_set: str) -> list[dict]:
        path = self._file(entity_set)
        if not path.exists():
            return []
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def read(
        self, entity_set: str, columns: Sequence[str], cursor: str | None, dest: Path
    ) -> TableSnapshot:
        source = self._file(entity_set)
        if not source.exists():
            raise FileNotFoundError(f"no local table {entity_set!r}: expected {source}")
        fingerprint = f"local:{_fingerprint(source)}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with dest.open("w", encoding="utf-8") as out:
            if cursor != fingerprint:
                with source.open(encoding="utf-8") as fh:
                    for line in fh:
                        if not line.strip():
                            continue
                        record = json.loads(line)
                        out.write(json.dumps({c: record.get(c) for c in columns}) + "\n")
                        rows += 1
        return TableSnapshot(entity_set, dest, rows, [], fingerprint, full_read=cursor != fingerprint)

    def read_where(
        self, entity_set: str, columns: Sequence[str], equals: Mapping[str, object]
    ) -> list[dict]:
        return [
            {c: r.get(c) for c in columns}
            for r in self._records(entity_set)
            if all(r.get(k) == v for k, v in equals.items())
        ]

    def upsert(
        self, entity_set: str, key_columns: Sequence[str], rows: Sequence[Mapping[str, object]]
    ) -> WriteResult:
        records = self._records(entity_set)
        index = {tuple(r.get(k) for k in key_columns): i for i, r in enumerate(records)}
        result = WriteResult()
        for row in rows:
            key = tuple(row.get(k) for k in key_columns)
            if key in index:
                existing = records[index[key]]
                merged = {**existing, **row}
                if merged == existing:
                    result.skipped += 1
                else:
                    records[index[key]] = merged
                    result.updated += 1
            else:
                index[key] = len(records)
                records.append(dict(row))
                result.created += 1
        if result.created or result.updated:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self._file(entity_set).with_suffix(".jsonl.tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                for record in records:
                    fh.write(json.dumps(record, default=str) + "\n")
            os.replace(tmp, self._file(entity_set))
        return result
