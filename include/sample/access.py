"""The ``Access`` sheet: who may see which stores (store managers, district managers, admins)."""

from __future__ import annotations

from dataclasses import dataclass

from include.sample.labor import FIRST_NAMES, LAST_NAMES
from include.sample.manifest import BadRecord
from include.sample.rand import rng_for
from include.sample.stores import Store

HEADER = ("Email", "First Name", "Last Name", "Stores", "Access Level", "Active")
DOMAIN = "beachwood.me"
UNKNOWN_STORE = 4321  # not in the Stores sheet, not anywhere


@dataclass
class AccessSheet:
    rows: list[list[object]]  # data rows, header excluded
    users: int  # valid rows
    inactive: int  # valid rows with Active = no
    bad: list[BadRecord]


class _Names:
    """Unique (case-insensitive) first.last@beachwood.me addresses."""

    def __init__(self, seed: int) -> None:
        self.rng = rng_for(seed, "access-names")
        self.used: set[str] = set()

    def person(self) -> tuple[str, str, str]:
        first = FIRST_NAMES[int(self.rng.integers(len(FIRST_NAMES)))]
        last = LAST_NAMES[int(self.rng.integers(len(LAST_NAMES)))]
        local, n = f"{first}.{last}".lower(), 1
        while f"{local}@{DOMAIN}" in self.used:
            n += 1
            local = f"{first}.{last}{n}".lower()
        email = f"{local}@{DOMAIN}"
        self.used.add(email)
        return email, first, last


def _store_ref(store: Store, style: int) -> str:
    return store.store_id if style else str(store.number)


def build_access(seed: int, stores: list[Store], item: str) -> AccessSheet:
    """Access rows for ``stores`` with a few bad rows interspersed (row numbers are 1-based data rows)."""
    rng = rng_for(seed, "access")
    names = _Names(seed)
    valid: list[list[object]] = []
    inactive = 0
    for store in stores:
        email, first, last = names.person()
        active: object = "No" if not store.active else ("Yes" if rng.random() < 0.85 else str(rng.choice(["", "TRUE"])))
        valid.append([email, first, last, _store_ref(store, int(rng.integers(2))),
                      "view" if rng.random() < 0.8 else "View", active])
        if rng.random() < 0.3 and store.active:
            email, first, last = names.person()
            valid.append([email, first, last, _store_ref(store, int(rng.integers(2))), "view", "Yes"])
    for start in range(0, len(stores), 7):
        district = stores[start:start + 7]
        sep = ", " if rng.random() < 0.6 else ";"
        email, first, last = names.person()
        refs = sep.join(_store_ref(s, int(rng.integers(2))) for s in district)
        valid.append([email, first, last, refs, "explore" if rng.random() < 0.7 else "Explore", True])
    for _ in range(2):
        email, first, last = names.person()
        valid.append([email, first, last, "ALL", "admin", "Yes"])
    order = rng.permutation(len(valid) - 2).tolist()
    valid = [valid[i] for i in order] + valid[-2:]  # admins last, as someone would add them
    for i in rng.choice(len(valid) - 2, size=min(2, len(valid) - 2), replace=False).tolist():
        if valid[i][5] not in ("No",):
            valid[i][5] = "No" if i % 2 else False
    inactive = sum(1 for r in valid if r[5] in ("No", False))

    bad_rows: list[tuple[str, list[object], str]] = []
    for k in range(2):
        email, first, last = names.person()
        broken = email.replace("@", ".") if k == 0 else email.replace(".", " ", 1)
        bad_rows.append(("malformed_email", [broken, first, last, _store_ref(stores[k], k), "view", "Yes"],
                         f"email {broken!r}"))
        email, first, last = names.person()
        refs = f"{_store_ref(stores[-1 - k], k)}, {UNKNOWN_STORE + k}"
        bad_rows.append(("unknown_store", [email, first, last, refs, "view", "Yes"],
                         f"store {UNKNOWN_STORE + k} is not in the Stores sheet"))
        email, first, last = names.person()
        level = ("manager", "superuser")[k]
        bad_rows.append(("unknown_access_level", [email, first, last, _store_ref(stores[k], 1), level, "Yes"],
                         f"access level {level!r}"))
    rows = list(valid)
    spots = sorted(rng.choice(len(valid), size=len(bad_rows), replace=True).tolist())
    bad = []
    for offset, (spot, (kind, row, detail)) in enumerate(zip(spots, bad_rows, strict=True)):
        rows.insert(spot + offset, row)
        bad.append((spot + offset, kind, row, detail))
    records = [BadRecord("access", item, "Access", pos + 1, kind, detail, str(row[3]))
               for pos, kind, row, detail in bad]
    return AccessSheet(rows=rows, users=len(valid), inactive=inactive, bad=records)
