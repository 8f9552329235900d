"""A Dataverse Web API double: paged reads with $select/$filter, change tracking with deletes,
``$batch`` with independent PATCH upserts by alternate key, OData error bodies.

Upserts follow Dataverse: with ``Prefer: return=representation`` a created record answers
201 and an updated one 200 (204 for both without it). Without ``Prefer:
odata.continue-on-error`` a batch stops at its first failed part.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import quote, unquote

from tests.doubles.authority import AuthorityDouble
from tests.doubles.http import DoubleServer, Request, Response

API = "/api/data/v9.2"
#: (record) -> (code, message) of a validation failure, or None.
Validator = Callable[[dict], tuple[str, str] | None]


@dataclass
class Table:
    primary: str
    keys: tuple[str, ...] = ()
    records: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)
    validate: Validator | None = None
    track_changes: bool = True


def _literal(text: str) -> object:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return float(text) if "." in text else int(text)


def _split_key(segment: str) -> dict[str, object]:
    """``a='x,y',b=2`` -> {"a": "x,y", "b": 2} (commas inside quotes kept)."""
    parts = re.findall(r"(\w+)=('(?:[^']|'')*'|[^,]+)", segment)
    return {name: _literal(value) for name, value in parts}


class DataverseDouble:
    def __init__(self, authority: AuthorityDouble, *, batch_delay: float = 0.0) -> None:
        self.authority = authority
        self.tables: dict[str, Table] = {}
        self.version = 0
        self.generation = 0  # delta tokens of an earlier generation have expired
        self.batch_delay = batch_delay
        self.batch_sizes: list[int] = []
        self._lock = threading.RLock()
        self.server = DoubleServer(self.route)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> DataverseDouble:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # ------------------------------------------------------------------ state
    def table(self, entity_set: str, primary: str, keys: tuple[str, ...] = (), validate: Validator | None = None,
              track_changes: bool = True) -> Table:
        self.tables[entity_set] = Table(primary, keys, validate=validate, track_changes=track_changes)
        return self.tables[entity_set]

    def put(self, entity_set: str, record: dict) -> dict:
        with self._lock:
            table = self.tables[entity_set]
            record_id = record.get(table.primary) or str(uuid.uuid4())
            current = table.records.get(record_id, {})
            merged = {**current, **record, table.primary: record_id,
                      "modifiedon": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            table.records[record_id] = merged
            self.version += 1
            table.versions[record_id] = self.version
            return merged

    def delete(self, entity_set: str, record_id: str) -> None:
        with self._lock:
            table = self.tables[entity_set]
            del table.records[record_id]
            table.versions.pop(record_id, None)
            self.version += 1
            table.tombstones[record_id] = self.version

    def expire_deltas(self) -> None:
        with self._lock:
            self.generation += 1

    def rows(self, entity_set: str) -> list[dict]:
        return list(self.tables[entity_set].records.values())

    # ------------------------------------------------------------------ routes
    def route(self, request: Request) -> Response:
        if not self.authority.valid(request.headers.get("authorization"), self.url):
            return Response.error(401, "0x80072560", "The user is not a member of the organization.",
                                  {"WWW-Authenticate": "Bearer error=invalid_token"})
        if not request.path.startswith(API + "/"):
            return Response.error(404, "0x8006088a", f"Resource not found for the segment '{request.path}'.")
        resource = unquote(request.path.removeprefix(API + "/"))
        if resource == "$batch" and request.method == "POST":
            return self._batch(request)
        if request.method == "GET" and resource in self.tables:
            with self._lock:
                return self._read(request, resource)
        return Response.error(404, "0x8006088a", f"Resource not found for the segment '{resource}'.")

    def _read(self, request: Request, entity_set: str) -> Response:
        table = self.tables[entity_set]
        prefer = request.headers.get("prefer", "")
        size = int(m.group(1)) if (m := re.search(r"odata\.maxpagesize=(\d+)", prefer)) else 5000
        select = [c for c in request.query.get("$select", "").split(",") if c]
        filters: dict[str, object] = {}
        if request.query.get("$filter"):
            for clause in request.query["$filter"].split(" and "):
                match = re.fullmatch(r"\s*(\w+) eq (.+?)\s*", clause)
                if not match:
                    return Response.error(400, "0x80060888", f"Syntax error in $filter: '{clause}'.")
                filters[match.group(1)] = _literal(match.group(2))
        unknown = [c for c in [*select, *filters] if not re.fullmatch(r"\w+", c)]
        if unknown:
            return Response.error(400, "0x80060888", f"Could not find a property named '{unknown[0]}'.")
        token = request.query.get("$deltatoken")
        since = int(token.split("!")[0]) if token else None
        if token and token.split("!")[1] != str(self.generation):
            return Response.error(400, "0x80044352", "Version stamp associated with the client has expired. "
                                  "Please perform a full sync.")
        skip, upto = 0, self.version
        if request.query.get("$skiptoken"):
            skip_s, upto_s = request.query["$skiptoken"].split(":")
            skip, upto = int(skip_s), int(upto_s)
        entries: list[tuple[int, dict]] = []
        for record_id, record in table.records.items():
            version = table.versions[record_id]
            if version > upto or (since is not None and version <= since):
                continue
            if any(record.get(k) != v for k, v in filters.items()):
                continue
            shaped = {c: record.get(c) for c in select} if select else dict(record)
            shaped.setdefault(table.primary, record_id)
            shaped["@odata.etag"] = f'W/"{version}"'
            entries.append((version, shaped))
        if since is not None:
            for record_id, version in table.tombstones.items():
                if since < version <= upto:
                    entries.append((version, {
                        "@odata.context": f"{self.url}{API}/$metadata#{entity_set}/$deletedEntity",
                        "id": record_id, "reason": "deleted"}))
        entries.sort(key=lambda e: (e[0], json.dumps(e[1], sort_keys=True)))
        page = [e[1] for e in entries[skip: skip + size]]
        body: dict = {"@odata.context": f"{self.url}{API}/$metadata#{entity_set}", "value": page}
        query = "&".join(f"{k}={quote(v, safe=',')}" for k, v in request.query.items()
                         if k not in ("$skiptoken", "$deltatoken"))
        base = f"{self.url}{API}/{entity_set}?{query}" + ("&" if query else "")
        if skip + size < len(entries):
            delta = f"$deltatoken={quote(token)}&" if token else ""
            body["@odata.nextLink"] = f"{base}{delta}$skiptoken={skip + size}:{upto}"
        elif "odata.track-changes" in prefer and table.track_changes:
            body["@odata.deltaLink"] = f"{base}$deltatoken={upto}%21{self.generation}%2108%2f05%2f2026%2012%3a00%3a00"
        return Response.json(body, headers={"Preference-Applied": prefer} if prefer else None)

    # ------------------------------------------------------------------ $batch
    def _batch(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/mixed") or "boundary=" not in content_type:
            return Response.error(400, "0x80048d19", "The batch request must be multipart/mixed with a boundary.")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body)
        parts = list(message.iter_parts())
        if len(parts) > 1000:
            return Response.error(400, "0x80060891", "Number of requests in a batch exceeds the limit of 1000.")
        continue_on_error = "odata.continue-on-error" in request.headers.get("prefer", "")
        self.batch_sizes.append(len(parts))
        if self.batch_delay:
            time.sleep(self.batch_delay)
        answers: list[tuple[str | None, int, dict | None]] = []
        for part in parts:
            if part.get_content_type() != "application/http":
                return Response.error(400, "0x80048d19", "Each batch part must be application/http.")
            status, body = self._apply(part.get_payload(decode=True))
            answers.append((part.get("Content-ID"), status, body))
            if status >= 400 and not continue_on_error:
                break
        boundary = f"batchresponse_{uuid.uuid4()}"
        chunks = []
        for content_id, status, body in answers:
            reason = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
                      412: "Precondition Failed"}.get(status, "Error")
            head = [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary"]
            if content_id:
                head.append(f"Content-ID: {content_id}")
            head += ["", f"HTTP/1.1 {status} {reason}"]
            if body is not None:
                head += ["Content-Type: application/json; odata.metadata=minimal", "OData-Version: 4.0", "",
                         json.dumps(body)]
            else:
                head += ["OData-Version: 4.0", ""]
            chunks.append("\r\n".join(head))
        payload = ("\r\n".join(chunks) + f"\r\n--{boundary}--\r\n").encode()
        return Response(200, {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"},
                        payload)

    def _apply(self, raw: bytes) -> tuple[int, dict | None]:
        head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        lines = head.decode().split("\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        path = unquote(target.split("://", 1)[-1].split("/", 1)[-1].split("?")[0])
        match = re.fullmatch(r"api/data/v9\.2/(\w+)\((.*)\)", path)
        if method != "PATCH" or not match:
            return 400, {"error": {"code": "0x80060888", "message": f"Unsupported request {method} {path}"}}
        entity_set, key_text = match.groups()
        table = self.tables.get(entity_set)
        if table is None:
            return 404, {"error": {"code": "0x80060888", "message": f"Resource not found for '{entity_set}'."}}
        key = _split_key(key_text)
        if set(key) != set(table.keys):
            return 400, {"error": {"code": "0x80060891",
                                   "message": f"A record with the specified key values does not exist in "
                                              f"{entity_set} entity (key {sorted(key)} is not an alternate key)"}}
        try:
            data = json.loads(body.decode().strip() or "{}")
        except json.JSONDecodeError as exc:
            return 400, {"error": {"code": "0x80040265", "message": f"Invalid JSON payload: {exc}"}}
        record = {**data, **key}
        if table.validate and (problem := table.validate(record)):
            return 400, {"error": {"code": problem[0], "message": problem[1]}}
        with self._lock:
            existing = next((rid for rid, r in table.records.items() if all(r.get(k) == v for k, v in key.items())),
                            None)
            stored = self.put(entity_set, {**record, table.primary: existing} if existing else record)
        representation = "return=representation" in headers.get("prefer", "")
        if not representation:
            return 204, None
        return (200 if existing else 201), {table.primary: stored[table.primary]}
