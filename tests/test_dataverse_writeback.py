"""Write-back of forecasts and labor hours to the Dataverse double: protected rows, kept failures, retries."""

from __future__ import annotations

from datetime import date

import pytest

from include.sources.dataverse import DataverseTableStore
from include.writeback import forecasts, labor
from include.writeback.forecasts import write_sales_forecasts
from include.writeback.labor import write_labor_hours
from plugins.hooks.dataverse import DataverseHook
from tests.doubles import fixtures

pytestmark = pytest.mark.dataverse
microsoft = fixtures.microsoft


def test_forecasts_never_overwrite_protected_rows(microsoft, warehouse):
    dv = microsoft.dataverse
    dv.table(forecasts.ENTITY_SET, "crf63_bwsalesforecastid", forecasts.KEY)
    with warehouse.transaction():
        for dow in range(1, 8):
            for daypart in ("Lunch", "Dinner"):
                warehouse.execute(
                    "INSERT INTO sales.forecast_daypart (store_id, fiscal_week_label, day_of_week, daypart, "
                    "forecast_sales) VALUES ('000126', 'Y2026W08', %s, %s, %s)", (dow, daypart, 100 + dow))
        warehouse.execute("INSERT INTO sales.forecast_daypart VALUES ('000999', 'Y2026W08', 1, 'Lunch', 5)")
    dv.put(forecasts.ENTITY_SET, {"crf63_forecasteddaypart": "Lunch", "crf63_forecasteddow": 3,
                                  "crf63_forecastedfiscalweek": "Y2026W08", "crf63_forecastedstore": "000126",
                                  "crf63_forecastedsales": 555.0, "crf63_overwrite": True})
    store = DataverseTableStore(DataverseHook())
    result = write_sales_forecasts(warehouse, store, stores={"000126"})
    assert (result.created, result.updated, result.skipped, result.failed) == (13, 0, 1, [])
    rows = dv.rows(forecasts.ENTITY_SET)
    assert len(rows) == 14 and not any(r["crf63_forecastedstore"] == "000999" for r in rows)
    protected = [r for r in rows if r.get("crf63_overwrite")]
    assert len(protected) == 1 and protected[0]["crf63_forecastedsales"] == 555.0
    sample = next(r for r in rows if r["crf63_forecasteddow"] == 1 and r["crf63_forecasteddaypart"] == "Dinner")
    assert sample["crf63_forecastedsales"] == 101.0 and sample["crf63_dateofforecast"] == date.today().isoformat()
    again = write_sales_forecasts(warehouse, store, stores={"000126"})
    assert (again.created, again.updated, again.skipped) == (0, 13, 1)


def test_labor_failures_are_kept_reported_and_retried_next_run(microsoft, warehouse):
    dv = microsoft.dataverse
    accept_all = {"on": False}

    def validate(record):
        if not accept_all["on"] and record["crf63_totalhours"] > 24:
            return "0x80044331", "A validation error occurred. crf63_totalhours is outside the allowed range."
        return None

    dv.table(labor.ENTITY_SET, "crf63_labortimeid", labor.KEY, validate=validate)
    with warehouse.transaction():
        for emp, hours, day in (("E1", 4, 1), ("E2", 30, 1), ("E3", 2.5, 1), ("E4", 6, 2)):
            warehouse.execute(
                "INSERT INTO labor.hours_daypart (store_id, employee_id, business_date, daypart, hours, "
                "employee_name) VALUES ('000126', %s, %s, 'Lunch', %s, %s)", (emp, date(2026, 9, day), hours, emp))
    dv.put(labor.ENTITY_SET, {"crf63_businesskey": "000126_E3_20260901_Lunch", "crf63_totalhours": 9.0,
                              "crf63_overwrite": True})
    store = DataverseTableStore(DataverseHook())
    first = write_labor_hours(warehouse, store)
    assert (first.created, first.skipped, len(first.failed)) == (2, 1, 1)
    assert first.failed[0]["key"] == {"crf63_businesskey": "000126_E2_20260901_Lunch"}
    assert first.failed[0]["code"] == "0x80044331"
    kept = warehouse.execute("SELECT row_key, error_code, attempts, payload->>'crf63_totalhours' "
                             "FROM etl.writeback_failures").fetchall()
    assert kept == [('["000126_E2_20260901_Lunch"]', "0x80044331", 1, "30.0")]
    record = next(r for r in dv.rows(labor.ENTITY_SET) if r["crf63_businesskey"] == "000126_E1_20260901_Lunch")
    assert record["crf63_workdate"] == "2026-09-01" and record["crf63_totalhours"] == 4.0
    assert record["crf63_storenumber"] == "000126" and record["crf63_employeename"] == "E1"

    # Next run covers only 2 September, yet the failed row of 1 September is sent again.
    second = write_labor_hours(warehouse, store, since=date(2026, 9, 2))
    assert (second.created, second.updated, len(second.failed)) == (0, 1, 1)
    assert warehouse.execute("SELECT attempts FROM etl.writeback_failures").fetchone()[0] == 2
    accept_all["on"] = True
    third = write_labor_hours(warehouse, store, since=date(2026, 9, 2))
    assert (third.created, third.updated, third.failed) == (1, 1, [])
    assert warehouse.execute("SELECT count(*) FROM etl.writeback_failures").fetchone()[0] == 0
    protected = next(r for r in dv.rows(labor.ENTITY_SET) if r["crf63_businesskey"] == "000126_E3_20260901_Lunch")
    assert protected["crf63_totalhours"] == 9.0
