"""Provisioning against the Metabase double: registration, lock, idempotence, templates updated in place."""

from __future__ import annotations

import json
import shutil

import pytest

from include.metabase.client import MetabaseClient
from include.metabase.desired import load_desired, warehouse_registration
from include.metabase.provision import provision
from include.metabase.tasks import provision_stores, refresh_metabase
from include.metabase.templates import TEMPLATES_DIR, load_templates
from plugins.hooks.metabase import MetabaseError, MetabaseHook
from tests.metabase_support import (
    STORES,
    metabase_double,  # noqa: F401  (the `metabase` fixture)
    seed_access,
)

pytestmark = pytest.mark.metabase


def test_provisioning_registers_locks_and_builds_every_store(warehouse, metabase):
    seed_access(warehouse)
    result = provision_stores(warehouse)
    assert result["counts"]["register database"] == 1
    (db,) = metabase.databases.values()
    assert db["engine"] == "postgres" and db["details"]["user"] == "metabase_reader"
    assert db["details"]["schema-filters-type"] == "inclusion"
    assert db["details"]["schema-filters-patterns"] == "store_*,dq"
    # All Users: no query permission, no root collection access (new collections copied root's 'write')
    assert metabase._db_perms(1, db["id"])["create-queries"] == "no"
    assert all(metabase._coll_level(1, str(c)) == "none" for c in ["root", *metabase.collections])
    names = {g["name"] for g in metabase.groups.values()}
    assert {f"Store {s} - {k}" for s in STORES for k in ("viewers", "explorers")} <= names
    templates = load_templates()
    store_templates = [t for t in templates if t.scope == "store"]
    assert len(metabase.dashboards) == len(STORES) * len(store_templates) + 1
    assert len(metabase.cards) == sum(len(t.cards) * (len(STORES) if t.scope == "store" else 1) for t in templates)
    for dash in metabase.dashboards.values():
        assert dash["dashcards"] and {p["slug"] for p in dash["parameters"]} == {"start_date", "end_date"}
    # each store's cards name its own schema only, and live in its collection
    for card in metabase.cards.values():
        coll = metabase.collections[card["collection_id"]]
        sql = card["dataset_query"]["native"]["query"]
        if "[bw:store/" in coll["description"]:
            store = coll["description"].split("[bw:store/")[1][:6]
            assert f'"store_{store}".' in sql and sql.count('"store_') == sql.count(f'"store_{store}"')
        else:
            assert coll["name"] == "Data quality" and "dq." in sql
    # the data-quality collection: administrators only
    dq = next(c for c in metabase.collections.values() if c["name"] == "Data quality")
    assert all(metabase._coll_level(g, str(dq["id"])) == "none" for g in metabase.groups if g != 2)
    assert metabase.sync_schema_calls == [db["id"]]


def test_second_run_creates_nothing_and_writes_nothing(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    writes = metabase.writes
    again = provision_stores(warehouse)
    assert again["plan"] == [] and again["writes"] == 0 and metabase.writes == writes


def test_new_store_is_provisioned_alone_and_renamed_store_keeps_its_collection(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    collections = dict(metabase.collections)
    warehouse.execute("INSERT INTO core.stores (store_id, store_name) VALUES ('000999', 'New Town')")
    warehouse.execute("UPDATE core.stores SET store_name = 'Renamed' WHERE store_id = %s", (STORES[0],))
    warehouse.commit()
    result = provision_stores(warehouse)
    assert result["new_stores"] == ["000999"]
    assert result["counts"]["create collection"] == 1 and result["counts"]["update collection"] == 1
    renamed = next(c for c in metabase.collections.values() if f"[bw:store/{STORES[0]}]" in c["description"])
    assert renamed["id"] in collections and renamed["name"] == f"Store {STORES[0]} – Renamed"
    assert len(metabase.sync_schema_calls) == 2  # a new schema to discover


def test_changed_template_updates_cards_and_dashboards_in_place(warehouse, metabase, tmp_path):
    seed_access(warehouse)
    provision_stores(warehouse)
    cards = {k: dict(v) for k, v in metabase.cards.items()}
    dashboards = {k: [d["id"] for d in v["dashcards"]] for k, v in metabase.dashboards.items()}
    changed = tmp_path / "dashboards"
    shutil.copytree(TEMPLATES_DIR, changed)
    path = changed / "store_overview.json"
    template = json.loads(path.read_text())
    template["cards"][1]["sql"] = template["cards"][1]["sql"].replace("ORDER BY business_date", "ORDER BY 1")
    template["cards"][1]["size_y"] = 7
    path.write_text(json.dumps(template))
    client = MetabaseClient(MetabaseHook())
    provision(client, load_desired(warehouse), warehouse_registration(), templates=load_templates(changed))
    assert client.counts == {"update card": len(STORES), "update dashboard": len(STORES)}
    assert set(metabase.cards) == set(cards) and set(metabase.dashboards) == set(dashboards)
    for dash_id, dashcard_ids in dashboards.items():
        assert [d["id"] for d in metabase.dashboards[dash_id]["dashcards"]] == dashcard_ids  # same dashcards
    updated = [c for c in metabase.cards.values() if "ORDER BY 1" in c["dataset_query"]["native"]["query"]]
    assert len(updated) == len(STORES)
    assert any(d["size_y"] == 7 for dash in metabase.dashboards.values() for d in dash["dashcards"])


def test_refresh_syncs_the_schema_and_drops_the_cache(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    result = refresh_metabase(warehouse, domain="sales")
    db_id = next(iter(metabase.databases))
    assert result["counts"] == {"sync schema": 1, "invalidate cache": 1}
    assert metabase.cache_invalidations == [db_id] and metabase.sync_schema_calls[-1] == db_id


def test_hook_retries_server_errors_then_reports_metabase_message(metabase):
    hook = MetabaseHook(backoff=0.01)
    metabase.fail_next = [500, 503]
    assert hook.request("GET", "/api/permissions/group")[0]["name"] == "All Users"
    metabase.fail_next = [502] * 4
    with pytest.raises(MetabaseError, match="HTTP 502"):
        hook.request("GET", "/api/permissions/group")
    with pytest.raises(MetabaseError, match="already exists") as err:
        hook.request("POST", "/api/permissions/group", json={"name": "All Users"})
    assert err.value.status == 400
    metabase.fail_next = []


def test_hook_logs_in_with_a_password_and_refuses_a_bad_key(metabase):
    hook = MetabaseHook(base_url=metabase.url, username="admin@example.com", password="S3cure-Passw0rd!")
    assert hook.request("GET", "/api/permissions/group")
    with pytest.raises(MetabaseError, match="401"):
        MetabaseHook(base_url=metabase.url, api_key="mb_wrong").request("GET", "/api/permissions/group")
    assert MetabaseHook().test_connection()[0]


def test_requests_off_the_spec_are_refused_by_the_double(metabase):
    hook = MetabaseHook()
    with pytest.raises(MetabaseError, match="OpenAPI"):
        hook.request("GET", "/api/user")  # no trailing slash: not a route of the spec
    with pytest.raises(MetabaseError, match="OpenAPI"):
        hook.request("POST", "/api/permissions/membership", json={"user_id": 1})
    assert len(metabase.violations) == 2
    metabase.violations.clear()
