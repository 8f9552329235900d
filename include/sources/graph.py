"""The Microsoft transport for files: a :class:`FileStore` on a Graph drive.

The site's drive (``BW_GRAPH_SITE``, ``BW_GRAPH_DRIVE``, default ``root`` / ``Documents``) is
resolved once. ``changes`` runs the folder's delta query; its cursor is the final
``@odata.deltaLink``. A 410 Gone restarts the enumeration from scratch and flags
``full_resync=True``: the caller then sees every file again and skips those whose etag it
already loaded (``include.sources.state.loaded_etags``), so nothing is loaded twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from include.config import GRAPH_CONN_ID
from include.sources.base import FileChanges, RemoteFile

if TYPE_CHECKING:
    from include.config import Settings
    from plugins.hooks.graph import GraphFilesHook

log = logging.getLogger(__name__)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _path_from_reference(reference: dict) -> str | None:
    """The drive-relative folder path in ``parentReference.path`` (``/drives/x/root:/A/B``), if present."""
    path = reference.get("path")
    if not path or "root:" not in path:
        return None
    from urllib.parse import unquote

    return unquote(path.split("root:", 1)[1]).strip("/")


class GraphFileStore:
    """Files of one drive, through :class:`plugins.hooks.graph.GraphFilesHook`."""

    def __init__(self, hook: GraphFilesHook, site: str = "root", drive: str = "Documents") -> None:
        self.hook = hook
        self.site = site
        self.drive = drive
        self._drive_id: str | None = None

    @property
    def drive_id(self) -> str:
        if self._drive_id is None:
            self._drive_id = self.hook.resolve_drive(self.site, self.drive)
        return self._drive_id

    def _remote(self, item: dict, path: str) -> RemoteFile:
        return RemoteFile(
            item_id=item["id"],
            name=item["name"],
            path=path,
            etag=item.get("eTag") or item.get("cTag") or "",
            size=int(item.get("size") or 0),
            modified=_parse_time(item.get("lastModifiedDateTime")),
        )

    def stat(self, path: str) -> RemoteFile:
        item = self.hook.item_by_path(self.drive_id, path)
        if item is None or "file" not in item:
            raise FileNotFoundError(f"no file {path!r} in drive {self.drive!r} of site {self.site!r}")
        return self._remote(item, path.strip("/"))

    def changes(self, folder: str, cursor: str | None) -> FileChanges:
        from plugins.hooks.graph import DeltaExpired

        folder = folder.strip("/")
        root = self.hook.item_by_path(self.drive_id, folder)
        if root is None or "folder" not in root:
            raise FileNotFoundError(f"no folder {folder!r} in drive {self.drive!r} of site {self.site!r}")
        try:
            return self._collect(root["id"], folder, cursor)
        except DeltaExpired:
            if cursor is None:
                raise
            log.warning("delta link for %r expired (410 Gone): resynchronising from scratch", folder)
            return self._collect(root["id"], folder, None)

    def _collect(self, folder_id: str, folder: str, cursor: str | None) -> FileChanges:
        folders: dict[str, str] = {folder_id: folder}
        files: dict[str, RemoteFile] = {}
        deleted: list[str] = []
        delta_link: str | None = None
        for page in self.hook.delta_pages(self.drive_id, folder_id, cursor):
            for item in page.get("value", []):
                item_id = item.get("id")
                if not item_id or item_id == folder_id:
                    continue
                if "deleted" in item:
                    files.pop(item_id, None)
                    if "folder" not in item:
                        deleted.append(item_id)
                    continue
                reference = item.get("parentReference") or {}
                parent = folders.get(reference.get("id", "")) or _path_from_reference(reference) or folder
                path = f"{parent}/{item['name']}" if parent else item["name"]
                if "folder" in item:
                    folders[item_id] = path
                elif "file" in item:
                    files[item_id] = self._remote(item, path)
            delta_link = page.get("@odata.deltaLink") or delta_link
        return FileChanges(
            files=list(files.values()), deleted_ids=deleted, cursor=delta_link, full_resync=cursor is None
        )

    def download(self, item: RemoteFile, dest_dir: Path) -> Path:
        return self.hook.download(self.drive_id, item.item_id, Path(dest_dir) / item.name, expected_size=item.size)


def graph_file_store(cfg: Settings, conn_id: str = GRAPH_CONN_ID) -> GraphFileStore:
    """The configured drive on the ``msgraph_default`` connection."""
    from plugins.hooks.graph import GraphFilesHook

    return GraphFileStore(GraphFilesHook(conn_id), site=cfg.graph_site, drive=cfg.graph_drive)
