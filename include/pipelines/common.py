"""What every pipeline step shares: the run it belongs to, its work folder, the store allowlist."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from include.config import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """The DAG run a step works for."""

    dag_id: str
    run_id: str

    @property
    def work_dir(self) -> Path:
        """A folder for this run's downloads and spooled extracts (shared by the workers)."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.run_id)
        path = settings().data_dir / "runs" / self.dag_id / safe
        path.mkdir(parents=True, exist_ok=True)
        return path


def current_run() -> Run:
    """The run of the task being executed (inside Airflow)."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    return Run(dag_id=context["dag"].dag_id, run_id=context["run_id"])


def store_allowed(store_id: str) -> bool:
    """Whether a store is in the rollout allowlist (``BW_STORE_ALLOWLIST``; empty = every store)."""
    allow = settings().store_allowlist
    return not allow or store_id in allow


def allowed_stores() -> set[str] | None:
    """The allowlist as a set, or None when every store is allowed."""
    allow = settings().store_allowlist
    return set(allow) if allow else None


SKIPPED_FILE = "skipped-outside-allowlist.json"


def note_skipped(run: Run, what: str, stores: Iterable[str], count: int) -> None:
    """Record what a step left out because of ``BW_STORE_ALLOWLIST`` (for the run summary)."""
    stores = sorted(set(stores))
    if not count and not stores:
        return
    path = run.work_dir / SKIPPED_FILE
    notes = json.loads(path.read_text()) if path.exists() else {}
    notes[what] = {"count": count, "stores": stores}
    write_json(path, notes)
    log.info("%s: %d left out for %d stores outside BW_STORE_ALLOWLIST", what, count, len(stores))


def skipped_summary(dag_id: str, run_id: str) -> str | None:
    """One sentence on what this run skipped because of the allowlist, or None."""
    allow = settings().store_allowlist
    path = Run(dag_id, run_id).work_dir / SKIPPED_FILE
    if not allow:
        return None
    notes = json.loads(path.read_text()) if path.exists() else {}
    stores = sorted({s for note in notes.values() for s in note["stores"]})
    parts = [f"{what} {note['count']:,}" for what, note in sorted(notes.items())]
    return (f"BW_STORE_ALLOWLIST limits this run to {len(allow)} stores; skipped {len(stores)} other stores"
            + (f" ({', '.join(parts)})" if parts else ""))


def allowlist_etag(etag: str | None, allow: set[str] | None) -> str | None:
    """A source version qualified by the allowlist: a changed allowlist loads the item anew."""
    if etag is None or allow is None:
        return etag
    return f"{etag}:{','.join(sorted(allow))}"


def refresh_metabase(domain: str) -> dict:
    """Schema sync and cache refresh in Metabase after a domain's load (dry run without a connection)."""
    from include.metabase.tasks import refresh_metabase as refresh
    from include.warehouse.connection import connect

    with connect() as conn:
        return refresh(conn, domain=domain)


def fingerprint(*parts: object) -> str:
    """A short stable hash of JSON-serialisable parts (used as a batch etag)."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:32]


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    return path
