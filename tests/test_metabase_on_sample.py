"""Metabase against the warehouse built from the sample data by the real pipeline steps:
every card returns rows for real stores, and every sample user reaches exactly their grants."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from include.metabase.desired import load_desired
from include.metabase.tasks import provision_stores, sync_permissions
from include.metabase.templates import check_card_sql, executable_sql, load_templates, render_sql
from include.warehouse.reporting import READONLY_ROLE, schema_name
from tests.metabase_support import assert_isolation, metabase_double  # noqa: F401  (the `metabase` fixture)

pytestmark = pytest.mark.metabase


@pytest.fixture(scope="module")
def sample_warehouse(pg_admin_url, tmp_path_factory):
    """A warehouse loaded from a generated sample through the pipeline steps the DAGs call."""
    import uuid

    from include.pipelines import access, labor, sales, stores
    from include.pipelines.common import Run
    from include.sample.generate import generate_sample
    from include.warehouse.migrations import apply_migrations
    from tests.conftest import create_database, drop_database

    source = tmp_path_factory.mktemp("mb-source")
    manifest = generate_sample(source, stores=8, sales_years=2, labor_weeks=2)
    name = f"bw_mb_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    patch = pytest.MonkeyPatch()
    patch.setenv("BW_WAREHOUSE_URL", url)
    patch.setenv("BW_LOCAL_SOURCE_DIR", str(source))
    patch.setenv("BW_DATA_DIR", str(tmp_path_factory.mktemp("mb-data")))
    try:
        with psycopg.connect(url) as conn:
            apply_migrations(conn)
        run = Run("build", "sample")
        stores.load_stores(run, stores.download_dimensions(run))
        stores.load_calendar(run, stores.extract_calendar(run))
        stores.refresh_reporting(run)
        sales.load_sales(run, sales.extract_sales(run))
        sales.forecast(run)
        labor.load_labor(run, labor.extract_labor(run))
        labor.forecast(run)
        access.load_access(run, access.extract_access(run))
        yield url, manifest
    finally:
        patch.undo()
        drop_database(pg_admin_url, name)


def test_every_card_returns_rows_for_every_established_store(sample_warehouse):
    url, manifest = sample_warehouse
    established = sorted(set(manifest.active_stores) - {manifest.recently_opened_store})
    templates = load_templates()
    with psycopg.connect(url) as conn:
        for template in templates:
            for store in established if template.scope == "store" else [None]:
                allowed = schema_name(store) if store else "dq"
                for card in template.cards:
                    sql = render_sql(card, store)
                    assert check_card_sql(sql, allowed) == [], f"{template.key}/{card.key}"
                    for values in ({}, {"start_date": "2020-01-01", "end_date": str(date.today())}):
                        text, params = executable_sql(sql, values)
                        with conn.transaction():
                            conn.execute(psycopg.sql.SQL("SET LOCAL ROLE {}").format(
                                psycopg.sql.Identifier(READONLY_ROLE)))
                            rows = conn.execute(text, params).fetchall()
                        assert rows, f"{template.key}/{card.key} for {store} returned no rows with {values}"


def test_every_sample_user_reaches_exactly_their_grants(sample_warehouse, metabase):
    url, manifest = sample_warehouse
    with psycopg.connect(url) as conn:
        provision_stores(conn)
        sync_permissions(conn)
        desired = load_desired(conn)
        granted = [e for e in desired.users if desired.user_grants(e)
                   and "admin" not in desired.user_grants(e).values()]
        assert len(granted) >= manifest.stores  # store and district managers of the sample
        assert_isolation(metabase, conn, minimum=len(granted))

        victim = granted[0]
        conn.execute("DELETE FROM access.user_store_access WHERE user_id = "
                     "(SELECT user_id FROM access.users WHERE lower(email) = lower(%s))", (victim,))
        conn.commit()
        sync_permissions(conn)
        assert metabase.reachable(victim, next(iter(metabase.databases))) == (set(), set(), False)
        assert not metabase.user_by_email(victim)["is_active"]
        assert_isolation(metabase, conn, minimum=len(granted) - 1)
