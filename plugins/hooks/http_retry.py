"""One HTTP request with bounded retries: throttling, server faults, timeouts and token expiry.

* 429 and 503 wait for ``Retry-After`` (seconds or an HTTP date) when it is at most
  ``retry_after_cap``; a longer wait fails at once with :class:`ThrottledTooLong`.
* other 5xx, connection errors and timeouts back off exponentially with full jitter.
* 401 renews the bearer token once (when the caller supplied one), then fails.
* after ``max_attempts`` the request fails with :class:`RequestFailed`, naming the
  method and the URL without its query string (download URLs carry credentials there).

Error messages never contain headers or request bodies, so no token or secret leaks.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)

THROTTLE_STATUSES = frozenset({429, 503})
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class RequestFailed(RuntimeError):
    """A request that did not succeed within the retry policy."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ThrottledTooLong(RequestFailed):
    """The service asked to wait longer than the configured cap."""


class TokenSource(Protocol):
    """What the retry loop needs from a token provider."""

    def token(self) -> str: ...

    def renew(self) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry one request."""

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_cap: float = 600.0
    #: (connect, read) timeouts in seconds.
    timeout: tuple[float, float] = (10.0, 120.0)
    #: Wait used when a 429/503 carries no usable Retry-After.
    default_throttle_wait: float = 5.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given (1-based) failed attempt."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))


class TlsSession(requests.Session):
    """A session whose ``verify`` (a CA bundle path or a boolean) wins over ``REQUESTS_CA_BUNDLE``.

    Plain ``requests`` lets the environment's CA bundle override ``Session.verify``; a
    connection that names its own CA bundle must be obeyed.
    """

    def __init__(self, verify: bool | str = True, *, trust_env: bool = True) -> None:
        super().__init__()
        self.verify = verify
        self.trust_env = trust_env

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if self.verify is not True:
            kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def describe(method: str, url: str) -> str:
    """``METHOD scheme://host/path`` without the query string."""
    parts = urlsplit(url)
    return f"{method.upper()} {urlunsplit((parts.scheme, parts.netloc, parts.path, '', ''))}"


def retry_after_seconds(value: str | None) -> float | None:
    """Parse ``Retry-After`` (delta-seconds or an HTTP date); None when absent or unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _short_body(response: requests.Response) -> str:
    try:
        text = response.text
    except Exception:  # undecodable body
        return ""
    return text[:500]


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    auth: TokenSource | None = None,
    ok: Callable[[requests.Response], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs,
) -> requests.Response:
    """Send a request under ``policy``; return the response once ``ok`` (default: status < 400).

    A response that is neither ok nor retryable (e.g. 404, 410, 400) is returned as is
    when ``ok`` accepts it, otherwise it raises :class:`RequestFailed` with the status and
    the start of the body (OData error bodies name the error code and message).
    """
    accept = ok or (lambda r: r.status_code < 400)
    what = describe(method, url)
    kwargs.setdefault("timeout", policy.timeout)
    renewed = False
    attempt = 0
    while True:
        attempt += 1
        headers = dict(kwargs.pop("headers", None) or {})
        if auth is not None:
            headers["Authorization"] = f"Bearer {auth.token()}"
        kwargs["headers"] = headers
        try:
            response = session.request(method, url, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            if attempt >= policy.max_attempts:
                raise RequestFailed(
                    f"{what} failed after {attempt} attempts: {type(exc).__name__}"
                ) from None
            wait = policy.backoff(attempt)
            log.warning("%s: %s (attempt %d), retrying in %.1f s", what, type(exc).__name__, attempt, wait)
            sleep(wait)
            continue

        status = response.status_code
        if accept(response):
            return response
        if status == 401 and auth is not None and not renewed:
            response.close()
            log.warning("%s: 401, renewing the access token once", what)
            auth.renew()
            renewed = True
            attempt -= 1  # a renewal is not a failed attempt
            continue
        if status in THROTTLE_STATUSES or status in RETRY_STATUSES:
            wait: float | None = None
            if status in THROTTLE_STATUSES:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None and wait > policy.retry_after_cap:
                    response.close()
                    raise ThrottledTooLong(
                        f"{what}: throttled ({status}) with Retry-After {wait:.0f} s, "
                        f"over the cap of {policy.retry_after_cap:.0f} s",
                        status=status,
                    )
                if wait is None:
                    wait = policy.default_throttle_wait if status == 429 else policy.backoff(attempt)
            else:
                wait = policy.backoff(attempt)
            body = _short_body(response)
            response.close()
            if attempt >= policy.max_attempts:
                raise RequestFailed(
                    f"{what} failed after {attempt} attempts: HTTP {status}", status=status, body=body
                )
            log.warning("%s: HTTP %d (attempt %d), retrying in %.1f s", what, status, attempt, wait)
            sleep(wait)
            continue
        body = _short_body(response)
        response.close()
        raise RequestFailed(f"{what}: HTTP {status}: {body}", status=status, body=body)
