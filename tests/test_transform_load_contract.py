"""The transforms' clean frames load as they are through the batch loader (types, NULLs, keys)."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pandas as pd

from include.transforms.calendar import transform_calendar
from include.transforms.labor import transform_labor_zip
from include.transforms.sales import KEY, transform_sales
from include.transforms.stores import read_stores_sheet, transform_stores
from include.warehouse.loader import BatchInfo, Target, load_batch


def info(item: str) -> BatchInfo:
    return BatchInfo(dag_id="test", run_id="r1", source="test", source_item=item, source_etag="e1")


def test_clean_frames_load_through_the_batch_loader(warehouse, tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Stores"
    book.active.append(["banner"])
    book.active.append(["Stores Number 0", "Store Name", "City", "State", "Open Date", "Status"])
    book.active.append([126, "Main", "Akron", "OH", datetime(2019, 5, 1), "Open"])
    book.active.append(["127", "East", None, None, None, "Closed"])
    book.active.append(["bad", "Bad", None, None, None, None])
    book.save(tmp_path / "dims.xlsx")
    stores = transform_stores(read_stores_sheet(tmp_path / "dims.xlsx"))
    result = load_batch(warehouse, Target("core", "stores", ("store_id",)), stores.clean, stores.rejects,
                        info("stores"))
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert warehouse.execute("SELECT store_id, location, opened_on, active FROM core.stores ORDER BY 1").fetchall() == [
        ("000126", "Akron, OH", date(2019, 5, 1), True), ("000127", None, None, False)]
    raw, reason = warehouse.execute("SELECT raw, reason FROM etl.quarantine").fetchone()
    assert raw["Stores Number 0"] == "bad" and reason.startswith("invalid store number:")

    calendar = transform_calendar(pd.DataFrame([
        {"crf63_date": "2026-09-01", "crf63_fiscalweeknumber": 36, "crf63_fiscalyearnumber": 2026,
         "crf63_fiscalyearlabel": "FY2026"}]))
    load_batch(warehouse, Target("core", "fiscal_calendar", ("calendar_date",)), calendar.clean, calendar.rejects,
               info("calendar"))
    assert warehouse.execute("SELECT * FROM core.fiscal_calendar").fetchone()[:4] == (
        date(2026, 9, 1), 2026, 36, "Y2026W36")

    sales = transform_sales(pd.DataFrame([
        {"crf63_saleschanneldailyid": "g1", "crf63_storenumber": "126", "crf63_calendardate": "2026-09-01",
         "crf63_sourcechannel": "Online", "crf63_daypart": "lunch", "crf63_tynetsalesusd": 10.5,
         "crf63_tyorders": 2, "crf63_discountsusd": None, "crf63_lynetsalesusd": None, "crf63_lyorders": None,
         "modifiedon": "2026-09-02T05:00:00Z"},
        {"crf63_saleschanneldailyid": "g2", "crf63_storenumber": "000126", "crf63_calendardate": "2026-10-01",
         "crf63_sourcechannel": "carryout", "crf63_daypart": "Dinner", "crf63_tynetsalesusd": 99.99,
         "crf63_tyorders": 7, "crf63_discountsusd": 1.25, "crf63_lynetsalesusd": 80.0, "crf63_lyorders": 6,
         "modifiedon": "2026-10-02T05:00:00Z"},
    ]))

    def partitions(conn, frame):
        conn.execute("SELECT sales.ensure_month_partitions(%s, %s)",
                     (frame["business_date"].min(), frame["business_date"].max()))

    load_batch(warehouse, Target("sales", "channel_daily", KEY, prepare=partitions), sales.clean, sales.rejects,
               info("sales"))
    assert warehouse.execute(
        "SELECT store_id, business_date, channel, daypart, net_sales, orders, discounts, ly_net_sales, ly_orders,"
        " source_modified FROM sales.channel_daily ORDER BY business_date").fetchall() == [
        ("000126", date(2026, 9, 1), "online", "Lunch", Decimal("10.50"), 2, Decimal("0.00"), None, None,
         datetime(2026, 9, 2, 5, tzinfo=UTC)),
        ("000126", date(2026, 10, 1), "carryout", "Dinner", Decimal("99.99"), 7, Decimal("1.25"), Decimal("80.00"), 6,
         datetime(2026, 10, 2, 5, tzinfo=UTC)),
    ]

    path = tmp_path / "000126.pay_summ.20260901.153045.zip"
    with zipfile.ZipFile(path, "w") as archive:
        card = ["000126", "1", "20260901", "1", "Crew", "10", "R", "2026-09-01 20:00:00 EDT",
                "2026-09-02 02:00:00 EDT", "0", "E1", "C", "340", "20"]
        archive.writestr("000126.p_hs_timecard_record.20260901_1.csv", "\t".join(card) + "\n" + "short\n")
        archive.writestr("000126.p_hs_employee_detail.20260901_1.csv", "000126\tx\ty\tE1\tAda\t\n")
    labor = transform_labor_zip(path)
    result = load_batch(warehouse, Target("labor", "hours_daypart", ("store_id", "employee_id", "business_date",
                                                                      "daypart")),
                        labor.hours, labor.rejects, info(labor.source_item))
    assert result.rows_quarantined == 1 and labor.rows_read == labor.timecards_loaded + result.rows_quarantined
    load_batch(warehouse, Target("labor", "employees", ("store_id", "employee_id")), labor.employees,
               labor.employee_rejects, info("employees"))
    assert warehouse.execute(
        "SELECT daypart, hours, employee_name, source_item FROM labor.hours_daypart ORDER BY hours").fetchall() == [
        ("Dinner", Decimal("1.0000"), "Ada", path.name), ("Late Night", Decimal("2.0000"), "Ada", path.name),
        ("Evening", Decimal("3.0000"), "Ada", path.name)]
    assert warehouse.execute("SELECT first_name, last_name FROM labor.employees").fetchall() == [("Ada", None)]
    quarantined = warehouse.execute("SELECT raw FROM etl.quarantine WHERE source_item = %s",
                                    (labor.source_item,)).fetchone()[0]
    assert quarantined == {"file": path.name, "member": "000126.p_hs_timecard_record.20260901_1.csv",
                           "store": "short"}
    json.dumps(quarantined)
