"""The labor DAG's steps: labor zips (drive delta) into ``labor.hours_daypart``, forecast, write-back."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import psycopg

from include.config import settings
from include.pipelines import common
from include.pipelines.common import Run, allowed_stores, note_skipped, write_json
from include.sources.base import RemoteFile
from include.sources.factory import file_store, table_store
from include.warehouse.loader import BatchInfo, Target

log = logging.getLogger(__name__)

HOURS = Target("labor", "hours_daypart", ("store_id", "employee_id", "business_date", "daypart"))


def _source() -> str:
    return f"drive:{settings().graph_labor_folder}"


def extract_labor(run: Run) -> dict:
    """List the labor folder's changes, keep the newest file per store and day, download them."""
    from include.sources.state import get_state
    from include.transforms.labor import parse_labor_file_name, select_newest_files
    from include.warehouse.connection import connect
    from include.warehouse.loader import already_loaded

    store = file_store()
    with connect() as conn:
        cursor = get_state(conn, _source())
    changes = store.changes(settings().graph_labor_folder, cursor)
    by_name = {f.name: f for f in changes.files}
    selection = select_newest_files(sorted(by_name))
    allow = allowed_stores()
    chosen = [n for n in selection.chosen if allow is None or parse_labor_file_name(n).store_id in allow]
    taken = set(chosen)
    outside = [parse_labor_file_name(n).store_id for n in selection.chosen if n not in taken]
    note_skipped(run, "labor files", outside, len(outside))
    folder = run.work_dir / "labor"
    files = []
    with connect() as conn:
        fresh = [n for n in chosen if already_loaded(conn, _batch_info(run, by_name[n])) is None]
    if len(fresh) < len(chosen):
        log.info("%d labor files already loaded at the same version: not downloaded again", len(chosen) - len(fresh))
    for i, name in enumerate(fresh, 1):
        item = by_name[name]
        path = store.download(item, folder)
        files.append({"path": str(path), "name": name, "item": item.path, "etag": item.etag})
        if i % 200 == 0:
            log.info("downloaded %d of %d labor files", i, len(fresh))
    manifest = write_json(run.work_dir / "labor-files.json", {
        "files": files, "cursor": changes.cursor, "full_resync": changes.full_resync,
        "superseded": selection.superseded, "unrecognised": selection.unrecognised,
        "outside_allowlist": len(selection.chosen) - len(chosen),
    })
    log.info("labor: %d changed files, %d chosen, %d superseded, %d unrecognised names",
             len(changes.files), len(files), len(selection.superseded), len(selection.unrecognised))
    return {"manifest": str(manifest), "files": len(files), "superseded": len(selection.superseded),
            "unrecognised": len(selection.unrecognised)}


def load_labor(run: Run, extracted: dict) -> dict:
    """Each file in its own transaction: hours replace that store-day's rows; then the cursor advances."""
    from include.sources.state import set_state
    from include.warehouse.connection import connect

    manifest = json.loads(Path(extracted["manifest"]).read_text())
    totals = {"files_loaded": 0, "files_skipped": 0, "rows_read": 0, "rows_loaded": 0,
              "rows_quarantined": 0, "rows_inserted": 0, "rows_updated": 0, "rows_removed": 0}
    with connect() as conn:
        for i, entry in enumerate(manifest["files"], 1):
            outcome = _load_file(conn, run, entry)
            for key, value in outcome.items():
                totals[key] = totals.get(key, 0) + value
            if i % 200 == 0:
                log.info("loaded %d of %d labor files", i, len(manifest["files"]))
        with conn.transaction():
            set_state(conn, _source(), manifest["cursor"])
        dates = sorted({_file_date(e["name"]) for e in manifest["files"]})
        totals["missing_stores"] = missing_labor_files(conn, dates)
    totals["superseded"] = len(manifest["superseded"])
    totals["unrecognised_names"] = manifest["unrecognised"]
    log.info("labor load: %s", {k: v for k, v in totals.items() if k != "missing_stores"})
    return totals


def _batch_info(run: Run, item: RemoteFile) -> BatchInfo:
    """Labor batches are keyed by the file's drive path and etag."""
    return BatchInfo(run.dag_id, run.run_id, _source(), item.path, item.etag)


def _file_date(name: str) -> date:
    from include.transforms.labor import parse_labor_file_name

    return parse_labor_file_name(name).business_date


def _load_file(conn: psycopg.Connection, run: Run, entry: dict) -> dict:
    from include.transforms.labor import parse_labor_file_name, transform_labor_zip
    from include.warehouse.loader import load_batch

    parsed = parse_labor_file_name(entry["name"])
    if _newer_file_loaded(conn, parsed.store_id, parsed.business_date, entry["name"]):
        log.info("%s is older than the file already loaded for that store and day: skipped", entry["name"])
        return {"files_skipped": 1}
    result = transform_labor_zip(Path(entry["path"]))
    info = BatchInfo(run.dag_id, run.run_id, _source(), entry["item"], entry["etag"])
    hours = result.hours.assign(source_item=entry["name"])
    with conn.transaction():
        loaded = load_batch(conn, HOURS, hours, result.rejects, info, rows_loaded=result.timecards_loaded)
        if loaded.skipped:
            return {"files_skipped": 1}
        removed = conn.execute(
            """DELETE FROM labor.hours_daypart h
               WHERE h.store_id = %s AND h.business_date = %s
                 AND (h.employee_id, h.daypart) NOT IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
            (parsed.store_id, parsed.business_date, list(hours["employee_id"]), list(hours["daypart"])),
        ).rowcount
        _upsert_employees(conn, result.employees)
        conn.execute(
            """INSERT INTO labor.files_received (store_id, business_date, file_name) VALUES (%s, %s, %s)
               ON CONFLICT (store_id, business_date) DO UPDATE SET file_name = EXCLUDED.file_name,
                   received_at = now() WHERE labor.files_received.file_name <> EXCLUDED.file_name""",
            (parsed.store_id, parsed.business_date, entry["name"]),
        )
    return {"files_loaded": 1, "rows_read": loaded.rows_read, "rows_loaded": loaded.rows_loaded,
            "rows_quarantined": loaded.rows_quarantined, "rows_inserted": loaded.rows_inserted,
            "rows_updated": loaded.rows_updated, "rows_removed": removed}


def _newer_file_loaded(conn: psycopg.Connection, store_id: str, business_date: date, name: str) -> bool:
    from include.transforms.labor import parse_labor_file_name

    row = conn.execute(
        "SELECT file_name FROM labor.files_received WHERE store_id = %s AND business_date = %s",
        (store_id, business_date),
    ).fetchone()
    return bool(row) and parse_labor_file_name(row[0]).stamp > parse_labor_file_name(name).stamp


def _upsert_employees(conn: psycopg.Connection, employees) -> None:
    if employees.empty:
        return
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO labor.employees (store_id, employee_id, first_name, last_name)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (store_id, employee_id) DO UPDATE
                   SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, updated_at = now()
                   WHERE (labor.employees.first_name, labor.employees.last_name)
                         IS DISTINCT FROM (EXCLUDED.first_name, EXCLUDED.last_name)""",
            list(employees[["store_id", "employee_id", "first_name", "last_name"]].itertuples(index=False)),
        )


def missing_labor_files(conn: psycopg.Connection, dates: list[date]) -> list[dict]:
    """Active stores (open on the date, in the allowlist) without a labor file for each date."""
    from include.warehouse.labor_files import missing_labor_stores

    missing = missing_labor_stores(conn, dates, allowed_stores())
    return [{"store_id": s, "business_date": d.isoformat()} for d, stores in missing.items() for s in stores]


def forecast(run: Run) -> dict:
    """Hours needed per store, date and day part from the sales forecast."""
    from include.forecast.pipeline import forecast_labor
    from include.warehouse.connection import connect

    with connect() as conn:
        return forecast_labor(conn, dag_id=run.dag_id, run_id=run.run_id, stores=allowed_stores())


def write_back(run: Run) -> dict:
    """Hours by employee and day part to Dataverse ``crf63_labortimes``."""
    from include.warehouse.connection import connect
    from include.writeback import summary
    from include.writeback.labor import write_labor_hours

    with connect() as conn:
        result = write_labor_hours(conn, table_store(), stores=allowed_stores())
    return summary(result)


def refresh_metabase(run: Run) -> dict:
    """Schema sync and cache refresh after the labor load."""
    return common.refresh_metabase("labor")


__all__ = ["extract_labor", "forecast", "load_labor", "missing_labor_files", "refresh_metabase",
           "write_back"]
