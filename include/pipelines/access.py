"""The access DAG's steps: users and store grants from the Access sheet (or Dataverse), then Metabase."""

from __future__ import annotations

import logging
from pathlib import Path

from include.config import settings
from include.pipelines.common import Run
from include.pipelines.stores import download_dimensions
from include.sources.factory import table_store
from include.warehouse.loader import BatchInfo

log = logging.getLogger(__name__)

ACCESS_ENTITY = "crf63_storeaccesses"
ACCESS_COLUMNS = [
    "crf63_storeaccessid", "crf63_email", "crf63_firstname", "crf63_lastname",
    "crf63_stores", "crf63_accesslevel", "crf63_active",
]


def extract_access(run: Run) -> dict:
    """The configured source (``BW_ACCESS_SOURCE``: ``sheet`` or ``dataverse``), downloaded whole."""
    source = settings().access_source
    if source == "sheet":
        return {"kind": "sheet", **download_dimensions(run)}
    if source == "dataverse":
        snap = table_store().read(ACCESS_ENTITY, ACCESS_COLUMNS, None, run.work_dir / f"{ACCESS_ENTITY}.jsonl")
        from include.pipelines.common import fingerprint

        return {"kind": "dataverse", "path": str(snap.path), "item": ACCESS_ENTITY,
                "etag": fingerprint(Path(snap.path).read_text(encoding="utf-8"))}
    raise ValueError(f"BW_ACCESS_SOURCE must be 'sheet' or 'dataverse', not {source!r}")


def load_access(run: Run, extracted: dict) -> dict:
    """Users and grants: upserted, missing grants revoked, users without grants deactivated."""
    from include.access.load import load_access as load
    from include.transforms.access import read_access_records, read_access_sheet, transform_access
    from include.transforms.sales import read_jsonl
    from include.warehouse.connection import connect

    path = Path(extracted["path"])
    raw = read_access_sheet(path) if extracted["kind"] == "sheet" else read_access_records(read_jsonl(path))
    with connect() as conn:
        known = {r[0] for r in conn.execute("SELECT store_id FROM core.stores").fetchall()}
        result = transform_access(raw, known)
        info = BatchInfo(run.dag_id, run.run_id, f"{extracted['kind']}:access", extracted["item"], extracted["etag"])
        return load(conn, result.users, result.grants, result.rejects, info)


def sync_metabase(run: Run) -> dict:
    """Metabase users, group memberships and permission graphs to match the grants (dry run without a connection)."""
    from include.metabase.tasks import sync_permissions
    from include.warehouse.connection import connect

    with connect() as conn:
        return sync_permissions(conn)


def audit_metabase(run: Run) -> dict:
    """Compare Metabase's actual grants with the desired ones; repair and report drift."""
    from include.metabase.tasks import audit_permissions
    from include.warehouse.connection import connect

    with connect() as conn:
        result = audit_permissions(conn)
    if result.get("drift"):
        email_findings(f"Metabase permission drift found ({run.dag_id} {run.run_id})", result["text"])
    return result


def email_findings(subject: str, text: str) -> bool:
    """Email the audit's findings to ``BW_ALERT_EMAILS``; log instead when email is not set up."""
    import html

    from include.config import SMTP_CONN_ID
    from include.notify.smtp import send_html_and_text, smtp_connection_exists

    log.warning("%s\n%s", subject, text)
    recipients = settings().email_to
    if not smtp_connection_exists(SMTP_CONN_ID) or not recipients:
        log.warning("no SMTP connection or no recipients: drift findings not emailed")
        return False
    send_html_and_text(subject, f"<pre>{html.escape(text)}</pre>", text, recipients, SMTP_CONN_ID)
    return True
