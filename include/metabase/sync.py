"""Permission sync: users, administrator flags, store-group memberships and both graphs.

Desired state comes from ``access.user_store_access``. A managed user (one in ``access.users``)
with no grant is taken out of the store groups and deactivated, never deleted; a grant given
again reactivates them. Metabase users we do not manage keep their account and flags, but lose
any store-group membership (nobody gets store data outside the grants). Only differences are
written: a sync with nothing to change sends no write.
"""

from __future__ import annotations

import logging

from include.metabase.client import MetabaseClient
from include.metabase.desired import DesiredState, WarehouseRegistration, parse_group_name
from include.metabase.provision import apply_permission_graphs, ensure_groups, find_database

log = logging.getLogger(__name__)


def sync_users(client: MetabaseClient, desired: DesiredState, groups: dict[str, int]) -> None:
    """Users, administrator flags and store-group memberships."""
    store_groups = {gid: name for name, gid in groups.items() if parse_group_name(name)}
    users = {u["email"].lower(): u for u in client.users() if u.get("email")}
    memberships = client.memberships()
    for email, user in sorted(users.items()):  # unmanaged users: no store-group membership
        if email in desired.users:
            continue
        for m in memberships.get(int(user["id"]), []):
            if m["group_id"] in store_groups:
                client.remove_membership(m["membership_id"], f"{email} from {store_groups[m['group_id']]} "
                                         "(not a managed user)")
    for email, person in sorted(desired.users.items()):
        grants = desired.user_grants(email)
        found = users.get(email)
        if not grants:
            if found is None:
                continue
            _set_memberships(client, email, int(found["id"]), set(), memberships, store_groups, groups)
            if found.get("is_superuser"):
                client.set_superuser(int(found["id"]), email, False)
            if found.get("is_active", True):
                client.deactivate_user(int(found["id"]), email + " (no store grant)")
            continue
        if found is None:
            found = client.create_user(person.email, person.first_name, person.last_name)
        elif not found.get("is_active", True):
            client.reactivate_user(int(found["id"]), email)
        user_id = int(found["id"])
        if bool(found.get("is_superuser")) != desired.is_admin(email):
            client.set_superuser(user_id, email, desired.is_admin(email))
        _set_memberships(client, email, user_id, desired.groups_of(email), memberships, store_groups, groups)


def _set_memberships(client: MetabaseClient, email: str, user_id: int, wanted: set[str],
                     memberships: dict[int, list[dict]], store_groups: dict[int, str], groups: dict[str, int]) -> None:
    current = {m["group_id"]: m["membership_id"] for m in memberships.get(user_id, []) if m["group_id"] in store_groups}
    for gid, membership_id in sorted(current.items()):
        if store_groups[gid] not in wanted:
            client.remove_membership(membership_id, f"{email} from {store_groups[gid]}")
    have = {store_groups[gid] for gid in current}
    for name in sorted(wanted - have):
        if name not in groups:
            raise RuntimeError(f"group {name!r} is missing: provision the store first")
        client.add_membership(user_id, groups[name], f"{email} to {name}")


def sync(client: MetabaseClient, desired: DesiredState, reg: WarehouseRegistration) -> None:
    """Users and memberships, then the permission graphs of every managed group."""
    database = find_database(client, reg.display_name)
    group_ids = ensure_groups(client, desired.active_stores)
    sync_users(client, desired, group_ids)
    apply_permission_graphs(client, desired, int(database["id"]) if database else None,
                            groups=[{"id": i, "name": n} for n, i in group_ids.items()])
