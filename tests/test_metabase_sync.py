"""Permission sync and drift audit against the Metabase double: isolation matrix, revocation, drift, 409."""

from __future__ import annotations

import pytest

from include.metabase.desired import load_desired
from include.metabase.tasks import audit_permissions, format_latest_plans, provision_stores, sync_permissions
from tests.metabase_support import (
    STORES,
    assert_isolation,
    metabase_double,  # noqa: F401  (the `metabase` fixture)
    seed_access,
    warehouse_db,
)

pytestmark = pytest.mark.metabase


def test_sync_matches_grants_exactly_and_second_sync_writes_nothing(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    first = sync_permissions(warehouse)
    assert first["counts"]["create user"] == 18  # active users with grants (one inactive, one without)
    assert_isolation(metabase, warehouse)
    assert metabase.user_by_email("user18@beachwood.me") is None  # never granted: not created
    assert metabase.user_by_email("user19@beachwood.me")["is_superuser"]
    writes = metabase.writes
    again = sync_permissions(warehouse)
    assert again["writes"] == 0 and again["plan"] == [] and metabase.writes == writes
    # All Users: no query permission on any database, no root collection access
    graph = metabase._get_data_graph(params={}, body=None)["groups"]["1"]
    assert all(p["create-queries"] == "no" for p in graph.values())
    assert metabase._coll_level(1, "root") == "none"


def test_revocation_deactivates_and_a_new_grant_reactivates(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    sync_permissions(warehouse)
    email = "user01@beachwood.me"
    granted = load_desired(warehouse).user_grants(email)
    assert granted
    warehouse.execute("DELETE FROM access.user_store_access WHERE user_id = "
                      "(SELECT user_id FROM access.users WHERE email = %s)", (email,))
    warehouse.commit()
    result = sync_permissions(warehouse)
    assert result["counts"]["deactivate user"] == 1
    user = metabase.user_by_email(email)
    assert user is not None and not user["is_active"]  # deactivated, never deleted
    assert metabase.reachable(email, warehouse_db(metabase)) == (set(), set(), False)
    assert metabase.groups_of(user["id"]) == {1}  # only All Users left
    assert_isolation(metabase, warehouse)
    # granted again: reactivated with exactly the new grant
    warehouse.execute("INSERT INTO access.user_store_access (user_id, store_id, access_level) "
                      "SELECT user_id, %s, 'view' FROM access.users WHERE email = %s", (STORES[9], email))
    warehouse.commit()
    result = sync_permissions(warehouse)
    assert result["counts"]["reactivate user"] == 1
    assert metabase.reachable(email, warehouse_db(metabase))[0] == {STORES[9]}
    assert_isolation(metabase, warehouse)


def test_level_change_moves_the_user_between_groups(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    sync_permissions(warehouse)
    email = "user01@beachwood.me"
    warehouse.execute("UPDATE access.user_store_access SET access_level = CASE access_level WHEN 'view' "
                      "THEN 'explore' ELSE 'view' END WHERE user_id = "
                      "(SELECT user_id FROM access.users WHERE email = %s)", (email,))
    warehouse.commit()
    result = sync_permissions(warehouse)
    assert result["counts"] == {"remove membership": 1, "add membership": 1}
    assert_isolation(metabase, warehouse)


def test_audit_finds_and_repairs_out_of_band_grants(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    sync_permissions(warehouse)
    assert audit_permissions(warehouse)["drift"] is False
    # behind the sync's back: a membership in another store's group, a collection opened to a
    # store group, query access for All Users, and an administrator made by hand
    groups = {g["name"]: g["id"] for g in metabase.groups.values()}
    victim = metabase.user_by_email("user02@beachwood.me")
    other = next(s for s in STORES if s not in load_desired(warehouse).user_grants(victim["email"]))
    metabase._add_member(victim["id"], groups[f"Store {other} - viewers"])
    coll = next(c for c, v in metabase.collections.items() if f"[bw:store/{STORES[0]}]" in v["description"])
    metabase.coll_perms.setdefault(groups[f"Store {STORES[1]} - explorers"], {})[str(coll)] = "write"
    metabase.data_perms.setdefault(1, {})[warehouse_db(metabase)] = {
        "view-data": "unrestricted", "create-queries": "query-builder-and-native"}
    metabase._set_superuser(metabase.user_by_email("user03@beachwood.me")["id"], True)
    result = audit_permissions(warehouse)
    extra = "\n".join(result["findings"]["extra"])
    assert result["drift"] and len(result["findings"]["extra"]) == 4, extra
    assert f"user02@beachwood.me from Store {other} - viewers" in extra
    assert f"Store {STORES[1]} - explorers on 'Store {STORES[0]}" in extra
    assert "All Users on database" in extra and "query-builder-and-native -> no" in extra
    assert "revoke administrator: user03@beachwood.me" in extra
    assert result["repaired"] and result["remaining"] == []
    assert "Grants that should not exist" in result["text"]
    assert_isolation(metabase, warehouse)
    assert audit_permissions(warehouse)["drift"] is False


def test_graph_write_retries_on_a_stale_revision(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    from plugins.hooks.metabase import MetabaseHook

    class Interleaving(MetabaseHook):
        """Another admin writes the collection graph between our read and our write (twice)."""

        races = 2

        def request(self, method, path, *, params=None, json=None):
            if method == "PUT" and path == "/api/collection/graph" and self.races:
                self.races -= 1
                metabase.coll_revision += 1
            return super().request(method, path, params=params, json=json)

    from include.metabase.client import MetabaseClient
    from include.metabase.desired import warehouse_registration
    from include.metabase.sync import sync

    base = MetabaseHook()
    hook = Interleaving(base_url=base.base_url, api_key=base._api_key)
    seed_access(warehouse)
    metabase.coll_perms.setdefault(1, {})["root"] = "write"  # drift to repair
    before = metabase.requests["PUT /api/collection/graph"]
    client = MetabaseClient(hook)
    sync(client, load_desired(warehouse), warehouse_registration())
    assert metabase.requests["PUT /api/collection/graph"] - before == 3  # two 409s, then success
    assert metabase._coll_level(1, "root") == "none"
    assert client.counts["update collection permissions"] == 1


def test_dry_run_sends_no_writes(warehouse, metabase):
    seed_access(warehouse)
    plan = provision_stores(warehouse, dry_run=True)
    assert metabase.writes == 2  # setup and API key creation only
    assert plan["dry_run"] and plan["counts"]["create group"] == 2 * len(STORES)
    plan = sync_permissions(warehouse, dry_run=True)
    assert metabase.writes == 2 and plan["counts"]["create user"] == 18


def test_no_connection_means_a_dry_run_against_an_empty_metabase(warehouse, monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_METABASE_DEFAULT", raising=False)
    monkeypatch.setenv("BW_DATA_DIR", str(tmp_path))
    seed_access(warehouse)
    result = provision_stores(warehouse)
    assert result["note"].startswith("no Metabase connection: dry run")
    assert result["dry_run"] and result["counts"]["create collection"] == len(STORES) + 1
    assert result["counts"]["register database"] == 1
    assert (tmp_path / "metabase" / "plan-provision.json").exists()
    sync = sync_permissions(warehouse)
    assert sync["dry_run"] and sync["counts"]["create user"] == 18
    audit = audit_permissions(warehouse)
    assert audit["dry_run"] and audit["repaired"] is False
    summary = format_latest_plans()
    assert "Metabase provision (dry run): " in summary and "create group: Store " in summary
    assert "Metabase sync (dry run): " in summary
