"""Idempotent provisioning: warehouse registration, groups, collections, dashboards, graphs.

Everything is found by a stable key before anything is created (database by name, groups by
name, collections/cards/dashboards by the ``[bw:...]`` key in their description), and updated in
place when its template version changed, so a second run with nothing new sends no write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from include.metabase.client import ALL_USERS, MetabaseClient
from include.metabase.desired import (
    DATA_QUALITY_KEY,
    LEVEL_GROUPS,
    DesiredState,
    Store,
    WarehouseRegistration,
    collection_name,
    group_name,
    key_marker,
    parse_key,
    store_collection_key,
)
from include.metabase.permissions import ManagedIds, apply_graph, collection_patch, data_patch, managed_groups
from include.metabase.templates import (
    DashboardTemplate,
    card_body,
    card_key,
    collection_key,
    dashboard_body,
    instance_key,
    load_templates,
    parse_version,
)

log = logging.getLogger(__name__)

DATA_QUALITY_COLLECTION = "Data quality"
PROTECTED_PASSWORD = "**MetabasePass**"  # Metabase keeps the stored password when it receives this
_COMPARED_DETAILS = ("host", "port", "dbname", "user", "ssl", "schema-filters-type", "schema-filters-patterns")


@dataclass
class Outcome:
    database_id: int | None = None
    new_stores: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0


def find_database(client: MetabaseClient, name: str) -> dict | None:
    return next((d for d in client.databases() if d.get("name") == name), None)


def ensure_database(client: MetabaseClient, reg: WarehouseRegistration) -> tuple[int, bool]:
    """The warehouse's Metabase id, registering it (read-only role, schema filter) when missing."""
    found = find_database(client, reg.display_name)
    details = reg.details()
    if found is None:
        body = {"name": reg.display_name, "engine": "postgres", "details": details, "is_full_sync": True,
                "is_on_demand": False, "connection_source": "admin"}
        return int(client.create_database(body)["id"]), True
    have = found.get("details") or {}
    changed = [k for k in _COMPARED_DETAILS if str(have.get(k)) != str(details.get(k))]
    if changed:
        details.setdefault("password", PROTECTED_PASSWORD)
        client.update_database(int(found["id"]), {"details": details},
                               f"{reg.display_name}: {', '.join(changed)} changed")
    return int(found["id"]), False


def ensure_groups(client: MetabaseClient, stores: list[Store], groups: list[dict] | None = None) -> dict[str, int]:
    """Group ids by name, creating each store's viewers and explorers groups when missing."""
    by_name = {g["name"]: int(g["id"]) for g in (groups if groups is not None else client.groups())}
    for store in stores:
        for level in LEVEL_GROUPS:
            name = group_name(store.store_id, level)
            if name not in by_name:
                by_name[name] = int(client.create_group(name)["id"])
    return by_name


def _by_key(items: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        key = parse_key(item.get("description"))
        if key and not item.get("archived") and key not in out:
            out[key] = item
    return out


def ensure_collections(client: MetabaseClient, stores: list[Store], existing: dict[str, dict]) -> dict[str, int]:
    """Collection ids by key: one per store plus the administrators-only data-quality collection."""
    wanted = {store_collection_key(s.store_id): (collection_name(s.store_id, s.store_name),
                                                 f"Dashboards of store {s.store_id}.") for s in stores}
    wanted[DATA_QUALITY_KEY] = (DATA_QUALITY_COLLECTION, "Load audit and data quality (administrators only).")
    ids: dict[str, int] = {}
    for key, (name, text) in wanted.items():
        description = f"{text} Managed by Airflow. {key_marker(key)}"
        found = existing.get(key)
        if found is None:
            ids[key] = int(client.create_collection(name, description)["id"])
        else:
            ids[key] = int(found["id"])
            if found.get("name") != name:
                client.update_collection(ids[key], {"name": name}, f"{found.get('name')!r} -> {name!r}")
    return ids


def ensure_dashboard(client: MetabaseClient, template: DashboardTemplate, store: Store | None, database_id: int,
                     collection_id: int, cards: dict[str, dict], dashboards: dict[str, dict]) -> None:
    """Create or update one template instance (its cards, then the dashboard and its layout)."""
    store_id = store.store_id if store else None
    store_name = store.store_name if store else ""
    card_ids: dict[str, int] = {}
    for card in template.cards:
        body = card_body(template, card, store_id, store_name, database_id, collection_id)
        found = cards.get(card_key(template, card, store_id))
        if found is None:
            card_ids[card.key] = int(client.create_card(body)["id"])
        else:
            card_ids[card.key] = int(found["id"])
            if (parse_version(found.get("description")) != parse_version(body["description"])
                    or found.get("collection_id") != collection_id):
                client.update_card(card_ids[card.key], body, f"{body['name']} (template changed)")
    body = dashboard_body(template, store_id, store_name, collection_id, card_ids)
    dashcards = body.pop("dashcards")
    found = dashboards.get(instance_key(template, store_id))
    if found is None:
        created = client.create_dashboard({k: body[k] for k in ("name", "description", "collection_id",
                                                                 "parameters")})
        dash_id, existing_cards = int(created["id"]), {}
    elif (parse_version(found.get("description")) != parse_version(body["description"])
          or found.get("collection_id") != collection_id):
        dash_id = int(found["id"])
        current = client.dashboard(dash_id)
        existing_cards = {d.get("card_id"): d["id"] for d in current.get("dashcards", []) if d.get("card_id")}
    else:
        return
    next_new = -1
    for dashcard in dashcards:
        if dashcard["card_id"] in existing_cards:
            dashcard["id"] = existing_cards[dashcard["card_id"]]
        else:
            dashcard["id"] = next_new
            next_new -= 1
    what = "layout" if found is None else "template changed"
    client.update_dashboard(dash_id, {**body, "dashcards": dashcards}, f"{body['name']} ({what})")


def apply_permission_graphs(client: MetabaseClient, desired: DesiredState, database_id: int | None,
                            groups: list[dict] | None = None, collections: list[dict] | None = None) -> int:
    """Bring the data and collection graphs of the managed groups to the desired state."""
    groups = groups if groups is not None else client.groups()
    collections = collections if collections is not None else client.collections()
    managed = _by_key(collections)
    ids = ManagedIds(
        groups=managed_groups(groups),
        warehouse_db=database_id,
        collections={int(c["id"]): (k.split("/", 1)[1] if k.startswith("store/") else None)
                     for k, c in managed.items() if k.startswith("store/") or k == DATA_QUALITY_KEY},
        collection_names={int(c["id"]): c.get("name", "") for c in managed.values()},
    )

    def data(graph: dict, record: bool) -> dict:
        databases = sorted({int(d) for g in graph.get("groups", {}).values() for d in g}
                           | ({database_id} if database_id else set()))
        return data_patch(graph, ids, desired, databases, client.note if record else None)

    def coll(graph: dict, record: bool) -> dict:
        return collection_patch(graph, ids, desired, client.note if record else None)

    return apply_graph(client, "data", data) + apply_graph(client, "collection", coll)


def provision(client: MetabaseClient, desired: DesiredState, reg: WarehouseRegistration, *,
              stores: set[str] | None = None, templates: list[DashboardTemplate] | None = None) -> Outcome:
    """Provision the warehouse, the given stores (all active ones when None) and the admin dashboards."""
    templates = templates if templates is not None else load_templates()
    targets = [s for s in desired.active_stores if stores is None or s.store_id in stores]
    out = Outcome()
    out.database_id, db_new = ensure_database(client, reg)
    groups_before = client.groups()
    if ALL_USERS not in {g["name"] for g in groups_before}:
        raise RuntimeError("Metabase has no 'All Users' group: is this a Metabase?")
    group_ids = ensure_groups(client, targets, groups_before)
    existing_collections = _by_key(client.collections())
    coll_ids = ensure_collections(client, targets, existing_collections)
    out.new_stores = [s.store_id for s in targets if store_collection_key(s.store_id) not in existing_collections]
    cards = _by_key(client.cards())
    dashboards = _by_key(client.dashboards())
    for template in templates:
        if template.scope == "admin":
            ensure_dashboard(client, template, None, out.database_id, coll_ids[collection_key(template, None)],
                             cards, dashboards)
            continue
        for store in targets:
            ensure_dashboard(client, template, store, out.database_id,
                             coll_ids[collection_key(template, store.store_id)], cards, dashboards)
    known = {k: {**c, "description": key_marker(k)} for k, c in existing_collections.items()}
    names = {store_collection_key(s.store_id): collection_name(s.store_id, s.store_name) for s in targets}
    for key, cid in coll_ids.items():
        known[key] = {"id": cid, "name": names.get(key, DATA_QUALITY_COLLECTION), "description": key_marker(key)}
    apply_permission_graphs(client, desired, out.database_id,
                            groups=[{"id": i, "name": n} for n, i in group_ids.items()],
                            collections=list(known.values()))
    if db_new or out.new_stores:
        client.sync_schema(out.database_id, reg.display_name)
    return out
