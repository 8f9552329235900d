"""Weekly dashboard subscriptions: each store's overview dashboard emailed to the store's managers.

Metabase's open-source edition sends dashboard subscriptions by email; its API calls them pulses
(a pulse with a ``dashboard_id``). Every store dashboard made from a template marked
``"subscription": true`` (``store_overview``) has one managed subscription:

* recipients: exactly the store's managers, the active users with a ``view`` or ``explore`` grant on
  the store, by Metabase user id. An ``admin`` grant alone subscribes nobody (administrators see every
  store and may subscribe themselves);
* one email channel, weekly on ``BW_METABASE_SUBSCRIPTION_DAY`` at ``BW_METABASE_SUBSCRIPTION_HOUR``
  (Metabase's report time zone), no attachments, not sent when the dashboard has no results;
* archived (which disables its channel) while the store has no manager, is inactive, or
  ``BW_METABASE_SUBSCRIPTIONS`` is ``off``; restored in place, same id, when that changes.

Identity: the name carries ``[bw:sub/<template>/<store>]``. Metabase renames a dashboard's
subscriptions after the dashboard whenever the dashboard is updated, so an unmarked subscription on a
managed dashboard created by the user the API key acts as is ours too; the next write marks it again.

Isolation: a subscription made by hand on a managed dashboard loses the recipients who could not open
the dashboard (users without a grant on the store who are not administrators, and addresses outside
Metabase). Only differences are written.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from include.metabase.client import MetabaseClient
from include.metabase.desired import DesiredState, key_marker, parse_key
from include.metabase.templates import DashboardTemplate, instance_key, load_templates

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {d: d for d in DAYS} | {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun"}
_SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class SubscriptionSettings:
    """Whether the managed subscriptions are sent, and when."""

    enabled: bool = True
    day: str = "mon"
    hour: int = 7

    @property
    def schedule(self) -> str:
        return f"weekly {self.day} {self.hour:02d}:00"


def subscription_settings() -> SubscriptionSettings:
    """From ``BW_METABASE_SUBSCRIPTIONS`` (``on``/``off``, default ``on``), ``BW_METABASE_SUBSCRIPTION_DAY``
    (``mon`` … ``sun``, default ``mon``) and ``BW_METABASE_SUBSCRIPTION_HOUR`` (0-23, default 7)."""
    env = os.environ.get
    switch = (env("BW_METABASE_SUBSCRIPTIONS") or "on").strip().lower()
    day = (env("BW_METABASE_SUBSCRIPTION_DAY") or "mon").strip().lower()
    hour = (env("BW_METABASE_SUBSCRIPTION_HOUR") or "7").strip()
    if switch not in _SWITCH:
        raise ValueError(f"BW_METABASE_SUBSCRIPTIONS must be 'on' or 'off', not {switch!r}")
    if day not in _DAY_NAMES:
        raise ValueError(f"BW_METABASE_SUBSCRIPTION_DAY must be one of {', '.join(DAYS)}, not {day!r}")
    if not hour.isdigit() or not 0 <= int(hour) <= 23:
        raise ValueError(f"BW_METABASE_SUBSCRIPTION_HOUR must be an hour from 0 to 23, not {hour!r}")
    return SubscriptionSettings(_SWITCH[switch], _DAY_NAMES[day], int(hour))


def subscription_key(template: DashboardTemplate, store_id: str) -> str:
    return f"sub/{template.key}/{store_id}"


@dataclass(frozen=True)
class ManagedDashboard:
    """A dashboard provisioning made: its template and store (None: the administrators' dashboard)."""

    id: int
    name: str
    template: DashboardTemplate
    store_id: str | None


def managed_dashboards(dashboards: list[dict], templates: list[DashboardTemplate]) -> dict[int, ManagedDashboard]:
    """Managed dashboards by id, recognised by the ``[bw:dash/...]`` key in their description."""
    by_key: dict[str, dict] = {}
    for dash in dashboards:
        key = parse_key(dash.get("description"))
        if key and not dash.get("archived"):
            by_key.setdefault(key, dash)
    out: dict[int, ManagedDashboard] = {}
    for template in templates:
        prefix = instance_key(template, None) + "/"
        for key, dash in by_key.items():
            if template.scope == "admin" and key == instance_key(template, None):
                store = None
            elif template.scope == "store" and key.startswith(prefix) and re.fullmatch(r"\d{6}", key[len(prefix):]):
                store = key[len(prefix):]
            else:
                continue
            out[int(dash["id"])] = ManagedDashboard(int(dash["id"]), dash.get("name") or key, template, store)
    return out


def sync_subscriptions(client: MetabaseClient, desired: DesiredState, users: Iterable[dict], *,
                       settings: SubscriptionSettings | None = None,
                       templates: list[DashboardTemplate] | None = None) -> None:
    """Create, update or archive the managed subscriptions; strip hand-made ones of recipients without access.

    ``users`` are Metabase's users as the permission sync leaves them (new accounts included).
    """
    settings = settings or subscription_settings()
    managed = managed_dashboards(client.dashboards(), templates if templates is not None else load_templates())
    if not managed:
        return
    accounts = {int(u["id"]): u for u in users if u.get("id") is not None}
    ids = {str(u.get("email") or "").lower(): uid for uid, u in accounts.items()}
    pulses = [p for p in client.pulses() + client.pulses(archived=True) if p.get("dashboard_id") in managed]
    ours, by_hand = _split(client, pulses, managed)
    managers = desired.store_managers()
    for dash_id, dash in sorted(managed.items()):
        if dash.store_id is None or not (dash.template.subscription or dash_id in ours):
            continue
        want = sorted(ids[e] for e in managers.get(dash.store_id, ()) if e in ids)
        store = desired.stores.get(dash.store_id)
        reason = ("template not emailed" if not dash.template.subscription else
                  "subscriptions off" if not settings.enabled else
                  "store inactive" if store is None or not store.active else "no managers")
        wanted = settings if dash.template.subscription else replace(settings, enabled=False)
        _reconcile(client, dash, ours.get(dash_id, []), want, wanted, accounts, reason)
    for pulse in by_hand:
        _restrict(client, pulse, managed[pulse["dashboard_id"]], desired, accounts)


def _split(client: MetabaseClient, pulses: list[dict],
           managed: dict[int, ManagedDashboard]) -> tuple[dict[int, list[dict]], list[dict]]:
    """Our subscriptions by dashboard id (by key, else by creator), and the ones made by hand."""
    ours: dict[int, list[dict]] = {}
    rest: list[dict] = []
    for pulse in sorted(pulses, key=lambda p: int(p["id"])):
        dash = managed[pulse["dashboard_id"]]
        key = parse_key(pulse.get("name"))
        if dash.store_id and key == subscription_key(dash.template, dash.store_id):
            ours.setdefault(dash.id, []).append(pulse)
        else:
            rest.append(pulse)
    unmarked = [p for p in rest
                if managed[p["dashboard_id"]].template.subscription and parse_key(p.get("name")) is None]
    if unmarked:
        me = client.current_user().get("id")
        for pulse in unmarked:
            if me is not None and pulse.get("creator_id") == me:
                ours.setdefault(pulse["dashboard_id"], []).append(pulse)
                rest.remove(pulse)
    return ours, rest


def _email_channel(settings: SubscriptionSettings, recipients: list[int], enabled: bool,
                   channel_id: int | None = None) -> dict:
    channel = {"channel_type": "email", "enabled": enabled, "schedule_type": "weekly", "schedule_day": settings.day,
               "schedule_hour": settings.hour, "schedule_frame": None, "details": {},
               "recipients": [{"id": uid} for uid in recipients]}
    if channel_id is not None:
        channel["id"] = channel_id
    return channel


def _who(uid: int, accounts: dict[int, dict]) -> str:
    return str(accounts[uid].get("email")) if uid in accounts else f"user {uid}"


def _schedule_text(channel: dict | None) -> str:
    if channel is None:
        return "no email channel"
    hour = channel.get("schedule_hour")
    parts = [str(channel.get("schedule_type")), channel.get("schedule_day") or "",
             f"{int(hour):02d}:00" if hour is not None else ""]
    return " ".join(p for p in parts if p)


def _reconcile(client: MetabaseClient, dash: ManagedDashboard, mine: list[dict], want: list[int],
               settings: SubscriptionSettings, accounts: dict[int, dict], reason: str) -> None:
    """Bring one store dashboard's managed subscription to the managers and the settings."""
    active = settings.enabled and bool(want)
    name = f"{dash.name} {key_marker(subscription_key(dash.template, str(dash.store_id)))}"
    mine = sorted(mine, key=lambda p: (bool(p.get("archived")), int(p["id"])))
    for duplicate in mine[1:]:
        if not duplicate.get("archived"):
            client.note("archive subscription", f"{dash.name} (a second managed subscription)")
            client.update_pulse(int(duplicate["id"]), {"archived": True, "skip_if_empty": True},
                                f"{dash.name} (duplicate archived)")
    if not mine:
        if active:
            _create(client, dash, name, want, settings, accounts)
        return
    pulse = mine[0]
    channels = pulse.get("channels") or []
    email = next((c for c in channels if c.get("channel_type") == "email"), None)
    recipients = (email or {}).get("recipients") or []
    have = {int(r["id"]) for r in recipients if r.get("id") is not None}
    changes: list[str] = []
    for uid in sorted(set(want) - have):
        client.note("add subscription recipient", f"{_who(uid, accounts)} to {dash.name}")
        changes.append(f"+{_who(uid, accounts)}")
    for uid in sorted(have - set(want)):
        client.note("remove subscription recipient", f"{_who(uid, accounts)} from {dash.name}")
        changes.append(f"-{_who(uid, accounts)}")
    for address in (r["email"] for r in recipients if r.get("id") is None and r.get("email")):
        client.note("remove subscription recipient", f"{address} (an address outside Metabase) from {dash.name}")
        changes.append(f"-{address}")
    if _schedule_text(email) != settings.schedule:
        client.note("change subscription schedule", f"{dash.name}: {_schedule_text(email)} -> {settings.schedule}")
        changes.append(settings.schedule)
    archived = bool(pulse.get("archived"))
    if archived and active:
        client.note("restore subscription", dash.name)
        changes.append("restored")
    elif not archived and not active:
        client.note("archive subscription", f"{dash.name} ({reason})")
        changes.append(f"archived: {reason}")
    tidy = (len(channels) == 1 and email is not None and bool(email.get("enabled")) == active
            and pulse.get("name") == name and pulse.get("skip_if_empty") is True)
    if not changes and tidy:
        return
    body = {"name": name, "archived": not active, "skip_if_empty": True,
            "channels": [_email_channel(settings, want, active, email.get("id") if email else None)]}
    client.update_pulse(int(pulse["id"]), body, f"{dash.name}: {', '.join(changes) or 'channel and name tidied'}")


def _create(client: MetabaseClient, dash: ManagedDashboard, name: str, want: list[int],
            settings: SubscriptionSettings, accounts: dict[int, dict]) -> None:
    dashcards = [d for d in client.dashboard(dash.id).get("dashcards", []) if d.get("card_id")]
    cards = [{"id": int(d["card_id"]), "include_csv": False, "include_xls": False, "dashboard_card_id": int(d["id"])}
             for d in sorted(dashcards, key=lambda d: (d.get("row", 0), d.get("col", 0)))]
    if not cards:
        log.warning("%s has no cards: no subscription until it has", dash.name)
        return
    body = {"name": name, "dashboard_id": dash.id, "cards": cards, "skip_if_empty": True, "parameters": [],
            "channels": [_email_channel(settings, want, True)]}
    client.create_pulse(body, f"{dash.name}, {settings.schedule}, to {', '.join(_who(u, accounts) for u in want)}")


def may_receive(uid: int, store_id: str | None, desired: DesiredState, accounts: dict[int, dict]) -> bool:
    """Whether a user may receive a managed dashboard: a grant on its store, or an administrator."""
    account = accounts.get(uid)
    if account is None:
        return False
    email = str(account.get("email") or "").lower()
    if email in desired.users:
        grants = desired.user_grants(email)
        return "admin" in grants.values() or (store_id is not None and store_id in grants)
    return bool(account.get("is_superuser"))


def _restrict(client: MetabaseClient, pulse: dict, dash: ManagedDashboard, desired: DesiredState,
              accounts: dict[int, dict]) -> None:
    """Remove from a hand-made subscription every recipient who could not open its dashboard."""
    removed: list[str] = []
    channels = []
    for channel in pulse.get("channels") or []:
        kept = []
        for r in channel.get("recipients") or []:
            if r.get("id") is not None and may_receive(int(r["id"]), dash.store_id, desired, accounts):
                kept.append({"id": int(r["id"])})
            else:
                removed.append(str(r.get("email") or f"user {r.get('id')}"))
        copy = {k: channel.get(k) for k in ("id", "channel_type", "enabled", "schedule_type", "schedule_hour",
                                            "schedule_day", "schedule_frame")}
        copy.update(details=channel.get("details") or {}, recipients=kept)
        if channel.get("channel_id") is not None:
            copy["channel_id"] = channel["channel_id"]
        channels.append(copy)
    if not removed:
        return
    for who in removed:
        client.note("remove subscription recipient",
                    f"{who} from {dash.name} (subscription {pulse['id']}, made by hand)")
    body = {"archived": bool(pulse.get("archived")), "skip_if_empty": bool(pulse.get("skip_if_empty")),
            "channels": channels}
    client.update_pulse(int(pulse["id"]), body, f"{pulse.get('name')}: {len(removed)} recipient(s) without access")
