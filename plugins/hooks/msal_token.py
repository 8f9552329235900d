"""App-only access tokens from msal (client credentials), cached and renewed before expiry.

The client secret and every token are registered with Airflow's secret masker as soon
as they are known, so they are redacted from task logs; exceptions raised here name
the client id and authority, never the secret or a token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


class TokenError(RuntimeError):
    """The authority refused or failed to issue a token."""


def mask(value: str | None) -> None:
    """Register ``value`` with Airflow's secret masker (no-op outside Airflow).

    No name is passed on purpose: with a name, the masker hides the value only when the
    name is one of its configured sensitive names.
    """
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow is always installed here
        return
    mask_secret(value)


def get_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id`` (Task SDK first, then the core hook)."""
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # pragma: no cover
        from airflow.hooks.base import BaseHook
    return BaseHook.get_connection(conn_id)


def extra_of(conn: Any) -> dict:
    """The connection's extra as a dict (it may be a JSON string)."""
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    return dict(extra)


def as_bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def tls_verify(extra: dict) -> bool | str:
    """``requests``/msal ``verify``: a CA bundle path (extra ``ca_bundle``) or a boolean (extra ``verify``)."""
    bundle = extra.get("ca_bundle")
    if bundle:
        return str(bundle)
    verify = extra.get("verify")
    if isinstance(verify, str) and verify and verify.lower() not in {"true", "false", "1", "0", "yes", "no"}:
        return verify  # a path given as verify
    return as_bool(verify, True)


@dataclass(frozen=True)
class AppCredentials:
    """What msal needs for the client-credentials flow."""

    tenant_id: str
    client_id: str
    client_secret: str
    authority_host: str = DEFAULT_AUTHORITY_HOST
    verify: bool | str = True
    instance_discovery: bool = True

    def __repr__(self) -> str:  # never show the secret
        return f"AppCredentials(client_id={self.client_id!r}, tenant_id={self.tenant_id!r})"

    @property
    def authority(self) -> str:
        host = self.authority_host.rstrip("/")
        if "://" not in host:
            host = f"https://{host}"
        return f"{host}/{self.tenant_id}"

    @classmethod
    def from_connection(cls, conn: Any, *, tenant_id: str | None = None) -> AppCredentials:
        """Login = client id, password = secret, extras ``tenant_id``, ``authority``, ``verify``/``ca_bundle``,
        ``disable_instance_discovery`` (the azure provider's ``msgraph`` connection fields)."""
        extra = extra_of(conn)
        tenant = tenant_id or extra.get("tenant_id") or extra.get("tenantId")
        client_id = conn.login or extra.get("client_id")
        secret = conn.password or extra.get("client_secret")
        missing = [n for n, v in (("tenant_id", tenant), ("client id (login)", client_id), ("secret", secret)) if not v]
        if missing:
            raise ValueError(f"connection {conn.conn_id!r} lacks {', '.join(missing)}")
        mask(secret)
        return cls(
            tenant_id=str(tenant),
            client_id=str(client_id),
            client_secret=str(secret),
            authority_host=str(extra.get("authority") or DEFAULT_AUTHORITY_HOST),
            verify=tls_verify(extra),
            instance_discovery=not as_bool(extra.get("disable_instance_discovery"), False),
        )


class ClientCredentialsToken:
    """A bearer token for one scope, cached until ``renew_margin`` seconds before it expires.

    Thread-safe: the write-back sends batches from several threads.
    """

    def __init__(self, credentials: AppCredentials, scope: str, *, renew_margin: float = 300.0) -> None:
        self.credentials = credentials
        self.scope = scope
        self.renew_margin = renew_margin
        self._app: Any = None
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self.acquired = 0  # tokens obtained from the authority (observability and tests)

    def _client(self) -> Any:
        if self._app is None:
            import msal

            from plugins.hooks.http_retry import TlsSession

            creds = self.credentials
            mask(creds.client_secret)
            try:
                self._app = msal.ConfidentialClientApplication(
                    creds.client_id,
                    client_credential=creds.client_secret,
                    authority=creds.authority,
                    http_client=TlsSession(creds.verify),
                    instance_discovery=creds.instance_discovery,
                    timeout=30,
                )
            except Exception as exc:
                raise TokenError(
                    f"cannot reach the authority {creds.authority} for client {creds.client_id}: "
                    f"{type(exc).__name__}"
                ) from None
        return self._app

    def token(self) -> str:
        """The cached token, renewed first when it is within the margin of its expiry."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._acquire()
            assert self._token is not None
            return self._token

    def renew(self) -> str:
        """Discard the cached token (e.g. after a 401) and fetch a new one."""
        with self._lock:
            self._acquire()
            assert self._token is not None
            return self._token

    def _acquire(self) -> None:
        app = self._client()
        cache = app.token_cache
        # msal serves its own cache until expiry: drop it so a renewal really asks the authority.
        for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(item)
        try:
            result = app.acquire_token_for_client(scopes=[self.scope])
        except Exception as exc:
            raise TokenError(
                f"token request for client {self.credentials.client_id} at {self.credentials.authority} failed: "
                f"{type(exc).__name__}"
            ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = (result or {}).get("error", "unknown_error")
            description = str((result or {}).get("error_description", "")).splitlines()[:1]
            raise TokenError(
                f"token request for client {self.credentials.client_id} at {self.credentials.authority} "
                f"(scope {self.scope}) refused: {error}: {' '.join(description)}"
            )
        mask(token)
        expires_in = float(result.get("expires_in") or 3600)
        margin = min(self.renew_margin, expires_in / 2)
        self._token = token
        self._renew_at = time.monotonic() + expires_in - margin
        self.acquired += 1
        log.info("access token for %s acquired, valid %d s", self.scope, int(expires_in))
