"""The sales DAG's steps: channel dailies into ``sales.channel_daily``, forecast, write-back."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psycopg

from include.pipelines import common
from include.pipelines.common import Run, allowed_stores, note_skipped
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
#: Lines per load batch of a sales extract (bounds memory on a first full read).
CHUNK_ROWS = int(os.environ.get("BW_SALES_CHUNK_ROWS", "500000"))


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
    """Validate and upsert the dailies chunk by chunk; apply deletions; advance the cursor.

    Everything (every chunk's batch, the deletions and the cursor) commits in one transaction.
    """
    from include.sources.state import set_state
    from include.warehouse.connection import connect

    with connect() as conn:
        if extracted["rows"] == 0 and not extracted["deleted_ids"]:
            with conn.transaction():
                set_state(conn, SOURCE, extracted["cursor"])
            log.info("no sales changes since the last load")
            return LoadResult(None, 0, 0, 0, 0, 0, skipped=True).as_dict()
        totals = {"rows_read": 0, "rows_loaded": 0, "rows_quarantined": 0, "rows_inserted": 0,
                  "rows_updated": 0, "skipped_outside_allowlist": 0, "batches": 0, "deleted": 0}
        with conn.transaction():
            for result in _load_chunks(conn, run, extracted):
                for key in totals:
                    totals[key] += result.get(key, 0)
            if extracted["deleted_ids"]:
                totals["deleted"] = conn.execute(
                    "DELETE FROM sales.channel_daily WHERE source_id = ANY(%s)", (extracted["deleted_ids"],)
                ).rowcount
            set_state(conn, SOURCE, extracted["cursor"])
    log.info("sales load: %s", totals)
    return totals


def _load_chunks(conn: psycopg.Connection, run: Run, extracted: dict):
    """One batch per chunk of ``BW_SALES_CHUNK_ROWS`` lines; a key repeated across chunks is quarantined."""
    import numpy as np
    import pandas as pd

    from include.pipelines.chunks import SeenKeys, split_lines
    from include.transforms.sales import KEY, read_jsonl, transform_sales
    from include.warehouse.loader import load_batch

    allow = allowed_stores()
    seen = SeenKeys(KEY)
    outside: set[str] = set()
    outside_rows = 0
    path = Path(extracted["path"])
    for part, (chunk, offset) in enumerate(split_lines(path, CHUNK_ROWS, run.work_dir), 1):
        records = read_jsonl(chunk)
        records["source_row"] += offset
        result = transform_sales(records)
        kept_rows = records["source_row"][~records["source_row"].isin(result.rejects["source_row"])].to_numpy()
        again, earlier = seen.split(result.clean, kept_rows)
        clean, rejects = result.clean, result.rejects
        if again.any():
            repeated = records.set_index("source_row").loc[kept_rows[again]]
            rejects = pd.concat([rejects, pd.DataFrame({
                "source_row": kept_rows[again],
                "raw": [{k: (None if pd.isna(v) else str(v)) for k, v in r.items()}
                        for r in repeated.to_dict("records")],
                "reason": [f"duplicate of row {row}: same store, date, channel and day part" for row in earlier],
            })], ignore_index=True)
            clean = clean[~again]
        skipped = 0
        if allow is not None:
            keep = clean["store_id"].isin(allow).to_numpy()
            outside.update(clean.loc[~keep, "store_id"])
            clean, skipped = clean[keep], int(np.count_nonzero(~keep))
            outside_rows += skipped
        item = SALES_ENTITY if offset == 0 and chunk == path else f"{SALES_ENTITY} (lines from {offset + 1})"
        etag = common.allowlist_etag(extracted["cursor"], allow)
        info = BatchInfo(run.dag_id, run.run_id, SOURCE, item, None if etag is None else f"{etag}#{part}")
        loaded = load_batch(conn, CHANNEL_DAILY, clean.reset_index(drop=True), rejects, info)
        yield {**loaded.as_dict(), "skipped_outside_allowlist": skipped, "batches": 1}
    note_skipped(run, "sales rows", outside, outside_rows)


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
    """Schema sync and cache refresh after the sales load."""
    return common.refresh_metabase("sales")
