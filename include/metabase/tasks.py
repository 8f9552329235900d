"""What the DAGs call: provisioning, refresh, permission sync (with the weekly subscriptions) and audit.

``dry_run=None`` means: dry run when no ``metabase_default`` connection is configured, planned
against an empty Metabase (everything to create). Each call returns a JSON-serialisable summary
(``plan``, counts by action kind, request counts) and writes the plan to
``<data_dir>/metabase/plan-<task>.json``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg

from include.config import METABASE_CONN_ID, settings
from include.metabase.client import EmptyMetabase, MetabaseClient, Transport

log = logging.getLogger(__name__)


def _transport(dry_run: bool | None) -> tuple[Transport, bool]:
    """The hook for ``metabase_default``, or an empty Metabase (and a forced dry run) without one."""
    try:
        from plugins.hooks.metabase import MetabaseHook

        return MetabaseHook(METABASE_CONN_ID), bool(dry_run)
    except Exception as exc:
        if type(exc).__name__ != "AirflowNotFoundException":
            raise
        if dry_run is False:
            raise RuntimeError(f"no Airflow connection {METABASE_CONN_ID!r}: cannot write to Metabase") from exc
        log.warning("no Metabase connection: dry run against an empty Metabase (everything to create)")
        return EmptyMetabase(), True


def _finish(task: str, client: MetabaseClient, extra: dict[str, Any] | None = None) -> dict:
    summary = {"task": task, **client.summary(), **(extra or {})}
    if isinstance(client.transport, EmptyMetabase):
        summary["note"] = "no Metabase connection: dry run against an empty Metabase"
    out_dir = settings().data_dir / "metabase"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"plan-{task}.json"
    path.write_text(json.dumps({**summary, "plan": client.plan}, indent=2, default=str), encoding="utf-8")
    summary["plan_file"] = str(path)
    verb = "would make" if client.dry_run else "made"
    log.info("Metabase %s: %s %d change(s) %s", task, verb, len(client.plan), dict(client.counts))
    for line in summary["plan"]:
        log.info("  %s", line)
    return summary


def provision_stores(conn: psycopg.Connection, *, stores: set[str] | None = None,
                     dry_run: bool | None = None) -> dict:
    """Register the warehouse, lock All Users, and create or update groups, collections and dashboards."""
    from include.metabase.desired import load_desired, warehouse_registration
    from include.metabase.provision import provision

    transport, dry = _transport(dry_run)
    client = MetabaseClient(transport, dry_run=dry)
    out = provision(client, load_desired(conn), warehouse_registration(), stores=stores)
    return _finish("provision", client, {"new_stores": out.new_stores, "database_id": out.database_id})


def refresh_metabase(conn: psycopg.Connection, *, domain: str, dry_run: bool | None = None) -> dict:
    """After a load: re-sync the warehouse schema in Metabase and drop its cached results."""
    from include.metabase.desired import warehouse_registration
    from include.metabase.provision import find_database
    from plugins.hooks.metabase import MetabaseError

    transport, dry = _transport(dry_run)
    client = MetabaseClient(transport, dry_run=dry)
    reg = warehouse_registration()
    database = find_database(client, reg.display_name)
    extra: dict[str, Any] = {"domain": domain}
    if database is None:
        extra["note"] = f"database {reg.display_name!r} is not registered yet: run the stores DAG first"
    else:
        client.sync_schema(int(database["id"]), reg.display_name)
        try:
            client.invalidate_cache(int(database["id"]), reg.display_name)
        except MetabaseError as exc:  # caching API absent or restricted on this edition
            extra["cache"] = f"not invalidated: {exc}"
    return _finish(f"refresh-{domain}", client, extra)


def sync_permissions(conn: psycopg.Connection, *, dry_run: bool | None = None) -> dict:
    """Users (created, deactivated, reactivated), memberships, weekly dashboard subscriptions (recipients
    follow the grants; ``BW_METABASE_SUBSCRIPTION*`` settings) and both permission graphs."""
    from include.metabase.desired import load_desired, warehouse_registration
    from include.metabase.sync import sync

    transport, dry = _transport(dry_run)
    client = MetabaseClient(transport, dry_run=dry)
    sync(client, load_desired(conn), warehouse_registration())
    return _finish("sync", client)


def audit_permissions(conn: psycopg.Connection, *, repair: bool = True) -> dict:
    """Drift between Metabase and the grants: extra and missing grants, repaired when asked.

    Returns ``findings`` (``extra``, ``missing``), ``text`` (for the alert email) and, after a
    repair, what is ``remaining``. Without a connection it reports against an empty Metabase.
    """
    from include.metabase.audit import audit
    from include.metabase.desired import load_desired, warehouse_registration

    transport, dry = _transport(None)
    result = audit(transport, load_desired(conn), warehouse_registration(), repair=repair and not dry)
    client = MetabaseClient(transport, dry_run=True)
    client.plan = result["extra"] + result["missing"]
    for line in client.plan:
        client.counts[line.split(":", 1)[0]] += 1
    summary = _finish("audit", client, {"findings": {"extra": result["extra"], "missing": result["missing"]},
                                        "repaired": result["repaired"], "remaining": result["remaining"],
                                        "text": result["text"], "drift": bool(result["extra"] or result["missing"])})
    summary["dry_run"] = dry
    return summary


def format_latest_plans(limit: int = 15) -> str:
    """The latest plan of each Metabase task (from ``<data_dir>/metabase/plan-*.json``), for a run summary."""
    out_dir = settings().data_dir / "metabase"
    lines: list[str] = []
    for path in sorted(out_dir.glob("plan-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        mode = "dry run" if data.get("dry_run") else "applied"
        counts = ", ".join(f"{k} {v}" for k, v in sorted(data.get("counts", {}).items())) or "nothing to change"
        lines.append(f"Metabase {data.get('task', path.stem)} ({mode}): {counts}")
        if data.get("note"):
            lines.append(f"  ({data['note']})")
        plan = data.get("plan", [])
        lines += [f"  {line}" for line in plan[:limit]]
        if len(plan) > limit:
            lines.append(f"  ... and {len(plan) - limit} more (see {path})")
    return "\n".join(lines) if lines else "Metabase: no plan written yet"
