"""Drift audit: compare Metabase's users, memberships, both graphs and subscriptions with the desired state.

The audit plans a permission sync against the live Metabase without writing (reads only);
each planned change is a finding, sorted into grants that should not exist (extra) and grants
that are missing (a subscription recipient who should not get a store's dashboard is an extra grant;
a manager who does not get it, a missing one). With ``repair`` the sync then runs for real and the
audit checks again.
"""

from __future__ import annotations

from include.metabase.client import MetabaseClient, Transport
from include.metabase.desired import DesiredState, WarehouseRegistration
from include.metabase.sync import sync

#: Plan kinds that remove access someone has but should not.
EXTRA_KINDS = frozenset({"remove membership", "revoke administrator", "revoke collection access",
                         "revoke query access", "deactivate user", "remove subscription recipient"})
#: Plan kinds that are no grant either way (when and whether a subscription is sent).
NEUTRAL_KINDS = frozenset({"change subscription schedule", "archive subscription"})


def find_drift(transport: Transport, desired: DesiredState, reg: WarehouseRegistration) -> dict:
    """``{"extra": [...], "missing": [...]}``: what a sync would change, read-only."""
    probe = MetabaseClient(transport, dry_run=True)
    sync(probe, desired, reg)
    extra = [line for line in probe.plan if line.split(":", 1)[0] in EXTRA_KINDS]
    missing = [line for line in probe.plan if line.split(":", 1)[0] not in EXTRA_KINDS | NEUTRAL_KINDS
               and not line.startswith("update ")]  # graph and subscription writes are summarised by notes
    return {"extra": extra, "missing": missing}


def audit(transport: Transport, desired: DesiredState, reg: WarehouseRegistration, *, repair: bool = True) -> dict:
    """Findings, the repair made (when asked) and what is left afterwards."""
    findings = find_drift(transport, desired, reg)
    result: dict = {**findings, "repaired": False, "remaining": None}
    if repair and (findings["extra"] or findings["missing"]):
        fixer = MetabaseClient(transport)
        sync(fixer, desired, reg)
        result["repaired"] = True
        result["repair_writes"] = fixer.writes
        after = find_drift(transport, desired, reg)
        result["remaining"] = after["extra"] + after["missing"]
    result["text"] = report_text(result)
    return result


def report_text(result: dict) -> str:
    """The findings as a plain-text message (for the alert email)."""
    extra, missing = result["extra"], result["missing"]
    if not extra and not missing:
        return "Metabase permission audit: no drift; Metabase matches the access table."
    lines = [f"Metabase permission audit: {len(extra)} grant(s) that should not exist, "
             f"{len(missing)} missing."]
    if extra:
        lines += ["", "Grants that should not exist:"] + [f"  - {x}" for x in extra]
    if missing:
        lines += ["", "Missing grants:"] + [f"  - {x}" for x in missing]
    if result.get("repaired"):
        left = result.get("remaining") or []
        lines += ["", "Repaired." if not left else f"Repair left {len(left)} difference(s): " + "; ".join(left)]
    return "\n".join(lines)
