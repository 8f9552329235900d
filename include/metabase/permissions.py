"""Data and collection permission graphs: desired values, the difference, and its application.

Only the groups this project manages are compared: ``All Users`` and the store groups
(``Store NNNNNN - viewers|explorers``), on every database and on the root collection plus the
managed collections. Everything else (Administrators, groups made by hand on collections we do
not manage) is left alone. The write carries only the changed entries of the changed groups,
with the revision just read; a 409 (someone else wrote in between) re-reads and retries.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from include.metabase.client import ALL_USERS, Conflict, MetabaseClient
from include.metabase.desired import DesiredState, parse_group_name, schema_name

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5
NONE = "none"
NO = "no"


@dataclass(frozen=True)
class ManagedIds:
    """Metabase ids the graphs are about."""

    groups: dict[int, str]  # group id -> name (All Users and store groups)
    warehouse_db: int | None
    collections: dict[int, str | None]  # managed collection id -> store id (None: administrators only)
    collection_names: dict[int, str]


def managed_groups(groups: list[dict]) -> dict[int, str]:
    return {int(g["id"]): g["name"] for g in groups if g["name"] == ALL_USERS or parse_group_name(g["name"])}


def _normalise_queries(value: object) -> object:
    """``create-queries`` in a canonical form: 'no', a level, or {schema: level} without 'no' entries."""
    if value is None:
        return NO
    if isinstance(value, dict):
        kept = {str(k): (_normalise_queries(v) if isinstance(v, dict) else v) for k, v in value.items()}
        kept = {k: v for k, v in kept.items() if v not in (NO, {}, None)}
        return kept or NO
    return value


def desired_queries(group: str, desired: DesiredState, db_id: int, warehouse_db: int | None) -> object:
    parsed = parse_group_name(group)
    if parsed is None or db_id != warehouse_db:
        return NO
    store_id, level = parsed
    store = desired.stores.get(store_id)
    if level == "explore" and store is not None and store.active:
        return {schema_name(store_id): "query-builder"}
    return NO


def data_patch(graph: dict, ids: ManagedIds, desired: DesiredState, databases: list[int],
               note: Callable[[str, str], None] | None = None) -> dict:
    """The partial data graph that brings the managed groups to their desired query permissions."""
    patch: dict = {}
    actual_groups = graph.get("groups", {})
    for gid, gname in sorted(ids.groups.items()):
        actual_dbs = actual_groups.get(str(gid), actual_groups.get(gid, {})) or {}
        for db_id in databases:
            perms = actual_dbs.get(str(db_id), actual_dbs.get(db_id, {})) or {}
            have = _normalise_queries(perms.get("create-queries"))
            want = desired_queries(gname, desired, db_id, ids.warehouse_db)
            if have == want:
                continue
            patch.setdefault(str(gid), {})[str(db_id)] = {"view-data": "unrestricted", "create-queries": want}
            if note:
                kind = "revoke query access" if want == NO or _more(have, want) else "grant query access"
                note(kind, f"{gname} on database {db_id}: {_show(have)} -> {_show(want)}")
    return patch


def _more(have: object, want: object) -> bool:
    """True when ``have`` grants something ``want`` does not (an extra grant)."""
    if have == NO:
        return False
    if isinstance(have, str):
        return have != want
    if isinstance(want, str):
        return want == NO
    return any(want.get(k) != v for k, v in have.items())  # type: ignore[union-attr]


def _show(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_show(v)}" for k, v in sorted(value.items()))
    return str(value)


def desired_collection_access(group: str, store_of_collection: str | None, desired: DesiredState) -> str:
    parsed = parse_group_name(group)
    if parsed is None or store_of_collection is None:
        return NONE
    store_id, _level = parsed
    store = desired.stores.get(store_id)
    return "read" if store_id == store_of_collection and store is not None and store.active else NONE


def collection_patch(graph: dict, ids: ManagedIds, desired: DesiredState,
                     note: Callable[[str, str], None] | None = None) -> dict:
    """The partial collection graph for the managed groups on root and the managed collections."""
    patch: dict = {}
    actual_groups = graph.get("groups", {})
    targets: list[tuple[str, str | None, str]] = [("root", None, "root collection")]
    targets += [(str(cid), store, ids.collection_names.get(cid, str(cid))) for cid, store in ids.collections.items()]
    for gid, gname in sorted(ids.groups.items()):
        actual = actual_groups.get(str(gid), actual_groups.get(gid, {})) or {}
        for cid, store, cname in targets:
            have = actual.get(cid, NONE) or NONE
            want = desired_collection_access(gname, store, desired)
            if have == want:
                continue
            patch.setdefault(str(gid), {})[cid] = want
            if note:
                kind = "revoke collection access" if want == NONE or have == "write" else "grant collection access"
                note(kind, f"{gname} on {cname!r}: {have} -> {want}")
    return patch


def apply_graph(client: MetabaseClient, which: str, make_patch: Callable[[dict, bool], dict]) -> int:
    """Read the graph, compute the patch, write it with the revision read; retry on 409.

    ``make_patch(graph, record)`` records plan notes only when ``record`` is true (the final try).
    Returns the number of groups changed.
    """
    read = client.data_graph if which == "data" else client.collection_graph
    write = client.put_data_graph if which == "data" else client.put_collection_graph
    for attempt in range(1, MAX_CONFLICT_RETRIES + 1):
        graph = read()
        patch = make_patch(graph, False)
        if not patch:
            return 0
        try:
            plan_len = len(client.plan)
            make_patch(graph, True)  # plan notes for this attempt
            write(int(graph.get("revision", 0)), patch, f"{len(patch)} group(s)")
            return len(patch)
        except Conflict:
            del client.plan[plan_len:]
            client.counts = Counter(line.split(":", 1)[0] for line in client.plan)
            log.warning("%s permission graph changed while writing (attempt %d); re-reading", which, attempt)
    raise RuntimeError(f"{which} permission graph kept changing: gave up after {MAX_CONFLICT_RETRIES} attempts")
