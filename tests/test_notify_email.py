"""Failure and run-summary emails through real DAG runs (``dag.test()``) and a real SMTP server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from include.notify.callbacks import failure_notifier, run_summary_callback
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.smtp

RECIPIENTS = "ops@beachwood.test; area.manager@beachwood.test"


@pytest.fixture
def smtp(monkeypatch) -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1, configured as ``smtp_default``, and the alert recipients."""
    with SmtpServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_json())
        monkeypatch.setenv("BW_ALERT_EMAILS", RECIPIENTS)
        yield server


@pytest.fixture
def no_smtp(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    monkeypatch.setenv("BW_ALERT_EMAILS", RECIPIENTS)


def _run(dag):
    """``dag.test()`` of a DAG defined here: it is first written to the metadata database."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        update_dag_parsing_results_in_db("dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(),
                                         session=session)
    return dag.test()


def _failing_dag(dag_id: str):
    from airflow.sdk import DAG, task

    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False,
             default_args={"retries": 0, "on_failure_callback": failure_notifier()}) as dag:

        @task
        def extract_labor() -> None:
            raise ValueError("labor zip 000126.pay_summ.20260901.153045.zip is corrupt <CRC mismatch>")

        extract_labor()
    return dag


def _loading_dag(dag_id: str, *, fail: bool = False):
    """A DAG whose task writes audit and quarantine rows as the loader does, then maybe fails."""
    from airflow.sdk import DAG, get_current_context, task

    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), catchup=False,
             default_args={"retries": 0}, on_success_callback=run_summary_callback,
             on_failure_callback=run_summary_callback) as dag:

        @task
        def load() -> None:
            from include.warehouse.connection import connect

            context = get_current_context()
            with connect() as conn:
                _record_load(conn, context["dag"].dag_id, context["run_id"])
            if fail:
                raise RuntimeError("write-back refused")

        load()
    return dag


def _record_load(conn: psycopg.Connection, dag_id: str, run_id: str) -> None:
    conn.execute("INSERT INTO core.stores (store_id, store_name) VALUES ('000126', 'Main St'), ('000131', 'Oak')")
    for item, read, quarantined, reasons in [
        ("Labor/000126.pay_summ.20260901.153045.zip", 40, 3,
         ["clock-out not after clock-in", "clock-out not after clock-in", "fewer than 14 fields"]),
        ("Labor/000126.pay_summ.20260902.101500.zip", 25, 0, []),
    ]:
        batch_id = conn.execute(
            """INSERT INTO etl.load_batches (dag_id, run_id, source, source_item, source_etag, target_table,
                   rows_read, rows_loaded, rows_quarantined, rows_inserted, rows_updated, started_at)
               VALUES (%s, %s, 'drive:Labor', %s, %s, 'labor.hours_daypart', %s, %s, %s, %s, 2, now())
               RETURNING batch_id""",
            (dag_id, run_id, item, f"etag-{item}", read, read - quarantined, quarantined, read - quarantined - 2),
        ).fetchone()[0]
        for row, reason in enumerate(reasons, 1):
            conn.execute(
                """INSERT INTO etl.quarantine (batch_id, source, source_item, source_row, raw, reason)
                   VALUES (%s, 'drive:Labor', %s, %s, '{}'::jsonb, %s)""",
                (batch_id, item, row, reason),
            )
    conn.execute("""INSERT INTO labor.files_received (store_id, business_date, file_name) VALUES
                    ('000126', '2026-09-01', '000126.pay_summ.20260901.153045.zip'),
                    ('000126', '2026-09-02', '000126.pay_summ.20260902.101500.zip')""")


def test_failure_email_names_the_task_run_try_exception_and_log(airflow_db, smtp) -> None:
    dag = _failing_dag("bw_notify_failure")
    run = _run(dag)

    assert str(run.state) == "failed"
    [mail] = smtp.wait_for(1)
    assert sorted(mail.rcpt_tos) == ["area.manager@beachwood.test", "ops@beachwood.test"]
    assert mail.mail_from == smtp.sender
    subject = str(mail.message["Subject"])
    assert "bw_notify_failure.extract_labor failed" in subject
    assert "try 1" in subject and run.run_id in subject
    html = mail.part("html")
    assert "<td>bw_notify_failure</td>" in html
    assert "<td>extract_labor</td>" in html
    assert f"<td>{run.run_id}</td>" in html.replace("&#43;", "+")
    assert "<td>1 of 1</td>" in html
    assert "ValueError: labor zip 000126.pay_summ.20260901.153045.zip is corrupt &lt;CRC mismatch&gt;" in html
    assert "/dags/bw_notify_failure/runs/" in html and "/tasks/extract_labor?try_number=1" in html
    assert "Traceback" in html and "in extract_labor" in html and "task_runner.py" not in html


def test_run_summary_email_after_a_successful_run(airflow_db, smtp, warehouse_url, monkeypatch) -> None:
    monkeypatch.setenv("BW_WAREHOUSE_URL", warehouse_url)
    dag = _loading_dag("labor_notify_test")
    run = _run(dag)

    assert str(run.state) == "success"
    [mail] = smtp.wait_for(1)
    assert str(mail.message["Subject"]) == "Labor processing completed"
    assert mail.message.get_content_type() == "multipart/alternative"
    text, html = mail.part("plain"), mail.part("html")
    for expected in ["Date: 2026-09-01 to 2026-09-02", "Downloaded: 2", "Extracted: 2", "Records: 65",
                     "Created: 58", "Updated: 4", "Errors: 0", "Missing stores: 2026-09-01: 000131; "
                     "2026-09-02: 000131",
                     "Quarantined: 3 (top reasons: clock-out not after clock-in (2); fewer than 14 fields (1))"]:
        assert expected in text
        assert expected.partition(": ")[2] in html
    assert f"run {run.run_id}" in text
    assert "<li>clock-out not after clock-in: 2</li>" in html
    assert ">labor.hours_daypart</td>" in html


def test_run_summary_email_after_a_failed_run(airflow_db, smtp, warehouse_url, monkeypatch) -> None:
    monkeypatch.setenv("BW_WAREHOUSE_URL", warehouse_url)
    dag = _loading_dag("labor_notify_test", fail=True)
    run = _run(dag)

    assert str(run.state) == "failed"
    [mail] = smtp.wait_for(1)
    assert str(mail.message["Subject"]) == "Labor processing failed"
    text = mail.part("plain")
    assert "Note: the run failed (task_failure) at task load" in text
    assert "Records: 65" in text and "Errors: 1" in text


def test_without_smtp_connection_nothing_is_sent_and_nothing_fails(airflow_db, no_smtp, warehouse_url,
                                                                   monkeypatch, caplog) -> None:
    monkeypatch.setenv("BW_WAREHOUSE_URL", warehouse_url)
    caplog.set_level(logging.INFO, logger="include.notify")

    failed = _run(_failing_dag("bw_notify_no_smtp"))
    succeeded = _run(_loading_dag("labor_notify_test"))

    assert str(failed.state) == "failed" and str(succeeded.state) == "success"
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("include.notify")]
    assert "no SMTP connection 'smtp_default': failure email not sent" in messages
    assert "no SMTP connection 'smtp_default': run summary email not sent" in messages
    assert any(m.startswith("run summary of labor_notify_test") and "Records: 65" in m for m in messages)


def test_failure_notifier_called_directly_without_recipients_sends_nothing(smtp, monkeypatch, caplog) -> None:
    monkeypatch.setenv("BW_ALERT_EMAILS", "")
    caplog.set_level(logging.INFO, logger="include.notify")
    failure_notifier()({"exception": ValueError("x")})
    assert "no recipients (BW_ALERT_EMAILS is empty): failure email not sent" in caplog.messages
    assert smtp.messages == []
