"""Health checks: the warehouse (reachable, migrations current), Graph and Dataverse tokens, Metabase.

Each check returns a CheckResult; a check whose connection is not configured is skipped (and
logged), never failed. ``raise_if_failed`` turns failures into one error naming every failing
check, which the DAG's failure notifier then emails.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from include.config import DATAVERSE_CONN_ID, GRAPH_CONN_ID, METABASE_CONN_ID

log = logging.getLogger(__name__)

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


class HealthCheckFailed(RuntimeError):
    """At least one health check failed; the message names each one and why."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.status} ({self.detail})"


def _guarded(name: str, check: Callable[[], str]) -> CheckResult:
    """Run one check; its return value is the OK detail, any exception is the failure detail."""
    try:
        return CheckResult(name, OK, check())
    except Exception as exc:  # every failure becomes a named result, the others still run
        return CheckResult(name, FAILED, f"{type(exc).__name__}: {exc}")


def check_warehouse(url: str | None = None) -> CheckResult:
    """``SELECT 1`` on the warehouse and no pending or edited migrations (url: as ``connect``)."""

    def run() -> str:
        from include.warehouse.connection import connect
        from include.warehouse.migrations import discover

        with connect(url) as conn:
            conn.execute("SELECT 1").fetchone()
            exists = conn.execute("SELECT to_regclass('etl.schema_migrations') IS NOT NULL").fetchone()[0]
            rows = conn.execute("SELECT name, checksum FROM etl.schema_migrations").fetchall() if exists else []
        applied = dict(rows)
        files = {m.name: m.checksum for m in discover()}
        pending = sorted(set(files) - set(applied))
        edited = sorted(n for n, c in applied.items() if n in files and files[n] != c)
        if pending or edited:
            parts = []
            if pending:
                parts.append(f"{len(pending)} pending migrations ({', '.join(pending[:5])})")
            if edited:
                parts.append(f"migrations edited after they were applied ({', '.join(edited)})")
            raise RuntimeError("; ".join(parts))
        return f"reachable, {len(applied)} migrations applied"

    return _guarded("warehouse", run)


def check_metabase(base_url: str, *, timeout: float = 10.0) -> CheckResult:
    """Metabase's ``GET /api/health`` answers 200 with ``{"status": "ok"}``."""

    def run() -> str:
        import requests

        url = f"{base_url.rstrip('/')}/api/health"
        try:
            response = requests.get(url, timeout=timeout)
        except requests.RequestException as exc:
            raise RuntimeError(f"GET {url} failed: {type(exc).__name__}") from None
        status = None
        with contextlib.suppress(ValueError):
            body = response.json()
            status = body.get("status") if isinstance(body, dict) else None
        if response.status_code != 200 or status != "ok":
            raise RuntimeError(f"GET {url} answered {response.status_code} with status {status!r}")
        return f"GET {url}: ok"

    return _guarded("metabase", run)


def check_token(name: str, acquire: Callable[[], str]) -> CheckResult:
    """Acquire an access token (never logged); an empty token is a failure."""

    def run() -> str:
        if not acquire():
            raise RuntimeError("the authority returned an empty token")
        return "token acquired"

    return _guarded(name, run)


def connection_exists(conn_id: str) -> bool:
    """Whether the Airflow connection ``conn_id`` is configured (any secrets backend)."""
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception:  # AirflowNotFoundException and its Task SDK counterpart
        return False
    return True


def graph_token() -> str:
    """A Microsoft Graph app token through the Graph hook (``msgraph_default``)."""
    from plugins.hooks.graph import GraphFilesHook

    return GraphFilesHook(GRAPH_CONN_ID).auth.token()


def dataverse_token() -> str:
    """A Dataverse app token for the environment of ``dataverse_default`` (scope ``{environment}/.default``)."""
    from plugins.hooks.msal_token import AppCredentials, ClientCredentialsToken, extra_of, get_connection

    conn = get_connection(DATAVERSE_CONN_ID)
    extra = extra_of(conn)
    environment = str(extra.get("environment_url") or extra.get("resource") or conn.host or "").rstrip("/")
    if not environment:
        raise ValueError(f"connection {DATAVERSE_CONN_ID!r} names no environment URL (host or extra environment_url)")
    if "://" not in environment:
        environment = f"https://{environment}"
    return ClientCredentialsToken(AppCredentials.from_connection(conn), f"{environment}/.default").token()


def metabase_base_url() -> str:
    """Metabase's base URL from ``metabase_default`` (host, or scheme + host + port)."""
    from plugins.hooks.msal_token import extra_of, get_connection

    conn = get_connection(METABASE_CONN_ID)
    host = conn.host or "localhost"
    if "://" in host:
        return host
    scheme = str(extra_of(conn).get("scheme") or conn.schema or "https")
    return f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")


def run_checks(warehouse_url: str | None = None) -> list[CheckResult]:
    """Every check whose system is configured; the others are skipped with a log line."""
    results = [check_warehouse(warehouse_url)]
    optional: list[tuple[str, str, Callable[[], CheckResult]]] = [
        ("graph", GRAPH_CONN_ID, lambda: check_token("graph", graph_token)),
        ("dataverse", DATAVERSE_CONN_ID, lambda: check_token("dataverse", dataverse_token)),
        ("metabase", METABASE_CONN_ID, lambda: check_metabase(metabase_base_url())),
    ]
    for name, conn_id, check in optional:
        if connection_exists(conn_id):
            results.append(check())
        else:
            results.append(CheckResult(name, SKIPPED, f"no connection {conn_id!r}"))
    for result in results:
        (log.warning if result.status == FAILED else log.info)("health %s", result)
    return results


def raise_if_failed(results: list[CheckResult]) -> None:
    """Raise HealthCheckFailed naming every failed check and its reason."""
    failed = [r for r in results if r.status == FAILED]
    if failed:
        names = ", ".join(r.name for r in failed)
        details = "; ".join(f"{r.name}: {r.detail}" for r in failed)
        raise HealthCheckFailed(f"health check failed for {names} -- {details}")
