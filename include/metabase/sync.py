"""Permission sync: users, administrator flags, store-group memberships and both graphs.

Desired state comes from ``access.user_store_access``. A managed user (one in ``access.users``)
with no grant is taken out of the store groups and deactivated, never deleted; a grant given
again reactivates them. Metabase users we do not manage keep their account and flags, but lose
any store-group membership (nobody gets store data outside the grants). The weekly dashboard
subscriptions follow the grants too (``include/metabase/subscriptions.py``); users are deactivated
after that step, so a revoked manager is taken off the recipients while Metabase still lists them.
Only differences are written: a sync with nothing to change sends no write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from include.metabase.client import MetabaseClient
from include.metabase.desired import DesiredState, WarehouseRegistration, parse_group_name
from include.metabase.provision import apply_permission_graphs, ensure_groups, find_database
from include.metabase.subscriptions import SubscriptionSettings, sync_subscriptions

log = logging.getLogger(__name__)


@dataclass
class Accounts:
    """Metabase's users by lower-case email as the sync leaves them, and who is to be deactivated."""

    users: dict[str, dict] = field(default_factory=dict)
    to_deactivate: list[tuple[int, str]] = field(default_factory=list)


def sync_users(client: MetabaseClient, desired: DesiredState, groups: dict[str, int]) -> Accounts:
    """Users, administrator flags and store-group memberships; deactivations are left to the caller."""
    store_groups = {gid: name for name, gid in groups.items() if parse_group_name(name)}
    users = {u["email"].lower(): dict(u) for u in client.users() if u.get("email")}
    out = Accounts(users)
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
                found["is_superuser"] = False
            if found.get("is_active", True):
                out.to_deactivate.append((int(found["id"]), email))
            continue
        if found is None:
            found = users[email] = dict(client.create_user(person.email, person.first_name, person.last_name))
        elif not found.get("is_active", True):
            client.reactivate_user(int(found["id"]), email)
            found["is_active"] = True
        user_id = int(found["id"])
        if bool(found.get("is_superuser")) != desired.is_admin(email):
            client.set_superuser(user_id, email, desired.is_admin(email))
            found["is_superuser"] = desired.is_admin(email)
        _set_memberships(client, email, user_id, desired.groups_of(email), memberships, store_groups, groups)
    return out


def deactivate_users(client: MetabaseClient, accounts: Accounts) -> None:
    """Deactivate (never delete) the managed users left without a grant."""
    for user_id, email in accounts.to_deactivate:
        client.deactivate_user(user_id, email + " (no store grant)")
        accounts.users[email]["is_active"] = False


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


def sync(client: MetabaseClient, desired: DesiredState, reg: WarehouseRegistration, *,
         subscriptions: SubscriptionSettings | None = None) -> None:
    """Users and memberships, dashboard subscriptions, deactivations, then the graphs of every managed group."""
    database = find_database(client, reg.display_name)
    group_ids = ensure_groups(client, desired.active_stores)
    accounts = sync_users(client, desired, group_ids)
    sync_subscriptions(client, desired, accounts.users.values(), settings=subscriptions)
    deactivate_users(client, accounts)
    apply_permission_graphs(client, desired, int(database["id"]) if database else None,
                            groups=[{"id": i, "name": n} for n, i in group_ids.items()])
