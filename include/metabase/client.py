"""Typed calls to the Metabase API, with a plan of every write and a dry-run mode.

Every write goes through :meth:`MetabaseClient._write`, which records one human-readable
plan line. In dry-run mode the write is not sent: creations answer a stand-in object with a
negative id so that the callers can go on planning. Reads are always sent (to a real
Metabase, or to :class:`EmptyMetabase` when no connection is configured).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Protocol

log = logging.getLogger(__name__)

ALL_USERS = "All Users"
ADMINISTRATORS = "Administrators"


class Transport(Protocol):
    """What the client needs from the hook."""

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any: ...


class Conflict(RuntimeError):
    """A permission graph write was refused because its revision was stale (HTTP 409)."""


class EmptyMetabase:
    """A freshly set-up Metabase that nobody has touched: the target of a dry run without a connection."""

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        if method != "GET":
            raise RuntimeError("EmptyMetabase is read-only")
        if path == "/api/permissions/group":
            return [{"id": 1, "name": ALL_USERS, "member_count": 0},
                    {"id": 2, "name": ADMINISTRATORS, "member_count": 1}]
        if path in ("/api/permissions/graph", "/api/collection/graph"):
            return {"revision": 0, "groups": {}}
        if path == "/api/permissions/membership":
            return {}
        if path in ("/api/user/", "/api/database/"):
            return {"data": [], "total": 0}
        if path.startswith("/api/dashboard/") and path != "/api/dashboard/":
            return {"dashcards": [], "parameters": []}
        if path == "/api/user/current":
            return {}
        return []


class MetabaseClient:
    """The Metabase calls the provisioning, the sync and the audit use."""

    def __init__(self, transport: Transport, *, dry_run: bool = False) -> None:
        self.transport = transport
        self.dry_run = dry_run
        self.reads = 0
        self.writes = 0
        self.plan: list[str] = []
        self.counts: Counter[str] = Counter()
        self._fake_id = 0

    # -- plumbing ---------------------------------------------------------------------------------
    def _get(self, path: str, params: dict | None = None) -> Any:
        self.reads += 1
        return self.transport.request("GET", path, params=params)

    def _write(self, kind: str, description: str, method: str, path: str, *, params: dict | None = None,
               json: Any = None, fake: dict | None = None) -> Any:
        """Record the action, and send it unless this is a dry run."""
        self.plan.append(f"{kind}: {description}")
        self.counts[kind] += 1
        if self.dry_run:
            self._fake_id -= 1
            result = {"id": self._fake_id}
            result.update(fake or (json if isinstance(json, dict) else {}))
            result["id"] = self._fake_id
            return result
        self.writes += 1
        log.info("%s: %s", kind, description)
        return self.transport.request(method, path, params=params, json=json)

    def note(self, kind: str, description: str) -> None:
        """Record a change that a later batched write carries (e.g. one entry of a graph update)."""
        self.plan.append(f"{kind}: {description}")
        self.counts[kind] += 1

    def summary(self, *, limit: int = 200) -> dict:
        """The plan (truncated to ``limit`` lines), counts by action kind and request counts."""
        plan = self.plan[:limit]
        if len(self.plan) > limit:
            plan.append(f"... and {len(self.plan) - limit} more actions")
        return {"dry_run": self.dry_run, "plan": plan, "actions": len(self.plan), "counts": dict(self.counts),
                "reads": self.reads, "writes": self.writes}

    # -- users and groups -------------------------------------------------------------------------
    def users(self) -> list[dict]:
        """Every user, deactivated ones included."""
        body = self._get("/api/user/", {"include_deactivated": "true"})
        return body["data"] if isinstance(body, dict) else body

    def create_user(self, email: str, first_name: str | None, last_name: str | None) -> dict:
        body = {"email": email, "first_name": first_name or None, "last_name": last_name or None}
        return self._write("create user", email, "POST", "/api/user/", json=body,
                           fake={**body, "is_active": True, "is_superuser": False})

    def set_superuser(self, user_id: int, email: str, value: bool) -> Any:
        kind = "grant administrator" if value else "revoke administrator"
        return self._write(kind, email, "PUT", f"/api/user/{user_id}", json={"is_superuser": value})

    def deactivate_user(self, user_id: int, email: str) -> Any:
        return self._write("deactivate user", email, "DELETE", f"/api/user/{user_id}")

    def reactivate_user(self, user_id: int, email: str) -> Any:
        return self._write("reactivate user", email, "PUT", f"/api/user/{user_id}/reactivate")

    def groups(self) -> list[dict]:
        return self._get("/api/permissions/group")

    def create_group(self, name: str) -> dict:
        return self._write("create group", name, "POST", "/api/permissions/group", json={"name": name})

    def memberships(self) -> dict[int, list[dict]]:
        """``{user_id: [{membership_id, group_id, ...}]}``."""
        body = self._get("/api/permissions/membership") or {}
        return {int(k): v for k, v in body.items()}

    def add_membership(self, user_id: int, group_id: int, description: str) -> Any:
        body = {"user_id": user_id, "group_id": group_id, "is_group_manager": False}
        return self._write("add membership", description, "POST", "/api/permissions/membership", json=body)

    def remove_membership(self, membership_id: int, description: str) -> Any:
        return self._write("remove membership", description, "DELETE", f"/api/permissions/membership/{membership_id}")

    # -- permission graphs ------------------------------------------------------------------------
    def data_graph(self) -> dict:
        return self._get("/api/permissions/graph")

    def collection_graph(self) -> dict:
        return self._get("/api/collection/graph")

    def put_data_graph(self, revision: int, groups: dict, description: str) -> Any:
        return self._put_graph("update data permissions", "/api/permissions/graph", revision, groups, description)

    def put_collection_graph(self, revision: int, groups: dict, description: str) -> Any:
        return self._put_graph("update collection permissions", "/api/collection/graph", revision, groups,
                               description)

    def _put_graph(self, kind: str, path: str, revision: int, groups: dict, description: str) -> Any:
        from plugins.hooks.metabase import MetabaseError

        params = {"skip-graph": "true", "force": "false"}
        try:
            return self._write(kind, description, "PUT", path, params=params,
                               json={"revision": revision, "groups": groups}, fake={"revision": revision + 1})
        except MetabaseError as exc:
            if exc.status == 409:
                raise Conflict(f"{path}: revision {revision} is stale") from exc
            raise

    # -- databases --------------------------------------------------------------------------------
    def databases(self) -> list[dict]:
        params = {k: "false" for k in ("include_analytics", "saved", "include_editable_data_model",
                                       "exclude_uneditable_details", "include_only_uploadable")}
        body = self._get("/api/database/", params)
        return body["data"] if isinstance(body, dict) else body

    def create_database(self, body: dict) -> dict:
        return self._write("register database", body["name"], "POST", "/api/database/", json=body)

    def update_database(self, database_id: int, body: dict, description: str) -> Any:
        return self._write("update database", description, "PUT", f"/api/database/{database_id}", json=body)

    def sync_schema(self, database_id: int, name: str) -> Any:
        return self._write("sync schema", name, "POST", f"/api/database/{database_id}/sync_schema")

    def invalidate_cache(self, database_id: int, name: str) -> Any:
        return self._write("invalidate cache", name, "POST", "/api/cache/invalidate",
                           params={"database": str(database_id)})

    # -- collections, cards, dashboards -----------------------------------------------------------
    def collections(self) -> list[dict]:
        params = {"archived": "false", "exclude-other-user-collections": "false", "personal-only": "false"}
        return self._get("/api/collection/", params)

    def create_collection(self, name: str, description: str) -> dict:
        return self._write("create collection", name, "POST", "/api/collection/",
                           json={"name": name, "description": description})

    def update_collection(self, collection_id: int, body: dict, description: str) -> Any:
        return self._write("update collection", description, "PUT", f"/api/collection/{collection_id}",
                           json={"archived": False, **body})

    def cards(self) -> list[dict]:
        return self._get("/api/card/", {"f": "all"})

    def create_card(self, body: dict) -> dict:
        return self._write("create card", body["name"], "POST", "/api/card/", json=body)

    def update_card(self, card_id: int, body: dict, description: str) -> Any:
        return self._write("update card", description, "PUT", f"/api/card/{card_id}", json=body)

    def dashboards(self) -> list[dict]:
        return self._get("/api/dashboard/", {"f": "all"})

    def dashboard(self, dashboard_id: int) -> dict:
        return self._get(f"/api/dashboard/{dashboard_id}")

    def create_dashboard(self, body: dict) -> dict:
        return self._write("create dashboard", body["name"], "POST", "/api/dashboard/", json=body)

    def update_dashboard(self, dashboard_id: int, body: dict, description: str) -> Any:
        return self._write("update dashboard", description, "PUT", f"/api/dashboard/{dashboard_id}", json=body)

    # -- dashboard subscriptions (pulses) ---------------------------------------------------------
    def current_user(self) -> dict:
        """The user the requests act as (an API key's own user)."""
        return self._get("/api/user/current") or {}

    def pulses(self, *, archived: bool = False, dashboard_id: int | None = None) -> list[dict]:
        """Dashboard subscriptions (archived ones, or the others), of one dashboard when given."""
        params = {"archived": "true" if archived else "false", "creator_or_recipient": "false"}
        if dashboard_id is not None:
            params["dashboard_id"] = str(dashboard_id)
        return self._get("/api/pulse/", params) or []

    def create_pulse(self, body: dict, description: str) -> dict:
        return self._write("create subscription", description, "POST", "/api/pulse/", json=body)

    def update_pulse(self, pulse_id: int, body: dict, description: str) -> Any:
        return self._write("update subscription", description, "PUT", f"/api/pulse/{pulse_id}", json=body)
