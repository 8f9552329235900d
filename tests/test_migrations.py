"""The migration runner: ordered, recorded with checksums, idempotent, and strict about edits."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from include.warehouse.migrations import MIGRATIONS_DIR, MigrationError, apply_migrations, discover


def _tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('core', 'sales', 'labor', 'access', 'etl')"
    ).fetchall()
    return {r[0] for r in rows}


def test_applies_all_then_nothing(empty_database):
    with psycopg.connect(empty_database) as conn:
        first = apply_migrations(conn)
        assert first == [m.name for m in discover()]
        tables = _tables(conn)
        second = apply_migrations(conn)
        assert second == []
        assert _tables(conn) == tables
        recorded = conn.execute("SELECT count(*) FROM etl.schema_migrations").fetchone()[0]
        assert recorded == len(first)


@pytest.mark.parametrize(
    "table",
    [
        "core.stores", "core.fiscal_calendar", "sales.channel_daily", "sales.forecast_weekly",
        "sales.forecast_daypart", "labor.hours_daypart", "labor.forecast_daypart", "access.users",
        "access.user_store_access", "etl.load_batches", "etl.quarantine", "etl.source_state",
    ],
)
def test_contract_tables_exist(warehouse, table):
    assert table in _tables(warehouse)


def test_edited_migration_is_refused(empty_database, tmp_path):
    folder = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, folder)
    with psycopg.connect(empty_database) as conn:
        apply_migrations(conn, folder)
        edited = sorted(folder.glob("0003_*.sql"))[0]
        edited.write_text(edited.read_text() + "\n-- an edit\n")
        with pytest.raises(MigrationError, match=r"0003_.*was edited after it was applied"):
            apply_migrations(conn, folder)


def test_new_migration_is_applied_after_the_others(empty_database, tmp_path):
    folder = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, folder)
    with psycopg.connect(empty_database) as conn:
        apply_migrations(conn, folder)
        (folder / "9999_extra.sql").write_text("CREATE TABLE etl.extra (id int);")
        assert apply_migrations(conn, folder) == ["9999_extra.sql"]
        assert "etl.extra" in _tables(conn)
