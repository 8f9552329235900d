"""Scale benchmark: provisioning and permission sync for 500 stores and 300 users against the Metabase double.

The permission sync includes the weekly dashboard subscriptions (one per store with managers).

Prints wall time and API calls (reads, writes) for the first run and for a run with nothing to change,
which must make zero writes. Request validation against the OpenAPI description is off by default
(``--validate`` turns it on; it costs about 1.5 ms a request).

    .venv/bin/python -m bench.bench_metabase_sync [--stores 500] [--users 300] [--validate]
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time

from include.metabase.client import MetabaseClient
from include.metabase.desired import DesiredState, Store, User, WarehouseRegistration
from include.metabase.provision import provision
from include.metabase.sync import sync
from plugins.hooks.metabase import MetabaseHook
from tests.doubles.metabase import MetabaseDouble


def build_desired(stores: int, users: int, seed: int = 7) -> DesiredState:
    """Stores, store managers (1 store), district managers (5-12 stores) and a few administrators."""
    rng = random.Random(seed)
    state = DesiredState()
    ids = [f"{100 + i * 3:06d}" for i in range(stores)]
    for sid in ids:
        state.stores[sid] = Store(sid, f"Store {sid}")
    for n in range(users):
        email = f"user{n:04d}@beachwood.me"
        state.users[email] = User(n + 1, email, "First", f"Last{n}", active=n % 50 != 49)
        if n % 100 == 0:
            state.grants[email] = {sid: "admin" for sid in ids}
        elif n % 10 == 0:
            state.grants[email] = {sid: rng.choice(("view", "explore")) for sid in rng.sample(ids, rng.randint(5, 12))}
        else:
            state.grants[email] = {rng.choice(ids): rng.choice(("view", "explore"))}
    return state


def _run(label: str, hook: MetabaseHook, step, double: MetabaseDouble) -> dict:
    client = MetabaseClient(hook)
    writes_before, reads_before = double.writes, double.reads
    started = time.perf_counter()
    step(client)
    seconds = time.perf_counter() - started
    row = {"run": label, "seconds": round(seconds, 2), "reads": double.reads - reads_before,
           "writes": double.writes - writes_before, "actions": len(client.plan)}
    print(f"{label:<32} {row['seconds']:>8.2f} s {row['reads']:>7} reads {row['writes']:>7} writes")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--validate", action="store_true", help="validate every request against the OpenAPI spec")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    desired = build_desired(args.stores, args.users)
    reg = WarehouseRegistration("Beachwood warehouse", "postgres", 5432, "warehouse", "metabase_reader", "x")
    print(f"{args.stores} stores, {args.users} users, validation {'on' if args.validate else 'off'}")
    with MetabaseDouble(validate=args.validate) as double:
        hook = MetabaseHook(base_url=double.url, api_key=double.bootstrap())
        rows = [
            _run("provision (first)", hook, lambda c: provision(c, desired, reg), double),
            _run("permission sync (first)", hook, lambda c: sync(c, desired, reg), double),
            _run("provision (no change)", hook, lambda c: provision(c, desired, reg), double),
            _run("permission sync (no change)", hook, lambda c: sync(c, desired, reg), double),
        ]
        recipients = sum(len(c["user_ids"]) for p in double.pulses.values() for c in p["channels"])
        print(f"{len(double.pulses)} weekly subscriptions, {recipients} recipients")
        if double.violations:
            print("requests off the spec:", double.violations[:5])
            return 1
    bad = [r["run"] for r in rows if "no change" in r["run"] and r["writes"]]
    if bad:
        print("FAILED: writes on a no-change run:", bad)
        return 1
    print("no-change runs made zero writes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
