"""forecast_sales / forecast_labor against a real warehouse: rows written, exact splits, idempotent re-runs."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from bench.forecast_synthetic import fiscal_calendar, sample_sales
from include.forecast.labor import LABOR_DAYPARTS
from include.forecast.pipeline import forecast_labor, forecast_sales

LAST_DAY = date(2026, 2, 18)  # a Wednesday: fiscal week Y2026W08 is partial
TABLES = ("sales.forecast_weekly", "sales.forecast_daypart", "sales.forecast_models", "labor.forecast_daypart",
          "etl.load_batches")


def _seed(conn) -> None:
    history = {"001089": 800, "100002": 220, "100003": 10, "100004": 400}
    daily = sample_sales(4, LAST_DAY, history_days=list(history.values()), seed=5)
    daily["store_id"] = daily["store_id"].map(dict(zip(["100001", "100002", "100003", "100004"], history,
                                                       strict=True)))
    # Two channels per cell, as in the source.
    daily = pd.concat([daily.assign(channel="carryout", net_sales=(daily["net_sales"] * 0.6).round(2)),
                       daily.assign(channel="delivery", net_sales=(daily["net_sales"] * 0.4).round(2))])
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO core.stores (store_id, store_name, active) VALUES (%s, %s, %s)",
            [("001089", "Main St", True), ("100002", "Harbor", True), ("100003", "New Mall", True),
             ("100004", "Closed Rd", False)],
        )
        with cur.copy("COPY core.fiscal_calendar (calendar_date, fiscal_year, fiscal_week, fiscal_week_label) "
                      "FROM STDIN") as copy:
            for row in fiscal_calendar(2023, 2027).itertuples(index=False):
                copy.write_row(row)
        cur.execute("SELECT sales.ensure_month_partitions(%s, %s)", (date(2023, 1, 1), date(2026, 12, 31)))
        with cur.copy("COPY sales.channel_daily (store_id, business_date, channel, daypart, net_sales, orders) "
                      "FROM STDIN") as copy:
            for row in daily[["store_id", "business_date", "channel", "daypart", "net_sales", "orders"]].itertuples(
                    index=False):
                copy.write_row(row)
        # Labor for 001089 over the trailing weeks: 1 hour per $80 of sales, plus fixed Morning/Late Night hours.
        labor = daily[(daily["store_id"] == "001089") & (daily["business_date"] >= date(2025, 12, 1))]
        cells = labor.groupby(["business_date", "daypart"], as_index=False)["net_sales"].sum()
        rows = [("001089", "E1", r.business_date, r.daypart, round(r.net_sales / 80, 4)) for r in cells.itertuples()]
        rows += [("001089", "E1", d, part, 3.0) for d in cells["business_date"].unique()
                 for part in ("Morning", "Late Night")]
        cur.executemany(
            "INSERT INTO labor.hours_daypart (store_id, employee_id, business_date, daypart, hours) "
            "VALUES (%s, %s, %s, %s, %s)", rows)
    conn.commit()


def _snapshot(conn) -> dict[str, list]:
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall() for t in TABLES}


@pytest.fixture
def seeded(warehouse):
    _seed(warehouse)
    return warehouse


def test_forecast_sales_writes_rows_and_a_rerun_changes_nothing(seeded):
    conn = seeded
    first = forecast_sales(conn, dag_id="sales", run_id="r1")
    assert first["skipped"] is False
    assert first["last_complete_week"] == "Y2026W07"
    assert first["horizon"] == ["Y2026W08", "Y2026W09", "Y2026W10", "Y2026W11", "Y2026W12"]
    assert first["stores_forecast"] == 3  # the inactive store is left out
    assert first["rows_written"] == {"sales.forecast_weekly": 15, "sales.forecast_daypart": 420,
                                     "sales.forecast_models": 3}
    models = {r[0]: r[1:] for r in conn.execute(
        "SELECT store_id, family, history_weeks, backtest_mape, naive_mape FROM sales.forecast_models")}
    assert models["001089"][0] in {"fourier-arima", "tuned-sarima", "seasonal-naive", "arima-default",
                                  "combination"}
    # 800 days from Tuesday 2023-12-12: the partial first week is dropped.
    assert models["001089"][1] == 113 and models["001089"][2] is not None
    assert models["100002"][1] == 31
    assert models["100003"][0] in {"store-mean", "peer-median"}
    candidates = conn.execute("SELECT candidates FROM sales.forecast_models WHERE store_id = '001089'").fetchone()[0]
    assert "tuned SARIMA(3,1,1)(1,1,0,52)" in candidates and "seasonal-naive" in candidates
    assert conn.execute("SELECT min(forecast_sales) FROM sales.forecast_weekly").fetchone()[0] > 0
    mismatched = conn.execute(
        """SELECT count(*) FROM sales.forecast_weekly w
           JOIN (SELECT store_id, fiscal_week_label, sum(forecast_sales) AS s, min(business_date) AS d
                 FROM sales.forecast_daypart GROUP BY 1, 2) c USING (store_id, fiscal_week_label)
           WHERE c.s <> w.forecast_sales OR c.d <> w.week_start"""
    ).fetchone()[0]
    assert mismatched == 0
    before = _snapshot(conn)

    second = forecast_sales(conn, dag_id="sales", run_id="r2")
    assert second["skipped"] is True and set(second["rows_written"].values()) == {0}
    assert _snapshot(conn) == before

    # A corrected day for one store: forecast again; the other stores' numbers are the same.
    conn.execute("UPDATE sales.channel_daily SET net_sales = net_sales * 3 "
                 "WHERE store_id = '100002' AND business_date = '2026-02-10'")
    conn.commit()
    third = forecast_sales(conn, dag_id="sales", run_id="r3")
    assert third["skipped"] is False
    after = [r[:6] for r in conn.execute("SELECT * FROM sales.forecast_weekly ORDER BY 1, 2")]
    earlier = [r[:6] for r in before["sales.forecast_weekly"]]
    assert [r for r in after if r[0] == "001089"] == [r for r in earlier if r[0] == "001089"]
    assert [r for r in after if r[0] == "100002"] != [r for r in earlier if r[0] == "100002"]

    # Reverting the correction is new input again (not mistaken for the first load): values come back.
    conn.execute("UPDATE sales.channel_daily SET net_sales = round(net_sales / 3, 2) "
                 "WHERE store_id = '100002' AND business_date = '2026-02-10'")
    conn.commit()
    fourth = forecast_sales(conn, dag_id="sales", run_id="r4")
    assert fourth["skipped"] is False
    values = "SELECT store_id, fiscal_week_label, forecast_sales, model FROM sales.forecast_weekly ORDER BY 1, 2"
    assert conn.execute(values).fetchall() == [r[:2] + r[3:4] + r[4:5] for r in before["sales.forecast_weekly"]]

    # One store again: only its rows are re-stamped (the date of forecast), with the same numbers.
    subset = forecast_sales(conn, dag_id="sales", run_id="r5", stores={"100002"})
    assert subset["stores_forecast"] == 1
    assert subset["rows_written"] == {"sales.forecast_weekly": 5, "sales.forecast_daypart": 140,
                                      "sales.forecast_models": 1}
    assert conn.execute(values).fetchall() == [r[:2] + r[3:4] + r[4:5] for r in before["sales.forecast_weekly"]]
    stamps = dict(conn.execute("SELECT store_id, max(generated_at) FROM sales.forecast_weekly GROUP BY 1").fetchall())
    assert stamps["100002"] > stamps["001089"]
    json.dumps(subset)  # an XCom-able summary


def test_forecast_labor_hours_and_idempotent_rerun(seeded):
    conn = seeded
    forecast_sales(conn, dag_id="sales", run_id="r1")
    first = forecast_labor(conn, dag_id="labor", run_id="r1")
    assert first["skipped"] is False
    assert first["rows_written"] == 3 * 35 * len(LABOR_DAYPARTS)
    assert "001089" not in first["stores_without_labor_history"]
    row = conn.execute(
        """SELECT hours_needed, forecast_sales, sales_per_labor_hour FROM labor.forecast_daypart
           WHERE store_id = '001089' AND business_date = '2026-02-20' AND daypart = 'Dinner'"""
    ).fetchone()
    assert float(row[2]) == pytest.approx(80, rel=0.01)
    assert float(row[0]) == pytest.approx(max(2 * 4, float(row[1]) / float(row[2])), abs=0.02)
    morning = conn.execute(
        "SELECT hours_needed FROM labor.forecast_daypart WHERE store_id = '001089' AND daypart = 'Morning'"
    ).fetchall()
    assert {float(r[0]) for r in morning} == {3.0}
    before = _snapshot(conn)
    json.dumps(first)
    second = forecast_labor(conn, dag_id="labor", run_id="r2")
    assert second["skipped"] is True
    assert _snapshot(conn) == before


def test_forecast_sales_refuses_an_empty_calendar(warehouse):
    with pytest.raises(ValueError, match="fiscal_calendar is empty"):
        forecast_sales(warehouse, dag_id="sales", run_id="r1")
