"""The sales DAG's steps: channel dailies into ``sales.channel_daily``, forecast, write-back."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from include.pipelines.common import Run, allowed_stores
from include.sources.factory import table_store
from include.warehouse.loader import BatchInfo, LoadResult, Target

log = logging.getLogger(__name__)

SALES_ENTITY = "crf63_saleschanneldailies"
SALES_COLUMNS = [
    "crf63_saleschanneldailyid", "crf63_storenumber", "crf63_calendardate", "crf63_sourceactor",
    "crf63_sourcechannel", "crf63_daypart", "crf63_tynetsalesusd", "crf63_tyorders", "crf63_discountsusd",
    "crf63_lynetsalesusd", "crf63_lyorders", "crf63_businesskey", "crf63_lastrefreshed", "modifiedon",
]
SOURCE = f"dataverse:{SALES_ENTITY}"


def _ensure_partitions(conn: psycopg.Connection, frame) -> None:
    conn.execute(
        "SELECT sales.ensure_month_partitions(%s, %s)",
        (frame["business_date"].min(), frame["business_date"].max()),
    )


CHANNEL_DAILY = Target("sales", "channel_daily", ("store_id", "business_date", "channel", "daypart"),
                       prepare=_ensure_partitions)


def extract_sales(run: Run) -> dict:
    """Read sales dailies changed since the stored cursor (Dataverse change tracking) into the run folder."""
    from include.sources.state import get_state
    from include.warehouse.connection import connect

    with connect() as conn:
        cursor = get_state(conn, SOURCE)
    snap = table_store().read(SALES_ENTITY, SALES_COLUMNS, cursor, run.work_dir / f"{SALES_ENTITY}.jsonl")
    log.info("read %d sales rows, %d deletions (full read: %s)", snap.rows, len(snap.deleted_ids), snap.full_read)
    return {
        "path": str(snap.path), "rows": snap.rows, "deleted_ids": snap.deleted_ids,
        "cursor": snap.cursor, "full_read": snap.full_read,
    }


def load_sales(run: Run, extracted: dict) -> dict:
    """Validate and upsert the dailies; apply deletions; advance the cursor in the same transaction."""
    from include.sources.state import set_state
    from include.transforms.sales import read_jsonl, transform_sales
    from include.warehouse.connection import connect
    from include.warehouse.loader import load_batch

    with connect() as conn:
        if extracted["rows"] == 0 and not extracted["deleted_ids"]:
            with conn.transaction():
                set_state(conn, SOURCE, extracted["cursor"])
            log.info("no sales changes since the last load")
            return LoadResult(None, 0, 0, 0, 0, 0, skipped=True).as_dict()
        result = transform_sales(read_jsonl(Path(extracted["path"])))
        clean, skipped = result.clean, 0
        allow = allowed_stores()
        if allow is not None:
            keep = clean["store_id"].isin(allow)
            clean, skipped = clean[keep], int((~keep).sum())
        info = BatchInfo(run.dag_id, run.run_id, SOURCE, SALES_ENTITY, _etag(extracted["cursor"], allow))
        with conn.transaction():
            loaded = load_batch(conn, CHANNEL_DAILY, clean, result.rejects, info)
            deleted = 0
            if extracted["deleted_ids"]:
                deleted = conn.execute(
                    "DELETE FROM sales.channel_daily WHERE source_id = ANY(%s)", (extracted["deleted_ids"],)
                ).rowcount
            set_state(conn, SOURCE, extracted["cursor"])
    return {**loaded.as_dict(), "deleted": deleted, "skipped_outside_allowlist": skipped}


def forecast(run: Run) -> dict:
    """Weekly SARIMA-family forecast per store, split by day of week and day part."""
    from include.forecast.pipeline import forecast_sales
    from include.warehouse.connection import connect

    with connect() as conn:
        return forecast_sales(conn, dag_id=run.dag_id, run_id=run.run_id, stores=allowed_stores())


def write_back(run: Run) -> dict:
    """Forecasts to Dataverse ``crf63_bwsalesforecasts`` (never over a row marked overwrite)."""
    from include.warehouse.connection import connect
    from include.writeback import summary
    from include.writeback.forecasts import write_sales_forecasts

    with connect() as conn:
        result = write_sales_forecasts(conn, table_store(), stores=allowed_stores())
    return summary(result)


def refresh_metabase(run: Run) -> dict:
    from include.metabase.tasks import refresh_metabase as refresh
    from include.warehouse.connection import connect

    with connect() as conn:
        return refresh(conn, domain="sales")


def _etag(cursor: str | None, allow: set[str] | None) -> str | None:
    if cursor is None:
        return None
    return cursor if allow is None else f"{cursor}:{','.join(sorted(allow))}"
