"""Microsoft Graph files (OneDrive / SharePoint drives) over msal + requests.

Connection ``msgraph_default`` (the azure provider's ``msgraph`` type): login = client id,
password = client secret, extras ``tenant_id`` and optionally ``authority`` (authority host),
``base_url`` (default ``https://graph.microsoft.com/v1.0``), ``scopes``, ``drive_id`` (skips
the site lookup), ``verify``/``ca_bundle``, ``disable_instance_discovery``,
``retry_after_cap`` (seconds, default 600), ``max_attempts``.

The provider's ``KiotaRequestAdapterHook`` is not used: it is async (its operator always
defers to the triggerer) and its retry handler gives up on ``Retry-After`` of 180 s or more,
while Graph throttling waits of several minutes are real. See docs/microsoft.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from plugins.hooks.http_retry import RequestFailed, RetryPolicy, TlsSession, send
from plugins.hooks.msal_token import AppCredentials, ClientCredentialsToken, as_bool, extra_of, get_connection

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
CHUNK = 1 << 20


class DeltaExpired(RuntimeError):
    """The delta link is no longer valid (410 Gone): resynchronise from scratch."""


def policy_from_extra(extra: dict) -> RetryPolicy:
    """The retry policy, with the cap and attempts overridable in the connection extra."""
    kwargs: dict[str, Any] = {}
    if extra.get("retry_after_cap") not in (None, ""):
        kwargs["retry_after_cap"] = float(extra["retry_after_cap"])
    if extra.get("max_attempts") not in (None, ""):
        kwargs["max_attempts"] = int(extra["max_attempts"])
    if extra.get("backoff_base") not in (None, ""):
        kwargs["backoff_base"] = float(extra["backoff_base"])
    if extra.get("read_timeout") not in (None, ""):
        kwargs["timeout"] = (10.0, float(extra["read_timeout"]))
    return RetryPolicy(**kwargs)


class GraphFilesHook:
    """Drive lookups, delta pages and streamed downloads on the ``msgraph_default`` connection."""

    conn_name_attr = "conn_id"
    default_conn_name = "msgraph_default"
    conn_type = "msgraph"
    hook_name = "Microsoft Graph files (msal + requests)"

    def __init__(self, conn_id: str = default_conn_name, *, policy: RetryPolicy | None = None) -> None:
        conn = get_connection(conn_id)
        extra = extra_of(conn)
        self.conn_id = conn_id
        self.credentials = AppCredentials.from_connection(conn)
        self.base_url = str(extra.get("base_url") or self._base_from_host(conn, extra)).rstrip("/")
        scopes = extra.get("scopes") or DEFAULT_SCOPE
        self.scope = scopes.split(",")[0].strip() if isinstance(scopes, str) else str(scopes[0])
        self.drive_id: str | None = extra.get("drive_id") or None
        self.policy = policy or policy_from_extra(extra)
        self.auth = ClientCredentialsToken(self.credentials, self.scope)
        self.session = TlsSession(self.credentials.verify, trust_env=as_bool(extra.get("trust_env"), True))

    @staticmethod
    def _base_from_host(conn: Any, extra: dict) -> str:
        if not conn.host:
            return DEFAULT_BASE_URL
        host = conn.host if "://" in conn.host else f"{conn.schema or 'https'}://{conn.host}"
        if conn.port:
            host = f"{host}:{conn.port}"
        return f"{host.rstrip('/')}/{extra.get('api_version') or 'v1.0'}"

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else f"{self.base_url}/{path_or_url.lstrip('/')}"

    def get_json(self, path_or_url: str, params: dict | None = None, *, ok_statuses: tuple[int, ...] = ()) -> Any:
        """GET a Graph resource as JSON (``None`` for an accepted non-2xx status such as 404)."""
        response = send(
            self.session,
            "GET",
            self.url(path_or_url),
            policy=self.policy,
            auth=self.auth,
            params=params,
            headers={"Accept": "application/json"},
            ok=lambda r: r.status_code < 400 or r.status_code in ok_statuses,
        )
        with response:
            if response.status_code >= 400:
                return None
            return response.json()

    def resolve_drive(self, site: str = "root", drive_name: str = "Documents") -> str:
        """The id of the drive named ``drive_name`` of ``site`` (``root``, an id, or ``host:/sites/path``)."""
        if self.drive_id:
            return self.drive_id
        url: str | None = self.url(f"sites/{site}/drives")
        names: list[str] = []
        while url:
            page = self.get_json(url, {"$select": "id,name"} if "?" not in url else None)
            for drive in page.get("value", []):
                names.append(drive.get("name", ""))
                if drive.get("name", "").lower() == drive_name.lower():
                    self.drive_id = drive["id"]
                    return self.drive_id
            url = page.get("@odata.nextLink")
        raise FileNotFoundError(f"site {site!r} has no drive named {drive_name!r} (drives: {', '.join(names)})")

    def item_by_path(self, drive_id: str, path: str) -> dict | None:
        """The drive item at ``path`` (relative to the drive root), or None when absent."""
        path = path.strip("/")
        resource = f"drives/{drive_id}/root" if not path else f"drives/{drive_id}/root:/{quote(path)}:"
        return self.get_json(resource, ok_statuses=(404,))

    def delta_pages(self, drive_id: str, folder_id: str, delta_link: str | None) -> Iterator[dict]:
        """Pages of the folder's delta: from ``delta_link``, or the full enumeration when None.

        Follows ``@odata.nextLink`` unchanged; the last page carries ``@odata.deltaLink``.
        Raises :class:`DeltaExpired` on 410 Gone.
        """
        url: str | None = delta_link or self.url(f"drives/{drive_id}/items/{folder_id}/delta")
        while url:
            try:
                page = self.get_json(url)
            except RequestFailed as exc:
                if exc.status == 410:
                    raise DeltaExpired(f"delta link of folder {folder_id} expired (410 Gone)") from None
                raise
            yield page
            url = page.get("@odata.nextLink")

    def download(self, drive_id: str, item_id: str, dest: Path, *, expected_size: int | None = None) -> Path:
        """Stream the item's content to ``dest`` through its ``@microsoft.graph.downloadUrl``.

        The pre-authenticated URL gets no Authorization header. The file is written to
        ``dest.part`` and renamed when complete; a size mismatch is an error.
        """
        for attempt in (1, 2):
            item = self.get_json(f"drives/{drive_id}/items/{item_id}")
            link = item.get("@microsoft.graph.downloadUrl")
            if not link:
                raise RequestFailed(f"drive item {item_id} ({item.get('name')}) has no download URL: is it a file?")
            response = send(
                self.session,
                "GET",
                link,
                policy=self.policy,
                stream=True,
                ok=lambda r: r.status_code < 400 or r.status_code in (401, 403),
            )
            if response.status_code in (401, 403):  # the short-lived URL expired: fetch a fresh one
                response.close()
                if attempt == 2:
                    raise RequestFailed(
                        f"download of drive item {item_id} refused twice (HTTP {response.status_code})",
                        status=response.status_code,
                    )
                continue
            size = expected_size if expected_size is not None else item.get("size")
            return _stream_to(response, dest, size)
        raise AssertionError("unreachable")


def _stream_to(response: requests.Response, dest: Path, size: int | None) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    written = 0
    try:
        with response, part.open("wb") as fh:
            for chunk in response.iter_content(CHUNK):
                fh.write(chunk)
                written += len(chunk)
    except requests.RequestException as exc:
        part.unlink(missing_ok=True)
        raise RequestFailed(
            f"download into {dest.name} interrupted after {written} bytes: {type(exc).__name__}"
        ) from None
    if size is not None and written != int(size):
        part.unlink(missing_ok=True)
        raise RequestFailed(f"download of {dest.name} incomplete: {written} of {size} bytes")
    os.replace(part, dest)
    return dest
