"""Every card of every dashboard template runs against a warehouse built by the real reporting
schemas, as the read-only role, for a real store, and returns rows; cards that reach outside
their store's schema are refused."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from include.metabase.templates import (
    CardTemplate,
    DashboardTemplate,
    check_card_sql,
    executable_sql,
    load_templates,
    render_sql,
)
from include.warehouse.reporting import READONLY_ROLE, refresh_reporting_schemas, schema_name

pytestmark = pytest.mark.metabase

STORE, OTHER = "000126", "000205"
FIRST = date(2025, 1, 6)  # a Monday; two full fiscal weeks of data
DAYS = [FIRST + timedelta(days=i) for i in range(14)]


def _seed(conn: psycopg.Connection) -> None:
    """Two stores with sales, forecasts, labor, a load batch and quarantined rows."""
    with conn.transaction():
        for store, name in ((STORE, "Harbor"), (OTHER, "Hill")):
            conn.execute("INSERT INTO core.stores (store_id, store_name) VALUES (%s, %s)", (store, name))
        for i, day in enumerate(DAYS):
            week = 1 + i // 7
            conn.execute("INSERT INTO core.fiscal_calendar VALUES (%s, 2025, %s, %s)", (day, week, f"Y2025W{week:02}"))
        conn.execute("SELECT sales.ensure_month_partitions(%s, %s)", (DAYS[0], DAYS[-1]))
        batch = conn.execute(
            "INSERT INTO etl.load_batches (dag_id, run_id, source, source_item, target_table, rows_read, "
            "rows_loaded, rows_quarantined, started_at) VALUES ('sales', 'r1', 'dataverse', 'item', "
            "'sales.channel_daily', 10, 9, 1, now()) RETURNING batch_id").fetchone()[0]
        conn.execute("INSERT INTO etl.quarantine (batch_id, source, source_item, raw, reason) "
                     "VALUES (%s, 'dataverse', 'item', '{}', 'negative net sales')", (batch,))
        for store in (STORE, OTHER):
            for day in DAYS:
                for channel in ("In store", "Delivery"):
                    for daypart in ("Lunch", "Dinner"):
                        conn.execute(
                            "INSERT INTO sales.channel_daily (store_id, business_date, channel, daypart, net_sales, "
                            "orders, ly_net_sales, ly_orders) VALUES (%s, %s, %s, %s, 500, 40, 480, 38)",
                            (store, day, channel, daypart))
                conn.execute("INSERT INTO labor.hours_daypart (store_id, employee_id, business_date, daypart, hours, "
                             "employee_name) VALUES (%s, 'E1', %s, 'Lunch', 6.5, 'Ana Diaz')", (store, day))
                conn.execute("INSERT INTO labor.forecast_daypart (store_id, business_date, daypart, hours_needed, "
                             "forecast_sales) VALUES (%s, %s, 'Lunch', 6, 900)", (store, day))
            conn.execute("INSERT INTO labor.files_received VALUES (%s, %s, 'labor.zip')", (store, DAYS[0]))
            conn.execute("INSERT INTO sales.forecast_models (store_id, model, family, backtest_mape, naive_mape, "
                         "history_weeks) VALUES (%s, 'sarima', 'sarima', 4.2, 5.1, 104)", (store,))
            for week in (1, 2):
                conn.execute("INSERT INTO sales.forecast_weekly (store_id, fiscal_week_label, week_start, "
                             "forecast_sales, model) VALUES (%s, %s, %s, 14500, 'sarima')",
                             (store, f"Y2025W{week:02}", DAYS[(week - 1) * 7]))
                for dow in range(1, 8):
                    conn.execute("INSERT INTO sales.forecast_daypart (store_id, fiscal_week_label, day_of_week, "
                                 "daypart, forecast_sales) VALUES (%s, %s, %s, 'Lunch', 1000)",
                                 (store, f"Y2025W{week:02}", dow))
        conn.execute("INSERT INTO labor.files_received VALUES (%s, %s, 'labor.zip')", (STORE, DAYS[3]))
    refresh_reporting_schemas(conn)
    conn.commit()


def _cards() -> list[tuple[DashboardTemplate, CardTemplate]]:
    return [(t, c) for t in load_templates() for c in t.cards]


def test_every_card_returns_rows_as_the_read_only_role(warehouse):
    _seed(warehouse)
    cards = _cards()
    assert len(cards) >= 14
    for template, card in cards:
        store = STORE if template.scope == "store" else None
        sql = render_sql(card, store)
        allowed = schema_name(STORE) if store else "dq"
        assert check_card_sql(sql, allowed) == [], f"{template.key}/{card.key}"
        last = DAYS[-1] if store else date.today()  # load batches are recent; sales are from 2025
        for values in ({}, {"start_date": str(DAYS[0]), "end_date": str(last)}):
            text, params = executable_sql(sql, values)
            with warehouse.transaction():
                warehouse.execute(psycopg.sql.SQL("SET LOCAL ROLE {}").format(psycopg.sql.Identifier(READONLY_ROLE)))
                rows = warehouse.execute(text, params).fetchall()
            assert rows, f"{template.key}/{card.key} returned no rows with {values}"


def test_a_card_naming_another_store_or_a_base_table_fails(warehouse):
    _seed(warehouse)
    mine = schema_name(STORE)
    leaking = f'SELECT * FROM "{mine}".daily_sales d JOIN "{schema_name(OTHER)}".daily_sales o USING (business_date)'
    assert check_card_sql(leaking, mine) == [f"relation {schema_name(OTHER)}.daily_sales is outside schema {mine}"]
    assert "outside schema" in check_card_sql("SELECT * FROM sales.channel_daily", mine)[0]
    assert "unqualified" in check_card_sql("SELECT * FROM daily_sales", mine)[0]
    # and the database refuses the read-only role a base table even if the check were bypassed
    with pytest.raises(psycopg.errors.InsufficientPrivilege), warehouse.transaction():
        warehouse.execute(psycopg.sql.SQL("SET LOCAL ROLE {}").format(psycopg.sql.Identifier(READONLY_ROLE)))
        warehouse.execute("SELECT * FROM sales.channel_daily")
