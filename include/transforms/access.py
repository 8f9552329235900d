"""Store access for the reporting layer: the ``Access`` sheet or Dataverse ``crf63_storeaccesses``.

Each row is one user: email (unique, case-insensitively), names, the stores they may see
(``,``/``;`` separated; ``ALL`` = every known store), an access level and an active flag.
A row naming a store that is not known is rejected whole: it grants nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.transforms.common import (
    clean_text,
    ensure_source_row,
    is_missing,
    make_rejects,
    normalise_store_id,
    raw_dicts,
    records_frame,
    store_id_problem,
)
from include.transforms.sheets import read_sheet, require_columns

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("Email", "First Name", "Last Name", "Stores", "Access Level", "Active")
USER_COLUMNS = ("email", "first_name", "last_name", "active")
GRANT_COLUMNS = ("email", "store_id", "access_level")
ACCESS_LEVELS = ("view", "explore", "admin")

#: Dataverse column -> sheet column.
DATAVERSE_COLUMNS = {
    "crf63_email": "Email",
    "crf63_firstname": "First Name",
    "crf63_lastname": "Last Name",
    "crf63_stores": "Stores",
    "crf63_accesslevel": "Access Level",
    "crf63_active": "Active",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_ACTIVE = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


@dataclass
class AccessTransformed:
    """Users and their grants, and the rejected rows; ``rows_read == len(users) + len(rejects)``."""

    users: pd.DataFrame
    grants: pd.DataFrame
    rejects: pd.DataFrame

    @property
    def rows_read(self) -> int:
        return len(self.users) + len(self.rejects)


def read_access_sheet(path: Path, sheet: str = "Access") -> pd.DataFrame:
    """The raw rows of the Access sheet (header on the first row), with ``source_row``."""
    return read_sheet(path, sheet)


def read_access_records(records: pd.DataFrame) -> pd.DataFrame:
    """Dataverse ``crf63_storeaccesses`` records in the Access sheet's shape (``source_row`` kept)."""
    import pandas as pd

    records = ensure_source_row(records)
    frame = pd.DataFrame(
        {
            sheet_column: (records[column].astype(object) if column in records.columns
                           else pd.Series([None] * len(records), dtype=object))
            for column, sheet_column in DATAVERSE_COLUMNS.items()
        }
    )
    frame["source_row"] = records["source_row"].to_numpy()
    return frame


def parse_active(value: Any) -> bool | None:
    """``Yes``/``No``, ``TRUE``/``FALSE``, ``1``/``0`` or a boolean; empty = True; None if unrecognised."""
    if is_missing(value):
        return True
    if isinstance(value, bool):
        return value
    return _ACTIVE.get((clean_text(value) or "").lower())


def _store_tokens(value: Any) -> list[Any]:
    """The store entries of a ``Stores`` cell (a lone Excel number stays a number)."""
    if is_missing(value):
        return []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return [token.strip() for token in re.split(r"[,;]", str(value)) if token.strip()]


def _access_row(row: dict[str, Any], known: set[str]) -> tuple[dict[str, Any] | None, list[str], str | None]:
    """(user, granted store ids, None) or (None, [], reason)."""
    raw_email = clean_text(row["Email"])
    email = raw_email.lower() if raw_email else None
    if email is None or not _EMAIL.match(email):
        return None, [], f"invalid email: '{raw_email or ''}' is not an email address"
    level = (clean_text(row["Access Level"]) or "").lower()
    if level not in ACCESS_LEVELS:
        shown = clean_text(row["Access Level"]) or ""
        return None, [], f"unknown access level: '{shown}' is not view, explore or admin"
    active = parse_active(row["Active"])
    if active is None:
        return None, [], f"invalid active flag: '{clean_text(row['Active'])}' is not Yes or No"
    stores: set[str] = set()
    for token in _store_tokens(row["Stores"]):
        if isinstance(token, str) and token.upper() == "ALL":
            stores |= known
            continue
        store_id = normalise_store_id(token)
        if store_id is None:
            return None, [], store_id_problem(token) or f"invalid store number: '{token}' is not 1-6 digits"
        if store_id not in known:
            return None, [], f"unknown store: {store_id} is not in the store list, so the row grants nothing"
        stores.add(store_id)
    user = {
        "email": email,
        "first_name": clean_text(row["First Name"]),
        "last_name": clean_text(row["Last Name"]),
        "active": active,
        "access_level": level,
    }
    return user, sorted(stores), None


def transform_access(raw: pd.DataFrame, known_stores: set[str]) -> AccessTransformed:
    """Users (email lower-cased) and their store grants; the first row of a repeated email wins.

    ``known_stores`` are store ids (any accepted form); ``ALL`` expands to all of them.
    Empty ``Active`` means active; an empty ``Stores`` cell gives a user with no grants.
    """
    import pandas as pd

    require_columns(raw, COLUMNS, "the access list")
    raw = ensure_source_row(raw)
    known = {s for s in (normalise_store_id(v) for v in known_stores) if s is not None}
    users: list[dict[str, Any]] = []
    grants: list[tuple[str, str, str]] = []
    first_row: dict[str, int] = {}
    reject_index: list[int] = []
    reasons: list[str] = []
    for index, row in enumerate(raw.to_dict("records")):
        user, stores, reason = _access_row(row, known)
        if user is not None and user["email"] in first_row:
            user, reason = None, f"duplicate email: '{user['email']}' is already on row {first_row[user['email']]}"
        if user is None:
            reject_index.append(index)
            reasons.append(reason or "invalid row")
            continue
        first_row[user["email"]] = int(row["source_row"])
        level = user.pop("access_level")
        users.append(user)
        grants.extend((user["email"], store_id, level) for store_id in stores)
    rejected = raw.iloc[reject_index]
    rejects = make_rejects(rejected["source_row"].tolist(), raw_dicts(rejected), reasons)
    user_frame = records_frame(users, USER_COLUMNS).astype({"active": bool})
    grant_frame = pd.DataFrame(grants, columns=list(GRANT_COLUMNS))
    return AccessTransformed(user_frame, grant_frame, rejects)
