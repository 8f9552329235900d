"""The run summary read back from a real warehouse, and its rendering."""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg

from include.notify.render import render_summary
from include.notify.summary import RunSummary, collect_run_summary, labor_file_date
from include.warehouse.loader import BatchInfo, Target, load_batch

RUN = "scheduled__2026-09-03T06:00:00+00:00"


def _batch(conn: psycopg.Connection, *, dag_id: str = "labor", run_id: str = RUN, item: str,
           read: int, quarantined: int = 0, inserted: int = 0, updated: int = 0, status: str = "succeeded",
           target: str = "labor.hours_daypart", source: str = "drive:Labor", reasons: tuple[str, ...] = ()) -> int:
    batch_id = conn.execute(
        """INSERT INTO etl.load_batches (dag_id, run_id, source, source_item, source_etag, target_table, rows_read,
               rows_loaded, rows_quarantined, rows_inserted, rows_updated, status, started_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '2026-09-03 06:00+00') RETURNING batch_id""",
        (dag_id, run_id, source, item, f"{run_id}:{target}:{item}", target, read, read - quarantined, quarantined,
         inserted, updated, status),
    ).fetchone()[0]
    for i, reason in enumerate(reasons):
        conn.execute(
            """INSERT INTO etl.quarantine (batch_id, source, source_item, source_row, raw, reason)
               VALUES (%s, %s, %s, %s, '{"raw": true}'::jsonb, %s)""",
            (batch_id, source, item, i + 1, reason),
        )
    return batch_id


def test_empty_warehouse_gives_zeros(warehouse) -> None:
    labor = collect_run_summary(warehouse, "labor", RUN)
    sales = collect_run_summary(warehouse, "sales", RUN)

    assert (labor.batches, labor.rows_read, labor.rows_created, labor.rows_quarantined, labor.errors) == (0, 0, 0, 0, 0)
    assert labor.downloaded == 0 and labor.extracted == 0 and labor.missing_stores == {}
    assert "Missing stores: n/a (no labor files in this run)" in labor.as_lines()
    assert sales.forecast is not None and sales.forecast.stores == 0
    assert "Forecast accuracy: no forecast models" in sales.as_lines()
    assert sales.downloaded is None and sales.missing_stores is None
    assert [line.split(":")[0] for line in sales.as_lines()] == [
        "Date", "Records", "Created", "Updated", "Quarantined", "Errors", "Forecast accuracy", "Timestamp"]


def test_labor_run_counts_only_its_own_batches(warehouse) -> None:
    warehouse.execute("""INSERT INTO core.stores (store_id, store_name, active, opened_on) VALUES
        ('000126', 'Main St', true, NULL), ('000131', 'Oak', true, '2020-01-01'),
        ('000140', 'New', true, '2026-09-02'), ('000150', 'Closed', false, NULL)""")
    warehouse.execute("""INSERT INTO labor.files_received (store_id, business_date, file_name) VALUES
        ('000126', '2026-09-01', '000126.pay_summ.20260901.153045.zip'),
        ('000126', '2026-09-02', '000126.pay_summ.20260902.101500.zip'),
        ('000131', '2026-09-02', '000131.summary.20260902.090000.zip')""")
    _batch(warehouse, item="Labor/000126.pay_summ.20260901.153045.zip", read=10, quarantined=4, inserted=5,
           updated=1, reasons=("clock-out not after clock-in",) * 2 + ("fewer than 14 fields",) * 2)
    _batch(warehouse, item="Labor/000126.pay_summ.20260902.101500.zip", read=7, inserted=7,
           reasons=())
    _batch(warehouse, item="Labor/000131.summary.20260902.090000.zip", read=0, status="failed")
    _batch(warehouse, item="Labor/000126.pay_summ.20260902.101500.zip", read=1, quarantined=1,
           target="labor.employees", reasons=("employee id is empty",))
    # Another run of the same DAG and another DAG: not counted.
    _batch(warehouse, run_id="manual__other", item="Labor/000131.pay_summ.20260830.080000.zip", read=99,
           quarantined=1, reasons=("other run",))
    _batch(warehouse, dag_id="sales", item="crf63_saleschanneldailies", read=50, target="sales.channel_daily",
           source="dataverse:crf63_saleschanneldailies")

    summary = collect_run_summary(warehouse, "labor", RUN)

    assert (summary.batches, summary.rows_read, summary.rows_loaded) == (4, 18, 13)
    assert (summary.rows_created, summary.rows_updated, summary.rows_quarantined) == (12, 1, 5)
    assert summary.failed_batches == 1 and summary.errors == 1
    assert summary.top_reasons == [("clock-out not after clock-in", 2), ("fewer than 14 fields", 2),
                                   ("employee id is empty", 1)]
    assert summary.downloaded == 3 and summary.extracted == 2
    assert summary.business_dates == [date(2026, 9, 1), date(2026, 9, 2)]
    # 000131 sent nothing for 09-01; 000140 opened on 09-02 and sent nothing; 000150 is closed.
    assert summary.missing_stores == {date(2026, 9, 1): ["000131"], date(2026, 9, 2): ["000140"]}
    assert [t.table for t in summary.tables] == ["labor.employees", "labor.hours_daypart"]
    lines = summary.as_lines()
    assert lines[:3] == ["Date: 2026-09-01 to 2026-09-02", "Downloaded: 3", "Extracted: 2"]
    assert "Quarantined: 5 (top reasons: clock-out not after clock-in (2); fewer than 14 fields (2); " \
           "employee id is empty (1))" in lines
    assert "Missing stores: 2026-09-01: 000131; 2026-09-02: 000140" in lines

    only_126 = collect_run_summary(warehouse, "labor", RUN, expected_stores={"000126", "000131"})
    assert only_126.missing_stores == {date(2026, 9, 1): ["000131"]}


def test_top_reasons_are_the_five_most_frequent(warehouse) -> None:
    reasons = tuple(f"reason {n}" for n in range(1, 8) for _ in range(n))
    _batch(warehouse, dag_id="stores", item="General/BI Import/BI Dimensions.xlsx", read=len(reasons),
           quarantined=len(reasons), target="core.stores", source="onedrive:stores", reasons=reasons)

    summary = collect_run_summary(warehouse, "stores", RUN)

    assert summary.top_reasons == [(f"reason {n}", n) for n in (7, 6, 5, 4, 3)]
    assert summary.downloaded is None and summary.forecast is None


def test_sales_run_reports_forecast_accuracy(warehouse) -> None:
    warehouse.execute("""INSERT INTO sales.forecast_models (store_id, model, family, backtest_mape, naive_mape,
                             history_weeks) VALUES
        ('000126', 'sarima', 'sarima', 5.0, 8.0, 120), ('000131', 'sarima', 'sarima', 10.0, 8.0, 120),
        ('000140', 'naive', 'naive', 20.0, NULL, 3), ('000150', 'none', 'none', NULL, NULL, 0)""")

    accuracy = collect_run_summary(warehouse, "sales", RUN).forecast

    assert accuracy is not None
    assert (accuracy.stores, accuracy.median_mape, accuracy.beat_naive, accuracy.compared) == (4, 10.0, 1, 2)
    assert accuracy.describe() == "median backtest MAPE 10.0% over 4 stores; 1 of 2 beat seasonal naive"


def test_summary_matches_what_the_loader_recorded(warehouse) -> None:
    target = Target("core", "stores", ("store_id",))
    info = BatchInfo("stores", RUN, "onedrive:stores", "General/BI Import/BI Dimensions.xlsx", "etag-1")
    clean = pd.DataFrame({"store_id": ["000126", "000131"], "store_name": ["Main St", "Oak"]})
    rejects = pd.DataFrame({"source_row": pd.array([7], dtype="Int64"), "raw": [{"Stores Number 0": "12x"}],
                            "reason": ["store number is not 1-6 digits: '12x'"]})
    loaded = load_batch(warehouse, target, clean, rejects, info)
    warehouse.commit()

    summary = collect_run_summary(warehouse, "stores", RUN)

    assert (summary.rows_read, summary.rows_created, summary.rows_updated) == (loaded.rows_read, 2, 0)
    assert summary.rows_quarantined == 1
    assert summary.top_reasons == [("store number is not 1-6 digits: '12x'", 1)]


def test_render_subjects_and_escaping() -> None:
    summary = RunSummary(dag_id="labor", run_id="manual__<x>", rows_read=3, rows_quarantined=1,
                         top_reasons=[("value <script>alert(1)</script> & more", 1)])
    subject, html, text = render_summary(summary)

    assert subject == "Labor processing completed"
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "manual__&lt;x&gt;" in html
    assert "Quarantined: 1 (top reasons: value <script>alert(1)</script> & more (1))" in text
    assert "No batches were loaded in this run." in html

    summary.failed = True
    assert render_summary(summary)[0] == "Labor processing failed"
    assert render_summary(RunSummary(dag_id="sales", run_id="r"))[0] == "Sales processing completed"
    assert render_summary(RunSummary(dag_id="my_backfill", run_id="r"))[0] == "My backfill processing completed"


def test_labor_file_date() -> None:
    assert labor_file_date("Labor/000126.pay_summ.20260901.153045.zip") == date(2026, 9, 1)
    assert labor_file_date("000126.summary.20260229.000000.zip") is None  # no such day
    assert labor_file_date("notes.txt") is None
