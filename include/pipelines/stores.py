"""The stores DAG's steps: the Stores sheet and the fiscal calendar into ``core``."""

from __future__ import annotations

import logging
from pathlib import Path

from include.config import settings
from include.pipelines.common import Run, allowed_stores, allowlist_etag, note_skipped
from include.sources.factory import file_store, table_store
from include.warehouse.loader import BatchInfo, LoadResult, Target

log = logging.getLogger(__name__)

CALENDAR_ENTITY = "crf63_bwfiscalcalendars"
CALENDAR_COLUMNS = [
    "crf63_bwfiscalcalendarid", "crf63_date", "crf63_fiscalyearlabel",
    "crf63_fiscalweeknumber", "crf63_fiscalyearnumber",
]
STORES = Target("core", "stores", ("store_id",))
CALENDAR = Target("core", "fiscal_calendar", ("calendar_date",))


def download_dimensions(run: Run) -> dict:
    """Download ``BI Dimensions.xlsx`` (Stores and Access sheets) into the run folder."""
    cfg = settings()
    store = file_store()
    item = store.stat(cfg.graph_dimensions_path)
    path = store.download(item, run.work_dir / "dimensions")
    log.info("downloaded %s (%d bytes, etag %s)", item.path, item.size, item.etag)
    return {"path": str(path), "item": item.path, "etag": item.etag}


def extract_calendar(run: Run) -> dict:
    """Read the fiscal calendar table (changes since the stored cursor) into the run folder."""
    from include.sources.state import get_state
    from include.warehouse.connection import connect

    with connect() as conn:
        cursor = get_state(conn, f"dataverse:{CALENDAR_ENTITY}")
    snap = table_store().read(CALENDAR_ENTITY, CALENDAR_COLUMNS, cursor, run.work_dir / f"{CALENDAR_ENTITY}.jsonl")
    log.info("read %d fiscal calendar rows (full read: %s)", snap.rows, snap.full_read)
    return {"path": str(snap.path), "rows": snap.rows, "cursor": snap.cursor, "entity": CALENDAR_ENTITY}


def load_stores(run: Run, extracted: dict) -> dict:
    """Stores sheet -> ``core.stores`` (outside the allowlist: skipped)."""
    from include.transforms.stores import read_stores_sheet, transform_stores
    from include.warehouse.connection import connect
    from include.warehouse.loader import load_batch

    result = transform_stores(read_stores_sheet(Path(extracted["path"])))
    clean, skipped = result.clean, 0
    allow = allowed_stores()
    if allow is not None:
        keep = clean["store_id"].isin(allow)
        note_skipped(run, "store rows", clean.loc[~keep, "store_id"], int((~keep).sum()))
        clean, skipped = clean[keep], int((~keep).sum())
    etag = allowlist_etag(extracted["etag"], allow)
    info = BatchInfo(run.dag_id, run.run_id, "onedrive:stores", extracted["item"], etag)
    with connect() as conn:
        loaded = load_batch(conn, STORES, clean, result.rejects, info)
    return {**loaded.as_dict(), "skipped_outside_allowlist": skipped}


def load_calendar(run: Run, extracted: dict) -> dict:
    """Fiscal calendar records -> ``core.fiscal_calendar``; the cursor advances with the load."""
    from include.sources.state import set_state
    from include.transforms.calendar import transform_calendar
    from include.transforms.sales import read_jsonl
    from include.warehouse.connection import connect
    from include.warehouse.loader import load_batch

    source = f"dataverse:{CALENDAR_ENTITY}"
    with connect() as conn:
        if extracted["rows"] == 0:
            with conn.transaction():
                set_state(conn, source, extracted["cursor"])
            log.info("fiscal calendar unchanged since the last load")
            return _unchanged()
        result = transform_calendar(read_jsonl(Path(extracted["path"])))
        info = BatchInfo(run.dag_id, run.run_id, source, CALENDAR_ENTITY, extracted["cursor"])
        with conn.transaction():
            loaded = load_batch(conn, CALENDAR, result.clean, result.rejects, info)
            set_state(conn, source, extracted["cursor"])
    return loaded.as_dict()


def refresh_reporting(run: Run) -> dict:
    """Create or refresh each store's reporting schema."""
    from include.warehouse.connection import connect
    from include.warehouse.reporting import refresh_reporting_schemas

    with connect() as conn:
        return refresh_reporting_schemas(conn, allowed_stores())


def provision_metabase(run: Run) -> dict:
    """Metabase groups, collections and dashboards for new stores (dry run without a connection)."""
    from include.metabase.tasks import provision_stores
    from include.warehouse.connection import connect

    with connect() as conn:
        return provision_stores(conn, stores=allowed_stores())


def _unchanged() -> dict:
    return LoadResult(None, 0, 0, 0, 0, 0, skipped=True).as_dict()
