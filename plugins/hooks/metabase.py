"""Metabase REST API hook: API key or session login, bounded retries, readable errors.

The connection ``metabase_default`` gives host, port and scheme (``https`` by default,
``http`` when the connection type or extra says so). Authentication, first match wins:

* an API key: the extra ``api_key``, or the password when the login is empty;
  sent as ``X-API-KEY``;
* a login (email) and password: ``POST /api/session/`` once, then ``X-Metabase-Session``.

5xx answers, connection errors and timeouts are retried with backoff up to ``max_attempts``;
any other error raises :class:`MetabaseError` with Metabase's own error text. Secrets never
appear in logs or error messages.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from airflow.sdk import BaseHook

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "metabase_default"
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class MetabaseError(RuntimeError):
    """A Metabase request that failed; ``status`` is the HTTP status (None for network faults)."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _error_text(response: requests.Response) -> str:
    """Metabase's error message: ``message``, ``errors`` or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("message", "errors", "specific-errors") if body.get(k)]
        if parts:
            return "; ".join(parts)[:500]
    return str(body)[:500]


class MetabaseHook(BaseHook):
    """Sends requests to one Metabase; ``request`` returns the decoded JSON (or None)."""

    conn_name_attr = "metabase_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "http"
    hook_name = "Metabase"

    def __init__(
        self,
        metabase_conn_id: str = DEFAULT_CONN_ID,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        max_attempts: int = 4,
        backoff: float = 1.0,
        timeout: tuple[float, float] = (10.0, 120.0),
    ) -> None:
        super().__init__()
        self.metabase_conn_id = metabase_conn_id
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.session = requests.Session()
        self._session_token: str | None = None
        if base_url is None:
            base_url, api_key, username, password = self._from_connection(metabase_conn_id)
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._username = username
        self._password = password
        if not api_key and not (username and password):
            raise MetabaseError(
                f"connection {metabase_conn_id!r} has no API key (extra 'api_key' or password without login) "
                "and no login/password"
            )

    @staticmethod
    def _from_connection(conn_id: str) -> tuple[str, str | None, str | None, str | None]:
        conn = BaseHook.get_connection(conn_id)
        extra = conn.extra_dejson or {}
        scheme = str(extra.get("scheme") or conn.schema or "").lower()
        if scheme not in ("http", "https"):
            scheme = "http" if (conn.conn_type or "").lower() == "http" and conn.port not in (None, 443) else "https"
        host = conn.host or "localhost"
        # a host may be given as a full URL
        base = host if "://" in host else f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        api_key = extra.get("api_key") or (conn.password if not conn.login else None)
        return base, api_key, conn.login or None, conn.password or None

    # -- authentication -------------------------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        if self._api_key:
            return {"X-API-KEY": self._api_key}
        if self._session_token is None:
            self._session_token = self._login()
        return {"X-Metabase-Session": self._session_token}

    def _login(self) -> str:
        body = self._send("POST", "/api/session/", json={"username": self._username, "password": self._password},
                          headers={})
        token = (body or {}).get("id")
        if not token:
            raise MetabaseError("Metabase login answered without a session id")
        return str(token)

    # -- requests -------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        """Send one API request (``path`` starts with ``/api/``) and return its JSON body."""
        try:
            return self._send(method, path, params=params, json=json, headers=self._auth_headers())
        except MetabaseError as exc:
            if exc.status == 401 and self._session_token is not None:
                log.warning("Metabase session expired; logging in again")
                self._session_token = self._login()
                return self._send(method, path, params=params, json=json, headers=self._auth_headers())
            raise

    def _send(self, method: str, path: str, *, headers: dict[str, str], params: dict | None = None,
              json: Any = None) -> Any:
        url = self.base_url + path
        what = f"{method.upper()} {path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(method, url, params=params, json=json, headers=headers,
                                                timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt >= self.max_attempts:
                    raise MetabaseError(f"{what} failed after {attempt} attempts: {type(exc).__name__}") from None
                self._wait(what, type(exc).__name__, attempt)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.max_attempts:
                self._wait(what, f"HTTP {response.status_code}", attempt)
                continue
            if response.status_code >= 400:
                text = _error_text(response)
                raise MetabaseError(f"{what}: HTTP {response.status_code}: {text}",
                                    status=response.status_code, body=text)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                return response.text

    def _wait(self, what: str, why: str, attempt: int) -> None:
        wait = min(30.0, self.backoff * 2 ** (attempt - 1))
        log.warning("%s: %s (attempt %d of %d), retrying in %.1f s", what, why, attempt, self.max_attempts, wait)
        time.sleep(wait)

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test: who am I."""
        try:
            me = self.request("GET", "/api/user/current")
        except MetabaseError as exc:
            return False, str(exc)
        return True, f"connected as {me.get('email') or me.get('common_name') or 'API key'}"
