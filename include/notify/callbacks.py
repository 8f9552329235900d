"""Airflow callbacks that send email: a task-failure notifier and the DAG run summary.

Imported at the top of every DAG file, so this module stays cheap to import: Airflow's
SMTP provider, psycopg and the summary queries are imported inside the callbacks.
Without an ``smtp_default`` connection (or without recipients) the callbacks log that no
email was sent and return: a missing mail setup never fails a task or a run.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from include.config import SMTP_CONN_ID, settings

log = logging.getLogger(__name__)

FAILURE_SUBJECT = "[Airflow] {{ ti.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }}, run {{ run_id }})"

FAILURE_HTML = (
    '<html><body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">'
    '<h2 style="color:#b00020">Task failed: {{ ti.dag_id }}.{{ ti.task_id }}</h2>'
    '<table style="border-collapse:collapse">'
    "<tr><th align=left>DAG</th><td>{{ ti.dag_id | e }}</td></tr>"
    "<tr><th align=left>Task</th><td>{{ ti.task_id | e }}</td></tr>"
    "<tr><th align=left>Run</th><td>{{ run_id | e }}</td></tr>"
    "<tr><th align=left>Try</th><td>{{ ti.try_number }}"
    "{% if ti.max_tries is not none %} of {{ ti.max_tries + 1 }}{% endif %}</td></tr>"
    "<tr><th align=left>Exception</th><td>{{ bw_exception | e }}</td></tr>"
    "</table>"
    '<p><a href="{{ ti.log_url }}">Open the task log</a>: {{ ti.log_url | e }}</p>'
    "{% if bw_traceback %}<pre style=\"font-size:12px;background:#f6f6f6;padding:8px;white-space:pre-wrap\">"
    "{{ bw_traceback | e }}</pre>{% endif %}"
    "</body></html>"
)

#: Frames of traceback kept in the failure email (Airflow's own frames are left out).
TRACEBACK_FRAMES = 15


def describe_exception(error: BaseException | str | None) -> tuple[str, str]:
    """(``Type: message``, its traceback without Airflow's own frames) of a task's exception."""
    if error is None:
        return "(no exception recorded)", ""
    if not isinstance(error, BaseException):
        return str(error), ""
    text = f"{type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if "/site-packages/airflow/" not in f.filename.replace("\\", "/")] or frames
    parts = traceback.format_exception_only(error)
    if own:
        parts = ["Traceback (most recent call last):\n", *traceback.format_list(own[-TRACEBACK_FRAMES:]), *parts]
    lines = "".join(parts)
    return text, lines.rstrip()


class FailureNotifier:
    """``on_failure_callback``: an email per failed task through the provider's ``SmtpNotifier``.

    A fresh ``SmtpNotifier`` renders each email (the provider's notifier renders its
    templates in place, so one shared instance would repeat the first task's subject).
    """

    def __init__(self, conn_id: str = SMTP_CONN_ID) -> None:
        self.conn_id = conn_id

    def __call__(self, context: Any) -> None:
        from include.notify.smtp import sender_address, smtp_connection_exists

        if not smtp_connection_exists(self.conn_id):
            log.warning("no SMTP connection '%s': failure email not sent", self.conn_id)
            return
        to = settings().email_to
        if not to:
            log.warning("no recipients (BW_ALERT_EMAILS is empty): failure email not sent")
            return
        sender = sender_address(self.conn_id)
        if not sender:
            log.error("set 'from_email' in the extra of the SMTP connection '%s': failure email not sent",
                      self.conn_id)
            return
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        exception, trace = describe_exception(context.get("exception"))
        values = dict(context)
        values.update(bw_exception=exception, bw_traceback=trace)
        notifier = SmtpNotifier(
            to=list(to), from_email=sender, subject=FAILURE_SUBJECT, html_content=FAILURE_HTML,
            smtp_conn_id=self.conn_id,
        )
        notifier(values)
        log.info("failure email sent to %d recipient(s)", len(to))

    def __repr__(self) -> str:
        return f"FailureNotifier(conn_id={self.conn_id!r})"


def failure_notifier(conn_id: str = SMTP_CONN_ID) -> FailureNotifier:
    """The ``on_failure_callback`` every DAG puts in its ``default_args``."""
    return FailureNotifier(conn_id)


def run_failed(context: Any) -> bool:
    """Whether the DAG run of a DAG-level callback failed (its ``reason``, else the run's state)."""
    reason = context.get("reason")
    if reason:
        return str(reason) != "success"
    state = getattr(context.get("dag_run"), "state", None)
    return str(getattr(state, "value", state)) == "failed"


def run_summary_callback(context: Any) -> None:
    """DAG ``on_success_callback`` (and ``on_failure_callback``): email the run's summary.

    The summary is always written to the log; the email needs the ``smtp_default``
    connection and ``BW_ALERT_EMAILS``.
    """
    from include.notify.render import render_summary
    from include.notify.smtp import send_html_and_text, smtp_connection_exists

    dag = context.get("dag")
    dag_run = context.get("dag_run")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", "unknown")
    run_id = context.get("run_id") or getattr(dag_run, "run_id", "unknown")
    failed = run_failed(context)
    summary = _collect(dag_id, run_id, failed)
    from include.pipelines.common import skipped_summary

    skipped = skipped_summary(dag_id, run_id)
    if skipped:
        summary.notes.append(skipped)
    if failed:
        task_id = getattr(context.get("ti"), "task_id", None)
        reason = context.get("reason") or "failed"
        summary.notes.insert(0, f"the run failed ({reason})" + (f" at task {task_id}" if task_id else ""))
    subject, html, text = render_summary(summary)
    log.info("run summary of %s %s:\n%s", dag_id, run_id, text)
    if not smtp_connection_exists(SMTP_CONN_ID):
        log.warning("no SMTP connection '%s': run summary email not sent", SMTP_CONN_ID)
        return
    to = settings().email_to
    if not to:
        log.warning("no recipients (BW_ALERT_EMAILS is empty): run summary email not sent")
        return
    send_html_and_text(subject, html, text, to, SMTP_CONN_ID)
    log.info("run summary email sent to %d recipient(s)", len(to))


def _collect(dag_id: str, run_id: str, failed: bool):
    """The run's summary from the warehouse; an unreachable warehouse gives a summary saying so."""
    from include.notify.summary import RunSummary, collect_run_summary
    from include.warehouse.connection import connect

    try:
        with connect() as conn:
            return collect_run_summary(
                conn, dag_id, run_id, failed=failed, expected_stores=settings().store_allowlist or None
            )
    except Exception as exc:
        log.exception("run summary: the warehouse could not be read")
        note = f"the warehouse could not be read ({type(exc).__name__}); figures are missing"
        return RunSummary(dag_id=dag_id, run_id=run_id, failed=failed, notes=[note])
