"""What one DAG run did, read back from the warehouse's load audit (``etl.load_batches``).

Every figure comes from what the loads recorded, so the summary is the same whether it
is built right after the run or later. Empty tables give zeros, never errors.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from include.warehouse.labor_files import missing_labor_stores

if TYPE_CHECKING:
    import psycopg

#: How many quarantine reasons the summary names.
TOP_REASONS = 5

#: Batches that belong to the labor files (by target table or by source name).
_LABOR_BATCH = "(b.target_table LIKE 'labor.%%' OR b.source ILIKE '%%labor%%')"

#: ``000126.pay_summ.20260901.153045.zip`` (or ``.summary.``), possibly behind a folder path.
_LABOR_FILE = re.compile(r"(?:^|/)(\d{1,6})\.(?:pay_summ|summary)\.(\d{8})\.(\d{6})\.zip$", re.IGNORECASE)


@dataclass(frozen=True)
class TableCounts:
    """Rows of one target table in the run."""

    table: str
    batches: int
    rows_read: int
    rows_loaded: int
    rows_created: int
    rows_updated: int
    rows_quarantined: int


@dataclass(frozen=True)
class ForecastAccuracy:
    """How the current per-store sales models scored on their held-out weeks (MAPE in percent)."""

    stores: int
    median_mape: float | None
    beat_naive: int
    compared: int

    def describe(self) -> str:
        if not self.stores:
            return "no forecast models"
        median = "n/a" if self.median_mape is None else f"{self.median_mape:.1f}%"
        return (f"median backtest MAPE {median} over {self.stores} stores; "
                f"{self.beat_naive} of {self.compared} beat seasonal naive")


@dataclass
class RunSummary:
    """The run-summary email's content for one DAG run."""

    dag_id: str
    run_id: str
    failed: bool = False
    batches: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_quarantined: int = 0
    failed_batches: int = 0
    tables: list[TableCounts] = field(default_factory=list)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    run_date: date | None = None
    #: Labor only (None elsewhere): business dates of the files, files seen and files with rows.
    business_dates: list[date] | None = None
    downloaded: int | None = None
    extracted: int | None = None
    #: Labor only: expected stores without a labor file, per business date.
    missing_stores: dict[date, list[str]] | None = None
    #: Sales only.
    forecast: ForecastAccuracy | None = None
    #: Why the run failed (task id), or why the summary is incomplete.
    notes: list[str] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def title(self) -> str:
        """The domain the DAG id names (legacy subjects: "Labor processing completed"), else the id."""
        return domain_title(self.dag_id)

    @property
    def rows_unchanged(self) -> int:
        return self.rows_loaded - self.rows_created - self.rows_updated

    @property
    def errors(self) -> int:
        """Failed batches, plus one for a failed run."""
        return self.failed_batches + (1 if self.failed else 0)

    def quarantined_text(self) -> str:
        if not self.rows_quarantined:
            return "0"
        reasons = "; ".join(f"{reason} ({count})" for reason, count in self.top_reasons)
        return f"{self.rows_quarantined} (top reasons: {reasons})" if reasons else str(self.rows_quarantined)

    def missing_stores_text(self) -> str:
        if not self.business_dates:
            return "n/a (no labor files in this run)"
        if not self.missing_stores:
            return "none"
        return "; ".join(f"{day.isoformat()}: {', '.join(stores)}" for day, stores in self.missing_stores.items())

    def date_text(self) -> str:
        if self.business_dates:
            first, last = self.business_dates[0], self.business_dates[-1]
            return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
        return (self.run_date or self.generated_at.date()).isoformat()

    def as_lines(self) -> list[str]:
        """The legacy summary's lines, plus quarantine and forecast accuracy where they apply."""
        lines = [f"Date: {self.date_text()}"]
        if self.downloaded is not None:
            lines.append(f"Downloaded: {self.downloaded}")
        if self.extracted is not None:
            lines.append(f"Extracted: {self.extracted}")
        lines += [
            f"Records: {self.rows_read}",
            f"Created: {self.rows_created}",
            f"Updated: {self.rows_updated}",
            f"Quarantined: {self.quarantined_text()}",
            f"Errors: {self.errors}",
        ]
        if self.missing_stores is not None:
            lines.append(f"Missing stores: {self.missing_stores_text()}")
        if self.forecast is not None:
            lines.append(f"Forecast accuracy: {self.forecast.describe()}")
        lines.append(f"Timestamp: {self.generated_at.isoformat(timespec='seconds')}")
        return lines


#: Domains named in the subject as the legacy mailer did ("Labor processing completed").
DOMAINS = ("labor", "sales", "stores", "access", "maintenance")


def domain_title(dag_id: str) -> str:
    """``Labor`` for ``labor`` (or ``labor_backfill``); other ids humanised (``my_dag`` -> ``My dag``)."""
    lowered = dag_id.lower()
    for domain in DOMAINS:
        if domain in lowered:
            return domain.capitalize()
    return dag_id.replace("_", " ").strip().capitalize() or "Pipeline"


def is_labor_run(dag_id: str) -> bool:
    return "labor" in dag_id.lower()


def is_sales_run(dag_id: str) -> bool:
    return "sales" in dag_id.lower() or "forecast" in dag_id.lower()


def collect_run_summary(
    conn: psycopg.Connection,
    dag_id: str,
    run_id: str,
    *,
    failed: bool = False,
    expected_stores: Collection[str] | None = None,
) -> RunSummary:
    """Build the summary of one DAG run from ``etl.load_batches`` and ``etl.quarantine``.

    Labor runs also get files downloaded/extracted and the stores missing a labor file
    for the run's business dates (only ``expected_stores`` when given, e.g. the rollout
    allowlist); sales runs get the forecast models' accuracy.
    """
    summary = RunSummary(dag_id=dag_id, run_id=run_id, failed=failed)
    _add_batches(conn, summary)
    _add_reasons(conn, summary)
    labor_items = _labor_items(conn, dag_id, run_id)
    if is_labor_run(dag_id) or labor_items:
        _add_labor(conn, summary, labor_items, expected_stores)
    if is_sales_run(dag_id):
        summary.forecast = forecast_accuracy(conn)
    return summary


def _add_batches(conn: psycopg.Connection, summary: RunSummary) -> None:
    rows = conn.execute(
        """SELECT b.target_table, count(*),
                  coalesce(sum(b.rows_read), 0), coalesce(sum(b.rows_loaded), 0),
                  coalesce(sum(b.rows_inserted), 0), coalesce(sum(b.rows_updated), 0),
                  coalesce(sum(b.rows_quarantined), 0),
                  count(*) FILTER (WHERE b.status = 'failed'), min(b.started_at)
           FROM etl.load_batches b WHERE b.dag_id = %s AND b.run_id = %s
           GROUP BY b.target_table ORDER BY b.target_table""",
        (summary.dag_id, summary.run_id),
    ).fetchall()
    starts = [r[8] for r in rows if r[8] is not None]
    summary.run_date = min(starts).date() if starts else None
    for table, batches, read, loaded, created, updated, quarantined, failed, _ in rows:
        summary.tables.append(TableCounts(table, batches, read, loaded, created, updated, quarantined))
        summary.batches += batches
        summary.rows_read += read
        summary.rows_loaded += loaded
        summary.rows_created += created
        summary.rows_updated += updated
        summary.rows_quarantined += quarantined
        summary.failed_batches += failed


def _add_reasons(conn: psycopg.Connection, summary: RunSummary) -> None:
    rows = conn.execute(
        """SELECT q.reason, count(*) FROM etl.quarantine q
           JOIN etl.load_batches b USING (batch_id)
           WHERE b.dag_id = %s AND b.run_id = %s
           GROUP BY q.reason ORDER BY count(*) DESC, q.reason LIMIT %s""",
        (summary.dag_id, summary.run_id, TOP_REASONS),
    ).fetchall()
    summary.top_reasons = [(reason, int(count)) for reason, count in rows]


def _labor_items(conn: psycopg.Connection, dag_id: str, run_id: str) -> dict[str, int]:
    """Labor source items of the run and the rows read from each."""
    rows = conn.execute(
        f"""SELECT b.source_item, sum(b.rows_read) FROM etl.load_batches b
            WHERE b.dag_id = %s AND b.run_id = %s AND {_LABOR_BATCH}
            GROUP BY b.source_item""",
        (dag_id, run_id),
    ).fetchall()
    return {item: int(read) for item, read in rows}


def labor_file_date(item: str) -> date | None:
    """The business date in a labor file name (``000126.pay_summ.20260901.153045.zip``), if it is one."""
    match = _LABOR_FILE.search(item)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(2), "%Y%m%d").date()
    except ValueError:
        return None


def _add_labor(
    conn: psycopg.Connection, summary: RunSummary, items: dict[str, int], expected: Collection[str] | None
) -> None:
    summary.downloaded = len(items)
    summary.extracted = sum(1 for read in items.values() if read > 0)
    summary.business_dates = sorted({d for d in map(labor_file_date, items) if d is not None})
    summary.missing_stores = missing_labor_stores(conn, summary.business_dates, expected)




def forecast_accuracy(conn: psycopg.Connection) -> ForecastAccuracy:
    """Median backtest MAPE of the stores' chosen models and how many beat seasonal naive."""
    stores, median, beat, compared = conn.execute(
        """SELECT count(*),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY backtest_mape),
                  count(*) FILTER (WHERE backtest_mape < naive_mape),
                  count(*) FILTER (WHERE backtest_mape IS NOT NULL AND naive_mape IS NOT NULL)
           FROM sales.forecast_models"""
    ).fetchone()
    return ForecastAccuracy(int(stores), None if median is None else float(median), int(beat), int(compared))
