"""Weekly dashboard subscriptions against the Metabase double: recipients follow the grants, settings, dry runs."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import pytest

from include.metabase.client import MetabaseClient
from include.metabase.desired import load_desired, warehouse_registration
from include.metabase.provision import provision
from include.metabase.subscriptions import SubscriptionSettings, subscription_settings, sync_subscriptions
from include.metabase.tasks import audit_permissions, provision_stores, sync_permissions
from include.metabase.templates import TEMPLATES_DIR, load_templates
from plugins.hooks.metabase import MetabaseError, MetabaseHook
from tests.metabase_support import (
    STORES,
    metabase_double,  # noqa: F401  (the `metabase` fixture)
    seed_access,
)

pytestmark = pytest.mark.metabase


def _dashboards(double, template: str = "store_overview") -> dict[str, int]:
    """Store id -> id of the store's dashboard made from ``template``."""
    out = {}
    for dash in double.dashboards.values():
        match = re.search(rf"\[bw:dash/{template}/(\d{{6}})\]", dash.get("description") or "")
        if match:
            out[match.group(1)] = dash["id"]
    return out


def _managers(conn) -> dict[str, set[str]]:
    return load_desired(conn).store_managers()


def _pulses(double, dashboard_id: int, *, archived: bool | None = None) -> list[dict]:
    return [p for p in double.pulses.values() if p["dashboard_id"] == dashboard_id
            and (archived is None or p["archived"] == archived)]


def _set_up(conn, double) -> dict[str, int]:
    seed_access(conn)
    provision_stores(conn)
    sync_permissions(conn)
    return _dashboards(double)


def _grant(conn, email: str, store: str, level: str | None) -> None:
    """Give (level) or take (None) one grant."""
    if level is None:
        conn.execute("DELETE FROM access.user_store_access WHERE store_id = %s AND user_id = "
                     "(SELECT user_id FROM access.users WHERE email = %s)", (store, email))
    else:
        conn.execute("INSERT INTO access.user_store_access (user_id, store_id, access_level) "
                     "SELECT user_id, %s, %s FROM access.users WHERE email = %s", (store, level, email))
    conn.commit()


def test_each_store_dashboard_is_emailed_weekly_to_exactly_its_managers(warehouse, metabase):
    dashboards = _set_up(warehouse, metabase)
    managers = _managers(warehouse)
    assert set(dashboards) == set(STORES) and set(managers) == set(STORES)
    admin = "user19@beachwood.me"  # an admin grant on every store, no view/explore grant
    for store, dash_id in dashboards.items():
        (pulse,) = _pulses(metabase, dash_id)
        assert f"[bw:sub/store_overview/{store}]" in pulse["name"]
        (channel,) = pulse["channels"]
        assert (channel["channel_type"], channel["enabled"], channel["schedule_type"], channel["schedule_day"],
                channel["schedule_hour"]) == ("email", True, "weekly", "mon", 7)
        assert metabase.subscribers(dash_id) == [managers[store]] and admin not in managers[store]
        assert pulse["skip_if_empty"] is True
        dashcards = metabase.dashboards[dash_id]["dashcards"]
        assert {c["dashboard_card_id"] for c in pulse["cards"]} == {d["id"] for d in dashcards}
        assert not any(c["include_csv"] or c["include_xls"] for c in pulse["cards"])
    assert all(not _pulses(metabase, d) for d in _dashboards(metabase, "store_labor").values())
    # the API lists them as Metabase does, filtered by dashboard
    listed = MetabaseHook().request("GET", "/api/pulse/", params={
        "archived": "false", "creator_or_recipient": "false", "dashboard_id": str(dashboards[STORES[0]])})
    assert [p["id"] for p in listed] == [p["id"] for p in _pulses(metabase, dashboards[STORES[0]])]
    writes = metabase.writes
    again = sync_permissions(warehouse)
    assert again["plan"] == [] and again["writes"] == 0 and metabase.writes == writes
    assert audit_permissions(warehouse)["drift"] is False


def test_revoked_manager_stops_receiving_and_a_new_grant_adds_one(warehouse, metabase):
    dashboards = _set_up(warehouse, metabase)
    district = "user05@beachwood.me"  # three stores
    stores = sorted(load_desired(warehouse).user_grants(district))
    _grant(warehouse, district, stores[0], None)
    result = sync_permissions(warehouse)
    assert result["counts"] == {"remove membership": 1, "remove subscription recipient": 1, "update subscription": 1}
    assert district not in metabase.subscribers(dashboards[stores[0]])[0]
    assert all(district in metabase.subscribers(dashboards[s])[0] for s in stores[1:])
    # a new grant: added to that store's subscription, nothing created
    new_store = next(s for s in STORES if s not in stores)
    pulses = len(metabase.pulses)
    _grant(warehouse, district, new_store, "view")
    result = sync_permissions(warehouse)
    assert result["counts"]["add subscription recipient"] == 1 and len(metabase.pulses) == pulses
    assert metabase.subscribers(dashboards[new_store]) == [_managers(warehouse)[new_store]]
    assert district in metabase.subscribers(dashboards[new_store])[0]


def test_a_manager_losing_every_grant_is_taken_off_before_deactivation(warehouse, metabase):
    dashboards = _set_up(warehouse, metabase)
    email = "user01@beachwood.me"
    (store,) = load_desired(warehouse).user_grants(email)
    _grant(warehouse, email, store, None)
    result = sync_permissions(warehouse)
    assert result["counts"]["deactivate user"] == 1 and result["counts"]["remove subscription recipient"] == 1
    user = metabase.user_by_email(email)
    # removed for real, not only hidden as Metabase hides deactivated recipients
    assert all(user["id"] not in ch["user_ids"] for p in metabase.pulses.values() for ch in p["channels"])
    # granted another store: reactivated and subscribed there only
    other = next(s for s in STORES if s != store)
    _grant(warehouse, email, other, "explore")
    sync_permissions(warehouse)
    assert email in metabase.subscribers(dashboards[other])[0]
    assert email not in metabase.subscribers(dashboards[store])[0]
    assert audit_permissions(warehouse)["drift"] is False


def test_a_store_without_managers_has_its_subscription_archived_then_restored(warehouse, metabase):
    dashboards = _set_up(warehouse, metabase)
    store = STORES[3]
    (pulse,) = _pulses(metabase, dashboards[store])
    warehouse.execute("DELETE FROM access.user_store_access WHERE store_id = %s AND access_level <> 'admin'",
                      (store,))
    warehouse.commit()
    result = sync_permissions(warehouse)
    assert result["counts"]["archive subscription"] == 1 and result["counts"]["update subscription"] == 1
    assert pulse["archived"] and not pulse["channels"][0]["enabled"] and pulse["channels"][0]["user_ids"] == []
    assert _pulses(metabase, dashboards[store], archived=False) == []
    assert sync_permissions(warehouse)["writes"] == 0
    _grant(warehouse, "user03@beachwood.me", store, "view")
    result = sync_permissions(warehouse)
    assert result["counts"]["restore subscription"] == 1 and "create subscription" not in result["counts"]
    assert _pulses(metabase, dashboards[store]) == [pulse] and not pulse["archived"]
    assert metabase.subscribers(dashboards[store]) == [{"user03@beachwood.me"}]


def test_schedule_follows_the_settings_and_off_archives_every_subscription(warehouse, metabase, monkeypatch):
    monkeypatch.setenv("BW_METABASE_SUBSCRIPTIONS", "off")
    seed_access(warehouse)
    provision_stores(warehouse)
    result = sync_permissions(warehouse)
    assert metabase.pulses == {} and not any("subscription" in k for k in result["counts"])  # off: none made
    monkeypatch.setenv("BW_METABASE_SUBSCRIPTIONS", "on")
    monkeypatch.setenv("BW_METABASE_SUBSCRIPTION_DAY", "thu")
    monkeypatch.setenv("BW_METABASE_SUBSCRIPTION_HOUR", "18")
    result = sync_permissions(warehouse)
    assert result["counts"] == {"create subscription": len(STORES)}
    assert {(c["schedule_day"], c["schedule_hour"]) for p in metabase.pulses.values() for c in p["channels"]} == {
        ("thu", 18)}
    ids = set(metabase.pulses)
    monkeypatch.setenv("BW_METABASE_SUBSCRIPTION_DAY", "friday")
    result = sync_permissions(warehouse)
    assert result["counts"] == {"change subscription schedule": len(STORES), "update subscription": len(STORES)}
    assert {c["schedule_day"] for p in metabase.pulses.values() for c in p["channels"]} == {"fri"}
    monkeypatch.setenv("BW_METABASE_SUBSCRIPTIONS", "off")
    result = sync_permissions(warehouse)
    assert result["counts"] == {"archive subscription": len(STORES), "update subscription": len(STORES)}
    assert all(p["archived"] and not p["channels"][0]["enabled"] for p in metabase.pulses.values())
    assert sync_permissions(warehouse)["writes"] == 0 and audit_permissions(warehouse)["drift"] is False
    monkeypatch.setenv("BW_METABASE_SUBSCRIPTIONS", "on")
    result = sync_permissions(warehouse)
    assert result["counts"] == {"restore subscription": len(STORES), "update subscription": len(STORES)}
    assert set(metabase.pulses) == ids and all(not p["archived"] for p in metabase.pulses.values())


@pytest.mark.parametrize("name, value", [("BW_METABASE_SUBSCRIPTIONS", "sometimes"),
                                         ("BW_METABASE_SUBSCRIPTION_DAY", "someday"),
                                         ("BW_METABASE_SUBSCRIPTION_HOUR", "24")])
def test_settings_refuse_values_metabase_cannot_schedule(monkeypatch, name, value):
    monkeypatch.delenv("BW_METABASE_SUBSCRIPTIONS", raising=False)
    monkeypatch.delenv("BW_METABASE_SUBSCRIPTION_DAY", raising=False)
    monkeypatch.delenv("BW_METABASE_SUBSCRIPTION_HOUR", raising=False)
    assert subscription_settings() == SubscriptionSettings(True, "mon", 7)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        subscription_settings()


def test_dry_run_plans_subscriptions_and_sends_no_writes(warehouse, metabase):
    seed_access(warehouse)
    provision_stores(warehouse)
    writes = metabase.writes
    plan = sync_permissions(warehouse, dry_run=True)
    assert metabase.writes == writes and metabase.pulses == {}
    assert plan["counts"]["create subscription"] == len(STORES)
    sync_permissions(warehouse)
    _grant(warehouse, "user02@beachwood.me", STORES[9], "view")
    writes = metabase.writes
    plan = sync_permissions(warehouse, dry_run=True)
    assert metabase.writes == writes
    assert f"add subscription recipient: user02@beachwood.me to Sales overview – Beachwood 912 ({STORES[9]})" in (
        plan["plan"])


def test_a_dashboard_update_renames_its_subscription_and_the_sync_still_owns_it(warehouse, metabase, tmp_path):
    dashboards = _set_up(warehouse, metabase)
    changed = tmp_path / "dashboards"
    shutil.copytree(TEMPLATES_DIR, changed)
    path = changed / "store_overview.json"
    template = json.loads(path.read_text())
    template["cards"][0]["size_y"] = 4
    path.write_text(json.dumps(template))
    provision(MetabaseClient(MetabaseHook()), load_desired(warehouse), warehouse_registration(),
              templates=load_templates(changed))
    # Metabase names a dashboard's subscriptions after the dashboard when the dashboard changes
    assert all("[bw:" not in p["name"] for p in metabase.pulses.values())
    pulses = set(metabase.pulses)
    result = sync_permissions(warehouse)
    assert result["counts"] == {"update subscription": len(STORES)} and set(metabase.pulses) == pulses
    assert all(f"[bw:sub/store_overview/{s}]" in _pulses(metabase, d)[0]["name"] for s, d in dashboards.items())
    assert sync_permissions(warehouse)["writes"] == 0


def test_hand_made_subscriptions_lose_recipients_without_access(warehouse, metabase):
    dashboards = _set_up(warehouse, metabase)
    store = STORES[2]
    desired = load_desired(warehouse)
    manager = sorted(desired.store_managers()[store])[0]
    outsider = next(e for e in sorted(desired.users)
                    if desired.user_grants(e) and store not in desired.user_grants(e) and not desired.is_admin(e))
    ids = {e: metabase.user_by_email(e)["id"] for e in (manager, outsider, "user19@beachwood.me")}
    # a person signed in (not the API key) subscribes a manager, an outsider, an admin and an outside address
    site_admin = MetabaseHook(base_url=metabase.url, username="admin@example.com", password="S3cure-Passw0rd!")
    dashcard = metabase.dashboards[dashboards[store]]["dashcards"][0]
    made = site_admin.request("POST", "/api/pulse/", json={
        "name": "My copy", "dashboard_id": dashboards[store], "skip_if_empty": False,
        "cards": [{"id": dashcard["card_id"], "include_csv": True, "include_xls": False,
                   "dashboard_card_id": dashcard["id"]}],
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 6,
                      "schedule_day": None, "schedule_frame": None,
                      "recipients": [{"id": i} for i in ids.values()] + [{"email": "someone@gmail.com"}]}]})
    result = audit_permissions(warehouse)
    extra = "\n".join(result["findings"]["extra"])
    assert result["drift"] and len(result["findings"]["extra"]) == 2, extra
    assert f"remove subscription recipient: {outsider} from Sales overview" in extra and "someone@gmail.com" in extra
    assert result["repaired"] and result["remaining"] == []
    pulse = metabase.pulses[made["id"]]
    assert pulse["channels"][0]["user_ids"] == sorted(ids[e] for e in (manager, "user19@beachwood.me"))
    assert pulse["channels"][0]["schedule_type"] == "daily" and pulse["name"] == "My copy"  # otherwise untouched
    assert metabase.subscribers(dashboards[store])[0] == _managers(warehouse)[store]  # ours: unchanged


def test_the_double_keeps_metabase_pulse_semantics(warehouse, metabase):
    dashboards = _set_up(warehouse, metabase)
    hook = MetabaseHook()
    dash_id = dashboards[STORES[0]]
    (pulse,) = _pulses(metabase, dash_id)
    channel = {"channel_type": "email", "enabled": True, "schedule_type": "weekly", "schedule_day": "mon",
               "schedule_hour": 7, "schedule_frame": None, "recipients": []}
    card = [{"id": pulse["cards"][0]["id"], "include_csv": False, "include_xls": False}]
    with pytest.raises(MetabaseError, match="OpenAPI"):  # `archived` and `skip_if_empty` are required
        hook.request("PUT", f"/api/pulse/{pulse['id']}", json={"channels": [channel]})
    assert len(metabase.violations) == 1
    metabase.violations.clear()
    with pytest.raises(MetabaseError, match="HTTP 400"):
        hook.request("POST", "/api/pulse/", json={"name": "x", "dashboard_id": dash_id, "cards": card,
                                                  "skip_if_empty": False,
                                                  "channels": [{**channel, "schedule_day": "someday"}]})
    with pytest.raises(MetabaseError, match="HTTP 404"):
        hook.request("POST", "/api/pulse/", json={"name": "x", "dashboard_id": dash_id, "cards": card,
                                                  "skip_if_empty": False,
                                                  "channels": [{**channel, "recipients": [{"id": 9999}]}]})
    with pytest.raises(MetabaseError, match="HTTP 400"):
        hook.request("POST", "/api/pulse/", json={"name": "x", "dashboard_id": dash_id, "cards": [],
                                                  "skip_if_empty": False, "channels": [channel]})
    # a deactivated recipient is kept but not listed, and comes back when reactivated
    uid = pulse["channels"][0]["user_ids"][0]
    metabase.users[uid]["is_active"] = False
    listed = hook.request("GET", f"/api/pulse/{pulse['id']}")["channels"][0]["recipients"]
    assert uid not in {r["id"] for r in listed} and uid in pulse["channels"][0]["user_ids"]
    metabase.users[uid]["is_active"] = True
    # archived subscriptions are listed apart
    hook.request("PUT", f"/api/pulse/{pulse['id']}", json={"archived": True, "skip_if_empty": True})
    assert not pulse["channels"][0]["enabled"]
    archived = hook.request("GET", "/api/pulse/", params={"archived": "true", "creator_or_recipient": "false"})
    assert [p["id"] for p in archived] == [pulse["id"]]
    assert pulse["creator_id"] == hook.request("GET", "/api/user/current")["id"]


def test_a_template_no_longer_emailed_has_its_subscriptions_archived(warehouse, metabase):
    _set_up(warehouse, metabase)
    templates = [replace(t, subscription=False) for t in load_templates()]
    client = MetabaseClient(MetabaseHook())
    sync_subscriptions(client, load_desired(warehouse), client.users(), templates=templates)
    assert client.counts == {"archive subscription": len(STORES), "update subscription": len(STORES)}
    assert all("(template not emailed)" in line for line in client.plan if line.startswith("archive"))
    assert all(p["archived"] for p in metabase.pulses.values())
