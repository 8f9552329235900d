"""The run-summary email: subject, HTML body and plain-text body from a :class:`RunSummary`."""

from __future__ import annotations

from html import escape

from include.notify.summary import RunSummary

_CELL = "padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:left"
_NUM = "padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:right"


def render_subject(summary: RunSummary) -> str:
    """Legacy wording: "Labor processing completed" or "Labor processing failed"."""
    return f"{summary.title} processing {'failed' if summary.failed else 'completed'}"


def render_text(summary: RunSummary) -> str:
    """The plain-text part: the legacy lines, then the per-table counts and notes."""
    lines = [render_subject(summary), "", *summary.as_lines()]
    if summary.tables:
        lines += ["", "By table (batches, read, loaded, created, updated, quarantined):"]
        lines += [
            f"  {t.table}: {t.batches}, {t.rows_read}, {t.rows_loaded}, {t.rows_created}, {t.rows_updated}, "
            f"{t.rows_quarantined}"
            for t in summary.tables
        ]
    if summary.notes:
        lines += ["", *(f"Note: {note}" for note in summary.notes)]
    lines += ["", f"DAG {summary.dag_id}, run {summary.run_id}"]
    return "\n".join(lines) + "\n"


def _facts(summary: RunSummary) -> str:
    rows = []
    for line in summary.as_lines():
        label, _, value = line.partition(": ")
        rows.append(f'<tr><th style="{_CELL}">{escape(label)}</th><td style="{_CELL}">{escape(value)}</td></tr>')
    return f'<table style="border-collapse:collapse">{"".join(rows)}</table>'


def _tables(summary: RunSummary) -> str:
    if not summary.tables:
        return "<p>No batches were loaded in this run.</p>"
    head = "".join(
        f'<th style="{_NUM if i else _CELL}">{escape(h)}</th>'
        for i, h in enumerate(["Table", "Batches", "Read", "Loaded", "Created", "Updated", "Quarantined"])
    )
    body = "".join(
        f'<tr><td style="{_CELL}">{escape(t.table)}</td>'
        + "".join(
            f'<td style="{_NUM}">{n:,}</td>'
            for n in (t.batches, t.rows_read, t.rows_loaded, t.rows_created, t.rows_updated, t.rows_quarantined)
        )
        + "</tr>"
        for t in summary.tables
    )
    return f'<table style="border-collapse:collapse"><tr>{head}</tr>{body}</table>'


def _reasons(summary: RunSummary) -> str:
    if not summary.top_reasons:
        return ""
    items = "".join(f"<li>{escape(reason)}: {count:,}</li>" for reason, count in summary.top_reasons)
    return f"<h3>Top quarantine reasons</h3><ul>{items}</ul>"


def render_html(summary: RunSummary) -> str:
    """A small, self-contained HTML page (inline styles only, as mail clients require)."""
    colour = "#b00020" if summary.failed else "#1b5e20"
    notes = "".join(f"<p><strong>Note:</strong> {escape(note)}</p>" for note in summary.notes)
    return (
        "<!DOCTYPE html><html><body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222\">"
        f'<h2 style="color:{colour}">{escape(render_subject(summary))}</h2>'
        f"{notes}{_facts(summary)}"
        f"<h3>By table</h3>{_tables(summary)}{_reasons(summary)}"
        f'<p style="color:#777;font-size:12px">DAG {escape(summary.dag_id)}, run {escape(summary.run_id)}</p>'
        "</body></html>"
    )


def render_summary(summary: RunSummary) -> tuple[str, str, str]:
    """(subject, html, text) of the run-summary email."""
    return render_subject(summary), render_html(summary), render_text(summary)
