"""Per-store reporting schemas, the read-only Metabase role and the dq views, on a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from include.warehouse.reporting import READONLY_ROLE, TEMPLATE_PATH, refresh_reporting_schemas, render, schema_name

HOSTILE_NAME = "Evil'); DROP SCHEMA sales CASCADE; --"

#: The views and leading columns the Metabase dashboard templates rely on.
CONTRACT = {
    "daily_sales": ["business_date", "channel", "daypart", "net_sales", "orders", "discounts", "ly_net_sales",
                    "ly_orders"],
    "weekly_sales": ["fiscal_week_label", "week_start", "net_sales", "orders", "ly_net_sales", "ly_orders"],
    "sales_forecast_weekly": ["fiscal_week_label", "week_start", "forecast_sales", "model", "backtest_mape"],
    "sales_forecast_daypart": ["fiscal_week_label", "business_date", "day_of_week", "daypart", "forecast_sales"],
    "labor_hours": ["business_date", "daypart", "employee_id", "employee_name", "hours"],
    "labor_forecast_vs_actual": ["business_date", "daypart", "hours_needed", "hours_actual", "gap_hours",
                                 "forecast_sales"],
}


def _seed(conn: psycopg.Connection) -> None:
    """Two stores (one with a hostile name), two fiscal weeks of sales, forecasts and labor."""
    conn.execute(
        "INSERT INTO core.stores (store_id, store_name) VALUES ('000126', 'Main St'), ('000200', %s)", (HOSTILE_NAME,)
    )
    conn.execute(
        """INSERT INTO core.fiscal_calendar (calendar_date, fiscal_year, fiscal_week, fiscal_week_label)
           SELECT d::date, 2025, 2 + (d::date - date '2025-01-06') / 7,
                  'Y2025W0' || (2 + (d::date - date '2025-01-06') / 7)
           FROM generate_series(date '2025-01-06', date '2025-01-19', interval '1 day') d"""
    )
    conn.execute("SELECT sales.ensure_month_partitions('2025-01-01', '2025-01-31')")
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO sales.channel_daily (store_id, business_date, channel, daypart, net_sales, orders,
                   discounts, ly_net_sales, ly_orders) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                ("000126", date(2025, 1, 6), "carryout", "Lunch", 100, 10, 5, 90, 9),
                ("000126", date(2025, 1, 13), "delivery", "Dinner", 200, 20, 0, None, None),
                ("000200", date(2025, 1, 6), "carryout", "Lunch", 999, 99, 0, 1, 1),
            ],
        )
        cur.executemany(
            """INSERT INTO sales.forecast_weekly (store_id, fiscal_week_label, week_start, forecast_sales, model,
                   backtest_mape) VALUES (%s, %s, %s, %s, %s, %s)""",
            [("000126", "Y2025W02", date(2025, 1, 6), 110, "sarima", 0.1),
             ("000126", "Y2025W09", date(2025, 2, 24), 120, "sarima", 0.1),
             ("000200", "Y2025W02", date(2025, 1, 6), 500, "naive", 0.3)],
        )
        cur.executemany(
            """INSERT INTO sales.forecast_daypart (store_id, fiscal_week_label, day_of_week, daypart, forecast_sales)
               VALUES (%s, %s, %s, %s, %s)""",
            [("000126", "Y2025W02", 2, "Lunch", 50), ("000200", "Y2025W02", 2, "Lunch", 77)],
        )
        cur.executemany(
            """INSERT INTO labor.hours_daypart (store_id, employee_id, business_date, daypart, hours, employee_name)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            [("000126", "E1", date(2025, 1, 6), "Lunch", 4.5, None),
             ("000126", "E2", date(2025, 1, 6), "Lunch", 3, "Sam Roe"),
             ("000126", "E1", date(2025, 1, 7), "Dinner", 2, None),
             ("000200", "E9", date(2025, 1, 6), "Lunch", 8, "Secret Person")],
        )
        conn.execute("INSERT INTO labor.employees (store_id, employee_id, first_name, last_name) "
                     "VALUES ('000126', 'E1', 'Jo', 'Park')")
        cur.executemany(
            """INSERT INTO labor.forecast_daypart (store_id, business_date, daypart, hours_needed, forecast_sales)
               VALUES (%s, %s, %s, %s, %s)""",
            [("000126", date(2025, 1, 6), "Lunch", 6, 300), ("000126", date(2025, 1, 8), "Lunch", 5, 250),
             ("000200", date(2025, 1, 6), "Lunch", 9, 900)],
        )


@pytest.fixture
def admin(warehouse_url) -> Iterator[psycopg.Connection]:
    """A superuser connection to a seeded warehouse (autocommit)."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _seed(conn)
        yield conn


@pytest.fixture
def reader(warehouse_url, admin) -> Iterator[psycopg.Connection]:
    """A real login role that is a member of bw_metabase_ro, as Metabase's user is in production."""
    name, password = f"bw_test_reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
        sql.Identifier(name), sql.Literal(password), sql.Identifier(READONLY_ROLE)))
    params = conninfo_to_dict(warehouse_url)
    params.update(user=name, password=password)
    try:
        with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:
            yield conn
            conn.execute("DISCARD TEMP")  # temp objects of the role would block DROP ROLE
    finally:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _view_oids(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute(
        """SELECT n.nspname || '.' || c.relname, c.oid::int FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'store%%'"""
    ).fetchall()
    return dict(rows)


def test_a_schema_per_store_with_the_contract_views(admin):
    result = refresh_reporting_schemas(admin)
    assert result == {"created": ["000126", "000200"], "refreshed": [], "unchanged": 0}
    for store in ("000126", "000200"):
        for view, columns in CONTRACT.items():
            actual = [r[0] for r in admin.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position", (f"store_{store}", view)).fetchall()]
            assert actual[: len(columns)] == columns, view
        options = admin.execute(
            """SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %s""", (f"store_{store}",)).fetchall()
        assert {r[0] for r in options} == set(CONTRACT)
        assert all(r[1] == ["security_barrier=true"] for r in options)
    recorded = admin.execute("SELECT schema_name, store_id FROM etl.reporting_schemas ORDER BY 1").fetchall()
    assert recorded == [("store_000126", "000126"), ("store_000200", "000200")]


def test_views_show_only_their_store(admin):
    refresh_reporting_schemas(admin)
    s = "store_000126"
    assert admin.execute(f"SELECT business_date, net_sales, ly_orders FROM {s}.daily_sales ORDER BY 1").fetchall() == [
        (date(2025, 1, 6), Decimal("100.00"), 9), (date(2025, 1, 13), Decimal("200.00"), None)]
    assert admin.execute(f"SELECT fiscal_week_label, week_start, net_sales FROM {s}.weekly_sales ORDER BY 1").fetchall(
    ) == [("Y2025W02", date(2025, 1, 6), Decimal("100.00")), ("Y2025W03", date(2025, 1, 13), Decimal("200.00"))]
    assert admin.execute(f"SELECT fiscal_week_label, forecast_sales FROM {s}.sales_forecast_weekly ORDER BY 1"
                         ).fetchall() == [("Y2025W02", Decimal("110.00")), ("Y2025W09", Decimal("120.00"))]
    # business_date comes from the fiscal calendar when the forecast row has none (day 2 = Tuesday).
    assert admin.execute(f"SELECT business_date, forecast_sales FROM {s}.sales_forecast_daypart").fetchall() == [
        (date(2025, 1, 7), Decimal("50.00"))]
    assert admin.execute(f"SELECT employee_id, employee_name, hours FROM {s}.labor_hours ORDER BY 1, 3").fetchall(
    ) == [("E1", "Jo Park", Decimal("2.0000")), ("E1", "Jo Park", Decimal("4.5000")), ("E2", "Sam Roe",
                                                                                       Decimal("3.0000"))]
    assert admin.execute(f"SELECT * FROM {s}.labor_forecast_vs_actual ORDER BY 1, 2").fetchall() == [
        (date(2025, 1, 6), "Lunch", Decimal("6.00"), Decimal("7.5000"), Decimal("1.5000"), Decimal("300.00")),
        (date(2025, 1, 7), "Dinner", None, Decimal("2.0000"), None, None),
        (date(2025, 1, 8), "Lunch", Decimal("5.00"), None, None, Decimal("250.00")),
    ]
    assert admin.execute("SELECT net_sales FROM store_000200.daily_sales").fetchall() == [(Decimal("999.00"),)]


def test_unchanged_template_leaves_schemas_untouched(admin):
    refresh_reporting_schemas(admin)
    oids = _view_oids(admin)
    stamps = admin.execute("SELECT store_id, refreshed_at FROM etl.reporting_schemas ORDER BY 1").fetchall()
    assert refresh_reporting_schemas(admin) == {"created": [], "refreshed": [], "unchanged": 2}
    assert _view_oids(admin) == oids
    assert admin.execute("SELECT store_id, refreshed_at FROM etl.reporting_schemas ORDER BY 1").fetchall() == stamps


def test_a_new_store_gets_its_schema(admin):
    refresh_reporting_schemas(admin)
    admin.execute("INSERT INTO core.stores (store_id, store_name) VALUES ('000301', 'New')")
    assert refresh_reporting_schemas(admin) == {"created": ["000301"], "refreshed": [], "unchanged": 2}
    assert admin.execute("SELECT count(*) FROM store_000301.daily_sales").fetchone()[0] == 0


def test_a_subset_of_stores(admin):
    assert refresh_reporting_schemas(admin, {"000200"}) == {"created": ["000200"], "refreshed": [], "unchanged": 0}
    assert admin.execute("SELECT to_regnamespace('store_000126')").fetchone()[0] is None
    assert refresh_reporting_schemas(admin, {"000999", "000126"}) == {
        "created": ["000126"], "refreshed": [], "unchanged": 0}
    assert admin.execute("SELECT to_regnamespace('store_000999')").fetchone()[0] is None


def test_template_change_rebuilds_every_schema(admin, reader, tmp_path: Path):
    refresh_reporting_schemas(admin)
    changed = tmp_path / "store_reporting.sql"
    text = TEMPLATE_PATH.read_text()
    marker = "ly_net_sales, ly_orders\nFROM sales.channel_daily"
    assert marker in text
    changed.write_text(text.replace(marker, "ly_net_sales, ly_orders, 2 AS template_version\nFROM sales.channel_daily"))
    result = refresh_reporting_schemas(admin, template_path=changed)
    assert result == {"created": [], "refreshed": ["000126", "000200"], "unchanged": 0}
    # The rebuilt views are readable by the role again, with the new column.
    assert reader.execute("SELECT DISTINCT template_version FROM store_000126.daily_sales").fetchall() == [(2,)]
    assert refresh_reporting_schemas(admin, template_path=changed)["unchanged"] == 2
    assert refresh_reporting_schemas(admin)["refreshed"] == ["000126", "000200"]


def test_a_dropped_schema_is_rebuilt(admin):
    refresh_reporting_schemas(admin)
    admin.execute("DROP SCHEMA store_000126 CASCADE")
    assert refresh_reporting_schemas(admin) == {"created": [], "refreshed": ["000126"], "unchanged": 1}
    assert admin.execute("SELECT count(*) FROM store_000126.daily_sales").fetchone()[0] == 2


def test_hostile_values_cannot_reach_sql(admin):
    with pytest.raises(psycopg.errors.CheckViolation):
        admin.execute("INSERT INTO core.stores (store_id, store_name) VALUES (%s, 'x')",
                      ("000126\"; DROP SCHEMA sales CASCADE; --",))
    for bad in ("126", "000126; DROP SCHEMA sales CASCADE", "00012a", "0001266", "000126\n"):
        with pytest.raises(ValueError, match="6 digits"):
            refresh_reporting_schemas(admin, {bad})
        with pytest.raises(ValueError, match="6 digits"):
            render("SELECT {store_id}", bad)
    refresh_reporting_schemas(admin)  # the hostile store name is data, never SQL
    assert admin.execute("SELECT store_name FROM core.stores WHERE store_id = '000200'").fetchone() == (HOSTILE_NAME,)
    assert admin.execute("SELECT to_regclass('sales.channel_daily') IS NOT NULL").fetchone() == (True,)
    rendered = render("SELECT {store_id} FROM {schema}.t", "000126").as_string(admin)
    assert rendered == "SELECT '000126' FROM \"store_000126\".t"
    assert schema_name("000126") == "store_000126"


def test_readonly_role_reads_its_store_views_only(admin, reader):
    refresh_reporting_schemas(admin)
    rows = reader.execute("SELECT business_date, net_sales FROM store_000126.daily_sales ORDER BY 1").fetchall()
    assert rows == [(date(2025, 1, 6), Decimal("100.00")), (date(2025, 1, 13), Decimal("200.00"))]
    names = {r[0] for r in reader.execute("SELECT employee_name FROM store_000126.labor_hours").fetchall()}
    assert "Secret Person" not in names
    for table in ("sales.channel_daily", "labor.hours_daypart", "core.stores", "access.users",
                  "etl.load_batches", "sales.weekly_fiscal"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(f"SELECT 1 FROM {table} LIMIT 1")
    for schema in ("core", "sales", "labor", "access", "etl"):
        assert reader.execute("SELECT has_schema_privilege(%s, 'USAGE')", (schema,)).fetchone() == (False,)
    assert reader.execute("SELECT has_schema_privilege('dq', 'USAGE')").fetchone() == (True,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader.execute("CREATE VIEW store_000126.mine AS SELECT 1")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader.execute("DELETE FROM store_000126.daily_sales")
    # Default privileges: a view added later to a store schema is readable without a new grant.
    admin.execute("CREATE VIEW store_000126.later WITH (security_barrier) AS SELECT 1 AS one")
    assert reader.execute("SELECT one FROM store_000126.later").fetchall() == [(1,)]


def test_a_leaky_function_cannot_see_other_stores(admin, reader):
    """security_barrier: the reader's conditions run after the view's store filter."""
    refresh_reporting_schemas(admin)
    # A control view without the barrier shows the same query does leak when the barrier is missing.
    admin.execute("CREATE SCHEMA leak_control")
    admin.execute("CREATE VIEW leak_control.daily_sales AS "
                  "SELECT business_date, net_sales FROM sales.channel_daily WHERE store_id = '000126'")
    admin.execute(sql.SQL("GRANT USAGE ON SCHEMA leak_control TO {}").format(sql.Identifier(READONLY_ROLE)))
    admin.execute(sql.SQL("GRANT SELECT ON leak_control.daily_sales TO {}").format(sql.Identifier(READONLY_ROLE)))
    seen: list[str] = []
    reader.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
    reader.execute("SET enable_indexscan = off")
    reader.execute("SET enable_bitmapscan = off")
    reader.execute(
        """CREATE FUNCTION pg_temp.peek(v numeric) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
           BEGIN RAISE NOTICE 'peek %', v; RETURN true; END $$"""
    )
    reader.execute("SELECT * FROM leak_control.daily_sales WHERE pg_temp.peek(net_sales)").fetchall()
    assert "peek 999.00" in seen  # the control leaks store 000200's sales
    seen.clear()
    rows = reader.execute("SELECT * FROM store_000126.daily_sales WHERE pg_temp.peek(net_sales)").fetchall()
    assert len(rows) == 2
    assert sorted(seen) == ["peek 100.00", "peek 200.00"]


def test_dq_views(admin, reader):
    admin.execute("INSERT INTO core.stores (store_id, store_name, active) VALUES ('000300', 'Closed', false)")
    admin.execute("INSERT INTO core.stores (store_id, store_name, opened_on) VALUES ('000400', 'New', '2025-01-08')")
    admin.execute(
        """INSERT INTO labor.files_received (store_id, business_date, file_name) VALUES
           ('000126', '2025-01-06', 'a.zip'), ('000126', '2025-01-08', 'b.zip'), ('000200', '2025-01-07', 'c.zip')"""
    )
    batch = admin.execute(
        """INSERT INTO etl.load_batches (dag_id, run_id, source, source_item, target_table, rows_read, rows_loaded,
               rows_quarantined, started_at) VALUES ('labor', 'r1', 'graph', 'x.zip', 'labor.hours_daypart', 5, 2, 3,
               now() - interval '1 minute') RETURNING batch_id"""
    ).fetchone()[0]
    admin.execute(
        """INSERT INTO etl.quarantine (batch_id, source, source_item, raw, reason) VALUES
           (%(b)s, 'graph', 'x.zip', '{}', 'unknown day part'), (%(b)s, 'graph', 'x.zip', '{}', 'unknown day part'),
           (%(b)s, 'graph', 'x.zip', '{}', 'negative hours')""",
        {"b": batch},
    )
    missing = reader.execute("SELECT store_id, business_date FROM dq.missing_labor_files ORDER BY 1, 2").fetchall()
    assert missing == [("000126", date(2025, 1, 7)), ("000200", date(2025, 1, 6)), ("000200", date(2025, 1, 8)),
                       ("000400", date(2025, 1, 8))]
    assert reader.execute("SELECT source, reason, rows FROM dq.quarantine_by_reason ORDER BY 2").fetchall() == [
        ("graph", "negative hours", 1), ("graph", "unknown day part", 2)]
    assert reader.execute("SELECT batch_id, rows_quarantined FROM dq.load_batches").fetchall() == [(batch, 3)]
    accuracy = reader.execute(
        "SELECT store_id, store_name, fiscal_week_label, forecast_sales, actual_sales, abs_pct_error "
        "FROM dq.forecast_accuracy ORDER BY 1").fetchall()
    assert accuracy == [
        ("000126", "Main St", "Y2025W02", Decimal("110.00"), Decimal("100.00"), Decimal("10.00")),
        ("000200", HOSTILE_NAME, "Y2025W02", Decimal("500.00"), Decimal("999.00"), Decimal("49.95")),
    ]
