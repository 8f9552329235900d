"""A Microsoft Graph drive double: sites/drives, items by path, folder delta with paging, downloads.

State is versioned: every change bumps a counter; a delta link remembers the version it
was issued at and returns items changed since (deleted ones with the ``deleted`` facet).
Delta links issued before ``expire_deltas()`` answer 410 Gone (``resyncRequired``).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from tests.doubles.authority import AuthorityDouble
from tests.doubles.http import DoubleServer, Request, Response

AUDIENCE = "https://graph.microsoft.com"


@dataclass
class Item:
    id: str
    name: str
    parent_id: str | None
    folder: bool
    content: bytes = b""
    version: int = 0
    edits: int = 1
    deleted: bool = False
    modified: float = field(default_factory=time.time)

    @property
    def etag(self) -> str:
        return f'"{{{self.id.upper()}}},{self.edits}"'


class GraphDouble:
    def __init__(self, authority: AuthorityDouble, *, page_size: int = 200) -> None:
        self.authority = authority
        self.page_size = page_size
        self.drive_id = "b!" + secrets.token_urlsafe(16)
        self.version = 0
        self.generation = 0  # delta links of an earlier generation are gone
        self.items: dict[str, Item] = {}
        self.children: dict[tuple[str, str], str] = {}
        self.download_tokens: dict[str, tuple[str, float]] = {}
        self.download_ttl = 60.0
        self._lock = threading.RLock()
        self.server = DoubleServer(self.route)
        root = Item("root-" + uuid.uuid4().hex[:8], "root", None, True)
        self.root_id = root.id
        self.items[root.id] = root

    # ------------------------------------------------------------------ state
    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> GraphDouble:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def _bump(self, item: Item) -> None:
        self.version += 1
        item.version = self.version
        item.modified = time.time()

    def _child(self, parent_id: str, name: str) -> Item | None:
        item_id = self.children.get((parent_id, name))
        return self.items[item_id] if item_id else None

    def _add(self, item: Item) -> None:
        self.items[item.id] = item
        if item.parent_id is not None:
            self.children[(item.parent_id, item.name)] = item.id

    def mkdirs(self, path: str) -> Item:
        with self._lock:
            current = self.items[self.root_id]
            for name in [p for p in path.strip("/").split("/") if p]:
                child = self._child(current.id, name)
                if child is None:
                    child = Item(uuid.uuid4().hex.upper()[:16], name, current.id, True)
                    self._bump(child)
                    self._add(child)
                current = child
            return current

    def put_file(self, path: str, content: bytes) -> Item:
        """Create or replace a file (a new etag on change)."""
        folder, _, name = path.strip("/").rpartition("/")
        with self._lock:
            parent = self.mkdirs(folder)
            item = self._child(parent.id, name)
            if item is None:
                item = Item(uuid.uuid4().hex.upper()[:16], name, parent.id, False, content)
                self._add(item)
            else:
                item.content = content
                item.edits += 1
            self._bump(item)
            return item

    def delete(self, path: str) -> None:
        with self._lock:
            item = self.resolve(path)
            if item is None:
                raise KeyError(path)
            item.deleted = True
            self.children.pop((item.parent_id or "", item.name), None)
            self._bump(item)

    def expire_deltas(self) -> None:
        """Every delta link issued so far answers 410 Gone."""
        with self._lock:
            self.generation += 1

    def resolve(self, path: str) -> Item | None:
        current = self.items[self.root_id]
        for name in [p for p in path.strip("/").split("/") if p]:
            child = self._child(current.id, name)
            if child is None:
                return None
            current = child
        return current

    def path_of(self, item: Item) -> str:
        parts = []
        while item.parent_id is not None:
            parts.append(item.name)
            item = self.items[item.parent_id]
        return "/".join(reversed(parts))

    def _under(self, item: Item, folder_id: str) -> bool:
        while item.parent_id is not None:
            if item.parent_id == folder_id:
                return True
            item = self.items[item.parent_id]
        return False

    # ------------------------------------------------------------------ JSON shapes
    def _json(self, item: Item, *, with_download: bool = False, delta: bool = False) -> dict:
        if item.deleted:
            return {"id": item.id, "deleted": {"state": "deleted"},
                    "parentReference": {"driveId": self.drive_id, "id": item.parent_id}}
        body: dict = {
            "id": item.id,
            "name": item.name,
            "eTag": item.etag,
            "cTag": item.etag.replace('"{', '"c:{'),
            "lastModifiedDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(item.modified)),
            "size": len(item.content) if not item.folder else 0,
            "parentReference": {"driveId": self.drive_id, "driveType": "documentLibrary", "id": item.parent_id},
        }
        if item.parent_id is None:
            body["root"] = {}
        if not delta and item.parent_id is not None:  # delta responses carry no path
            parent = self.items[item.parent_id]
            body["parentReference"]["path"] = f"/drives/{self.drive_id}/root:" + (
                "/" + quote(self.path_of(parent)) if parent.parent_id is not None else "")
        if item.folder:
            body["folder"] = {"childCount": sum(1 for i in self.items.values()
                                                if i.parent_id == item.id and not i.deleted)}
        else:
            body["file"] = {"mimeType": "application/octet-stream"}
            if with_download:
                token = secrets.token_urlsafe(12)
                self.download_tokens[token] = (item.id, time.time() + self.download_ttl)
                body["@microsoft.graph.downloadUrl"] = f"{self.url}/download/{item.id}?tempauth={token}"
        return body

    # ------------------------------------------------------------------ routes
    def route(self, request: Request) -> Response:
        if request.path.startswith("/download/"):
            return self._download(request)
        if not self.authority.valid(request.headers.get("authorization"), AUDIENCE):
            return Response.error(401, "InvalidAuthenticationToken", "Access token has expired or is not valid.")
        path = unquote(request.path)
        if not path.startswith("/v1.0/"):
            return Response.error(400, "BadRequest", f"Invalid version: {path}")
        path = path.removeprefix("/v1.0")
        with self._lock:
            if path.startswith("/sites/") and path.endswith("/drives"):
                return Response.json({"value": [
                    {"id": "b!other", "name": "Site Assets", "driveType": "documentLibrary"},
                    {"id": self.drive_id, "name": "Documents", "driveType": "documentLibrary"},
                ]})
            prefix = f"/drives/{self.drive_id}/"
            if not path.startswith(prefix):
                return Response.error(404, "itemNotFound", "The resource could not be found.")
            rest = path.removeprefix(prefix)
            if rest == "root":
                return Response.json(self._json(self.items[self.root_id]))
            if rest.startswith("root:/"):
                item = self.resolve(rest.removeprefix("root:/").removesuffix(":"))
                if item is None:
                    return Response.error(404, "itemNotFound", "The resource could not be found.")
                return Response.json(self._json(item))
            if rest.startswith("items/"):
                segments = rest.split("/")
                item = self.items.get(segments[1])
                if item is None or item.deleted:
                    return Response.error(404, "itemNotFound", "The resource could not be found.")
                if len(segments) == 3 and segments[2] == "delta":
                    return self._delta(request, item)
                return Response.json(self._json(item, with_download=True))
        return Response.error(404, "itemNotFound", "The resource could not be found.")

    def _delta(self, request: Request, folder: Item) -> Response:
        token = request.query.get("token") or ""
        generation, _, since = token.rpartition(".") if token else ("", "", "")
        upto = int(request.query.get("upto") or self.version)
        skip = int(request.query.get("skip") or 0)
        if token and int(generation or -1) != self.generation:
            return Response.error(410, "resyncRequired", "Resync required. Replace any local items with the "
                                  "server's version (including deletes) if you're sure that the service was up to "
                                  "date with your local changes when you last sync'd.")
        start = int(since) if since else 0
        changed = sorted(
            (i for i in self.items.values()
             if (i.id == folder.id or self._under(i, folder.id)) and start < i.version <= upto
             and (since or not i.deleted)),
            key=lambda i: (i.version, i.id),
        )
        page = changed[skip: skip + self.page_size]
        base = f"{self.url}/v1.0/drives/{self.drive_id}/items/{folder.id}/delta"
        body: dict = {"@odata.context": f"{self.url}/v1.0/$metadata#Collection(driveItem)",
                      "value": [self._json(i, delta=True) for i in page]}
        if skip + self.page_size < len(changed):
            body["@odata.nextLink"] = f"{base}?token={token}&upto={upto}&skip={skip + self.page_size}"
        else:
            body["@odata.deltaLink"] = f"{base}?token={self.generation}.{upto}"
        return Response.json(body)

    def _download(self, request: Request) -> Response:
        if "authorization" in request.headers:  # pre-authenticated URLs refuse bearer tokens
            return Response.error(401, "unauthenticated", "Pre-authenticated URL must not carry a token.")
        token = request.query.get("tempauth", "")
        item_id = request.path.removeprefix("/download/")
        granted = self.download_tokens.get(token)
        if granted is None or granted[0] != item_id or granted[1] < time.time():
            return Response.error(401, "unauthenticated", "The download URL has expired.")
        item = self.items.get(item_id)
        if item is None or item.deleted:
            return Response.error(404, "itemNotFound", "The resource could not be found.")
        content = item.content
        chunks = (content[i: i + 65536] for i in range(0, len(content), 65536))
        return Response(200, {"Content-Type": "application/octet-stream", "Content-Length": str(len(content))},
                        chunks=chunks)
