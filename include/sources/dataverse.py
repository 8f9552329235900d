"""The Microsoft transport for tables: a :class:`TableStore` on the Dataverse Web API.

``read`` spools records to JSONL as the pages arrive (never the whole table in memory).
With a cursor (the ``@odata.deltaLink`` of the previous read) it returns only the records
changed since, plus the ids of deleted records; an expired delta link falls back to a full
read (``full_read=True``). The new cursor is stored by the caller after its load commits.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.config import DATAVERSE_CONN_ID
from include.sources.base import TableSnapshot, WriteResult

if TYPE_CHECKING:
    from include.config import Settings
    from plugins.hooks.dataverse import DataverseHook

log = logging.getLogger(__name__)


def _is_deleted(record: Mapping[str, Any]) -> bool:
    return "$deletedEntity" in str(record.get("@odata.context", "")) or record.get("reason") == "deleted"


class DataverseTableStore:
    """Tables of one Dataverse environment, through :class:`plugins.hooks.dataverse.DataverseHook`."""

    def __init__(self, hook: DataverseHook) -> None:
        self.hook = hook

    def read(self, entity_set: str, columns: Sequence[str], cursor: str | None, dest: Path) -> TableSnapshot:
        from plugins.hooks.dataverse import DeltaTokenExpired

        if cursor:
            try:
                return self._spool(entity_set, columns, cursor, dest)
            except DeltaTokenExpired:
                log.warning("%s: delta link expired, reading the whole table", entity_set)
        return self._spool(entity_set, columns, None, dest)

    def _spool(self, entity_set: str, columns: Sequence[str], cursor: str | None, dest: Path) -> TableSnapshot:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        rows = 0
        deleted: list[str] = []
        delta_link: str | None = None
        try:
            with tmp.open("w", encoding="utf-8") as out:
                pages = self.hook.pages(entity_set, select=columns, delta_link=cursor, track_changes=True)
                for page in pages:
                    for record in page.get("value", []):
                        if _is_deleted(record):
                            deleted.append(str(record.get("id")))
                            continue
                        out.write(json.dumps({c: record.get(c) for c in columns}) + "\n")
                        rows += 1
                    delta_link = page.get("@odata.deltaLink") or delta_link
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, dest)
        return TableSnapshot(entity_set, dest, rows, deleted, delta_link, full_read=cursor is None)

    def read_where(self, entity_set: str, columns: Sequence[str], equals: Mapping[str, object]) -> list[dict]:
        from plugins.hooks.dataverse import odata_literal

        condition = " and ".join(f"{k} eq {odata_literal(v)}" for k, v in equals.items()) or None
        found: list[dict] = []
        for page in self.hook.pages(entity_set, select=columns, filter_=condition):
            found.extend({c: r.get(c) for c in columns} for r in page.get("value", []))
        return found

    def upsert(
        self, entity_set: str, key_columns: Sequence[str], rows: Sequence[Mapping[str, object]]
    ) -> WriteResult:
        return self.hook.upsert(entity_set, key_columns, rows)


def dataverse_table_store(cfg: Settings, conn_id: str = DATAVERSE_CONN_ID) -> DataverseTableStore:
    """The environment of the ``dataverse_default`` connection."""
    from plugins.hooks.dataverse import DataverseHook

    return DataverseTableStore(DataverseHook(conn_id))
