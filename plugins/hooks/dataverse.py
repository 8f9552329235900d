"""Dataverse Web API over msal + requests: paged reads, change tracking and ``$batch`` upserts.

Connection ``dataverse_default``: host = environment URL (``https://org.crm.dynamics.com``,
or extra ``environment_url``), login = client id, password = client secret, extras
``tenant_id`` and optionally ``authority``, ``api_version`` (default ``v9.2``),
``verify``/``ca_bundle``, ``disable_instance_discovery``, ``retry_after_cap``, ``max_attempts``,
``batch_size`` (default 100, at most 1,000), ``concurrency`` (default 4), ``page_size``.
The token scope is ``{environment URL}/.default``.

Upserts are ``PATCH {set}(key=value,...)`` parts sent as independent requests inside
``$batch`` (no changeset) with ``Prefer: odata.continue-on-error``, so each row succeeds
or fails alone. The multipart response is parsed part by part: 201 = created, 200/204 =
updated, anything else = failed with Dataverse's error code and message.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from include.sources.base import WriteResult
from plugins.hooks.graph import policy_from_extra
from plugins.hooks.http_retry import RequestFailed, RetryPolicy, TlsSession, retry_after_seconds, send
from plugins.hooks.msal_token import AppCredentials, ClientCredentialsToken, as_bool, extra_of, get_connection

log = logging.getLogger(__name__)

MAX_BATCH_PARTS = 1000
ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}
_EXPIRED = re.compile(r"expired|version ?stamp|delta ?token|sync ?state", re.IGNORECASE)


class DeltaTokenExpired(RuntimeError):
    """The change-tracking delta link is no longer valid: read the table in full."""


@dataclass
class PartResult:
    """One part of a ``$batch`` response."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def error(self) -> tuple[str, str]:
        """(code, message) from an OData error body."""
        err = self.body.get("error", {}) if isinstance(self.body, dict) else {}
        code = str(err.get("code") or f"HTTP {self.status}")
        message = str(err.get("message") or (self.body if isinstance(self.body, str) else "")) or "no message"
        return code, message


def odata_literal(value: Any) -> str:
    """A value as an OData URL literal (strings quoted, quotes doubled)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if value is None:
        return "null"
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def key_segment(key_columns: Sequence[str], row: Mapping[str, Any]) -> str:
    """``(col1='a',col2=3)``, URL-encoded, for addressing a row by its alternate key."""
    parts = [f"{c}={odata_literal(row[c])}" for c in key_columns]
    return "(" + quote(",".join(parts), safe="=,'") + ")"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to Dataverse")


def build_batch(boundary: str, api_root: str, requests_: Sequence[tuple[str, str, dict | None]]) -> bytes:
    """A ``multipart/mixed`` ``$batch`` body of independent requests (method, relative URL, JSON body)."""
    lines: list[str] = []
    for index, (method, url, body) in enumerate(requests_, start=1):
        lines += [
            f"--{boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {index}",
            "",
            f"{method} {api_root}/{url} HTTP/1.1",
            "Content-Type: application/json; charset=utf-8",
            "Accept: application/json",
            "Prefer: return=representation",
            "",
            json.dumps(body, default=_json_default) if body is not None else "",
        ]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def parse_batch_response(content_type: str, payload: bytes) -> list[PartResult]:
    """Parse a ``$batch`` ``multipart/mixed`` response into one :class:`PartResult` per part.

    Nested changeset responses are flattened in order. Raises ValueError on a malformed body.
    """
    match = re.search(r'boundary="?([^";]+)"?', content_type or "", re.IGNORECASE)
    if not match or not content_type.lower().startswith("multipart/"):
        raise ValueError(f"not a multipart response (Content-Type {content_type!r})")
    boundary = match.group(1).encode()
    delimiter = b"--" + boundary
    results: list[PartResult] = []
    segments = payload.split(delimiter)
    if len(segments) < 2:
        raise ValueError("multipart response without its boundary")
    for segment in segments[1:]:
        if segment.startswith(b"--"):
            break  # closing delimiter
        segment = segment.removeprefix(b"\r\n").removeprefix(b"\n")
        head, body = _split_headers(segment)
        part_headers = _header_dict(head)
        part_type = part_headers.get("content-type", "")
        if part_type.lower().startswith("multipart/"):
            results.extend(parse_batch_response(part_type, body))
            continue
        results.append(_parse_http_message(body))
    return results


def _split_headers(block: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in block:
            head, body = block.split(sep, 1)
            return head, body
    return block, b""


def _header_dict(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def _parse_http_message(message: bytes) -> PartResult:
    head, body = _split_headers(message)
    lines = head.decode("utf-8", "replace").splitlines()
    if not lines:
        raise ValueError("empty part in a $batch response")
    status_line = re.match(r"HTTP/\d\.\d\s+(\d{3})", lines[0].strip())
    if not status_line:
        raise ValueError(f"part without an HTTP status line: {lines[0][:80]!r}")
    headers = _header_dict("\n".join(lines[1:]).encode())
    text = body.rstrip(b"\r\n").decode("utf-8", "replace").strip()
    parsed: Any = None
    if text:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = text
    return PartResult(int(status_line.group(1)), headers, parsed)


class DataverseHook:
    """The Web API of one Dataverse environment on the ``dataverse_default`` connection."""

    conn_name_attr = "conn_id"
    default_conn_name = "dataverse_default"
    conn_type = "http"
    hook_name = "Dataverse Web API (msal + requests)"

    def __init__(self, conn_id: str = default_conn_name, *, policy: RetryPolicy | None = None) -> None:
        conn = get_connection(conn_id)
        extra = extra_of(conn)
        self.conn_id = conn_id
        env = str(extra.get("environment_url") or conn.host or "").rstrip("/")
        if not env:
            raise ValueError(f"connection {conn_id!r} has no environment URL (host or extra environment_url)")
        if "://" not in env:
            env = f"{conn.schema or 'https'}://{env}"
            if conn.port:
                env = f"{env}:{conn.port}"
        self.environment_url = env
        self.api_root = f"{env}/api/data/{extra.get('api_version') or 'v9.2'}"
        self.credentials = AppCredentials.from_connection(conn)
        self.policy = policy or policy_from_extra(extra)
        self.auth = ClientCredentialsToken(self.credentials, f"{env}/.default")
        self.batch_size = min(MAX_BATCH_PARTS, int(extra.get("batch_size") or 100))
        self.concurrency = max(1, int(extra.get("concurrency") or 4))
        self.page_size = int(extra.get("page_size") or 5000)
        self._verify = self.credentials.verify
        self._trust_env = as_bool(extra.get("trust_env"), True)
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        """One session per thread (batches are sent concurrently)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = TlsSession(self._verify, trust_env=self._trust_env)
            session.headers.update(ODATA_HEADERS)
            self._local.session = session
        return session

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else f"{self.api_root}/{path_or_url.lstrip('/')}"

    def _get(self, url: str, params: dict | None, prefer: str, *, delta: bool = False) -> dict:
        try:
            response = send(
                self.session, "GET", url, policy=self.policy, auth=self.auth, params=params, headers={"Prefer": prefer}
            )
        except RequestFailed as exc:
            expired = exc.status == 410 or (exc.status == 400 and bool(_EXPIRED.search(exc.body or "")))
            if delta and expired:
                raise DeltaTokenExpired(f"delta link expired (HTTP {exc.status})") from None
            raise
        with response:
            return response.json()

    def pages(
        self,
        entity_set: str,
        *,
        select: Sequence[str] | None = None,
        filter_: str | None = None,
        delta_link: str | None = None,
        track_changes: bool = False,
    ) -> Iterator[dict]:
        """Pages of ``entity_set`` (or of ``delta_link``), following ``@odata.nextLink`` unchanged.

        Raises :class:`DeltaTokenExpired` when the delta link is refused as expired.
        """
        prefer = f"odata.maxpagesize={self.page_size}"
        if track_changes or delta_link:
            prefer = f"odata.track-changes,{prefer}"
        if delta_link:
            url: str | None = delta_link
            params: dict | None = None
        else:
            url = self.url(entity_set)
            params = {}
            if select:
                params["$select"] = ",".join(select)
            if filter_:
                params["$filter"] = filter_
        first = True
        while url:
            page = self._get(url, params, prefer, delta=bool(delta_link) and first)
            first = False
            params = None  # next links carry their own query
            yield page
            url = page.get("@odata.nextLink")

    # ----------------------------------------------------------------- write-back
    def upsert(
        self,
        entity_set: str,
        key_columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
    ) -> WriteResult:
        """Create or update each row by its alternate key; every row succeeds or fails alone."""
        size = min(MAX_BATCH_PARTS, batch_size or self.batch_size)
        if size < 1:
            raise ValueError("batch_size must be at least 1")
        for row in rows:
            missing = [k for k in key_columns if row.get(k) in (None, "")]
            if missing:
                raise ValueError(f"row lacks its alternate key {missing}: {dict(row)!r}"[:300])
        chunks = [list(rows[i : i + size]) for i in range(0, len(rows), size)]
        result = WriteResult()
        lock = threading.Lock()

        def run(chunk: list[Mapping[str, Any]]) -> None:
            part = self._send_batch(entity_set, key_columns, chunk)
            with lock:
                result.created += part.created
                result.updated += part.updated
                result.failed.extend(part.failed)

        workers = max(1, min(concurrency or self.concurrency, len(chunks) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataverse-batch") as pool:
            for future in [pool.submit(run, c) for c in chunks]:
                future.result()
        log.info(
            "%s: %d created, %d updated, %d failed of %d rows in %d batches",
            entity_set, result.created, result.updated, len(result.failed), len(rows), len(chunks),
        )
        return result

    def _send_batch(self, entity_set: str, key_columns: Sequence[str], rows: list[Mapping[str, Any]]) -> WriteResult:
        result = WriteResult()
        pending = rows
        for round_ in range(1, self.policy.max_attempts + 1):
            results = self._post_batch(entity_set, key_columns, pending)
            throttled: list[Mapping[str, Any]] = []
            wait = 0.0
            for row, part in zip(pending, results, strict=True):
                if part.status == 201:
                    result.created += 1
                elif part.status in (200, 204):
                    result.updated += 1
                elif part.status == 429 and round_ < self.policy.max_attempts:
                    throttled.append(row)
                    wait = max(wait, retry_after_seconds(part.headers.get("retry-after")) or 1.0)
                else:
                    code, message = part.error
                    result.failed.append(
                        {"key": {k: row[k] for k in key_columns}, "status": part.status, "code": code,
                         "message": message}
                    )
            if not throttled:
                break
            if wait > self.policy.retry_after_cap:
                for row in throttled:
                    result.failed.append(
                        {"key": {k: row[k] for k in key_columns}, "status": 429, "code": "429",
                         "message": f"throttled with Retry-After {wait:.0f} s, over the cap"}
                    )
                break
            log.warning("%d parts throttled inside a $batch, resending after %.1f s", len(throttled), wait)
            time.sleep(wait)
            pending = throttled
        return result

    def _post_batch(
        self, entity_set: str, key_columns: Sequence[str], rows: list[Mapping[str, Any]]
    ) -> list[PartResult]:
        boundary = f"batch_{uuid.uuid4().hex}"
        parts = [
            (
                "PATCH",
                f"{entity_set}{key_segment(key_columns, row)}",
                {k: v for k, v in row.items() if k not in key_columns},
            )
            for row in rows
        ]
        body = build_batch(boundary, self.api_root, parts)
        response = send(
            self.session,
            "POST",
            self.url("$batch"),
            policy=self.policy,
            auth=self.auth,
            data=body,
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}", "Prefer": "odata.continue-on-error"},
        )
        with response:
            results = parse_batch_response(response.headers.get("Content-Type", ""), response.content)
        if len(results) != len(rows):
            raise RequestFailed(
                f"POST {self.url('$batch')}: {len(results)} part responses for {len(rows)} requests"
            )
        return results
