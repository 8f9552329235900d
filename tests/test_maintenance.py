"""Maintenance: real pg_dump/pg_restore against the test PostgreSQL, retention on dated files,
health checks against the warehouse and a Metabase health endpoint served on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest

from include.maintenance.backup import dump_database, manifest_of, read_dump
from include.maintenance.health import (
    FAILED,
    OK,
    SKIPPED,
    HealthCheckFailed,
    check_metabase,
    check_token,
    check_warehouse,
    raise_if_failed,
    run_checks,
)
from include.maintenance.pgtools import PgToolError, database_of, find_tool
from include.maintenance.restore_check import SCRATCH_PREFIX, RestoreCheckError, compare_counts, restore_check
from include.maintenance.retention import apply_retention, plan_retention
from include.maintenance.settings import BackupSettings


def _seed(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE public.sample_rows (id int PRIMARY KEY, note text)")
    conn.execute("INSERT INTO public.sample_rows SELECT g, 'row ' || g FROM generate_series(1, 2500) g")
    conn.commit()


def _scratch_databases(admin_url: str) -> list[str]:
    with psycopg.connect(admin_url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (SCRATCH_PREFIX + "%",))
        return [r[0] for r in rows]


# -- backup and restore check ----------------------------------------------------------------------------


def test_dump_and_restore_check_round_trip(warehouse_url, pg_admin_url, tmp_path):
    with psycopg.connect(warehouse_url) as conn:
        _seed(conn)
    taken = datetime(2026, 3, 8, 2, 30, tzinfo=UTC)
    dump = dump_database(warehouse_url, "warehouse", tmp_path, now=taken)

    assert dump.path == tmp_path / "warehouse" / "warehouse_20260308T023000Z.dump"
    assert dump.path.stat().st_size > 0
    assert dump.row_counts["public.sample_rows"] == 2500
    assert "etl.schema_migrations" in dump.row_counts
    assert not list((tmp_path / "warehouse").glob("*.partial*"))
    manifest = json.loads(manifest_of(dump.path).read_text())
    assert manifest["database"] == database_of(warehouse_url)
    assert read_dump(dump.path).row_counts == dump.row_counts

    report = restore_check(dump.path, pg_admin_url)
    assert report.rows == sum(dump.row_counts.values())
    assert report.tables == len(dump.row_counts)
    assert _scratch_databases(pg_admin_url) == []  # dropped after the check


def test_counts_come_from_the_dump_snapshot_not_later_writes(warehouse_url, pg_admin_url, tmp_path):
    with psycopg.connect(warehouse_url) as conn:
        _seed(conn)
    dump = dump_database(warehouse_url, "warehouse", tmp_path)
    with psycopg.connect(warehouse_url) as conn:  # the database moves on after the dump
        conn.execute("DELETE FROM public.sample_rows WHERE id > 100")
    assert restore_check(dump.path, pg_admin_url).rows == sum(dump.row_counts.values())


def test_restore_check_names_tables_whose_counts_differ(warehouse_url, pg_admin_url, tmp_path):
    with psycopg.connect(warehouse_url) as conn:
        _seed(conn)
    dump = dump_database(warehouse_url, "warehouse", tmp_path)
    manifest_path = manifest_of(dump.path)
    manifest = json.loads(manifest_path.read_text())
    manifest["row_counts"]["public.sample_rows"] = 2501  # what a truncated dump would look like
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(RestoreCheckError, match=r"public\.sample_rows: 2500 rows restored, 2501 expected"):
        restore_check(dump.path, pg_admin_url)
    assert _scratch_databases(pg_admin_url) == []


def test_restore_check_fails_clearly_on_a_corrupt_dump(warehouse_url, pg_admin_url, tmp_path):
    dump = dump_database(warehouse_url, "warehouse", tmp_path)
    data = dump.path.read_bytes()
    dump.path.write_bytes(data[: len(data) // 3])
    with pytest.raises(RestoreCheckError, match=r"pg_restore of warehouse_.*failed"):
        restore_check(dump.path, pg_admin_url)
    assert _scratch_databases(pg_admin_url) == []


def test_compare_counts_reports_missing_and_extra_tables():
    problems = compare_counts({"a.x": 1, "a.y": 2}, {"a.x": 1, "a.z": 0})
    assert problems == ["a.y: missing after restore (expected 2 rows)", "a.z: not in the dump's manifest (0 rows)"]


def test_an_old_pg_dump_is_refused_with_what_to_set(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    old = fake_bin / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 15.20'\n")
    old.chmod(0o755)
    with pytest.raises(PgToolError, match=r"version 15.*set BW_PG_BIN_DIR"):
        find_tool("pg_dump", 18, fake_bin)
    with pytest.raises(PgToolError, match="no pg_restore found in"):
        find_tool("pg_restore", 18, fake_bin)


# -- retention ---------------------------------------------------------------------------------------------


def _fabricate(folder: Path, label: str, start: date, days: int, per_day: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for offset in range(days):
        day = start + timedelta(days=offset)
        for n in range(per_day):
            stamp = datetime(day.year, day.month, day.day, 2 + n * 10, 30, tzinfo=UTC).strftime("%Y%m%dT%H%M%SZ")
            dump = folder / f"{label}_{stamp}.dump"
            dump.write_bytes(b"x")
            manifest_of(dump).write_text("{}")


def test_retention_keeps_last_days_and_last_sundays(tmp_path):
    folder = tmp_path / "warehouse"
    _fabricate(folder, "warehouse", date(2026, 1, 1), 60, per_day=2)  # 2026-01-01 .. 2026-03-01
    (folder / "notes.txt").write_text("operator notes")  # unrelated files are never touched
    (folder / "warehouse_20251231T023000Z.dump.partial").write_bytes(b"")  # neither are partial dumps

    plan = apply_retention(folder, "warehouse", keep_daily=7, keep_weekly=4)

    kept = sorted(p.name for p in folder.glob("*.dump"))
    daily = [f"warehouse_202602{d}T123000Z.dump" for d in ("23", "24", "25", "26", "27", "28")]
    sundays = [f"warehouse_2026{md}T123000Z.dump" for md in ("0208", "0215", "0222", "0301")]
    assert kept == sorted(set(daily + sundays))  # 2026-03-01 is both the last day and a Sunday
    assert all(date(2026, int(n[14:16]), int(n[16:18])).weekday() == 6 for n in sundays)
    assert len(plan.keep) == 10
    assert len(plan.delete) == 120 - 10
    assert sorted(p.name for p in folder.glob("*.dump.json")) == sorted(n + ".json" for n in kept)
    assert (folder / "notes.txt").exists()
    assert (folder / "warehouse_20251231T023000Z.dump.partial").exists()


def test_retention_counts_days_that_have_dumps_so_a_gap_keeps_old_copies(tmp_path):
    folder = tmp_path / "metabase"
    _fabricate(folder, "metabase", date(2026, 1, 5), 3)  # Mon-Wed, then backups stopped for weeks
    plan = plan_retention(folder, "metabase", keep_daily=7, keep_weekly=4)
    assert len(plan.keep) == 3 and plan.delete == []


def test_retention_settings_are_validated(monkeypatch):
    monkeypatch.setenv("BW_BACKUP_KEEP_DAILY", "seven")
    with pytest.raises(ValueError, match="BW_BACKUP_KEEP_DAILY must be a whole number"):
        BackupSettings.from_env()
    monkeypatch.setenv("BW_BACKUP_KEEP_DAILY", "3")
    monkeypatch.setenv("BW_BACKUP_DIR", "/srv/backups")
    cfg = BackupSettings.from_env()
    assert (cfg.keep_daily, cfg.keep_weekly, cfg.backup_dir) == (3, 4, Path("/srv/backups"))


# -- health --------------------------------------------------------------------------------------------------


class _Metabase(BaseHTTPRequestHandler):
    status = 200
    body: ClassVar[dict] = {"status": "ok"}

    def do_GET(self) -> None:
        payload = json.dumps(self.body if self.path == "/api/health" else {"error": "not found"}).encode()
        self.send_response(self.status if self.path == "/api/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def metabase_health() -> Iterator[tuple[str, type[_Metabase]]]:
    handler = type("Handler", (_Metabase,), {"status": 200, "body": {"status": "ok"}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_metabase_health_ok_and_starting(metabase_health):
    url, handler = metabase_health
    assert check_metabase(url).status == OK
    handler.status, handler.body = 503, {"status": "starting"}
    result = check_metabase(url)
    assert result.status == FAILED
    assert "/api/health answered 503 with status 'starting'" in result.detail


def test_metabase_unreachable_is_a_named_failure():
    result = check_metabase("http://127.0.0.1:9", timeout=2)
    assert (result.name, result.status) == ("metabase", FAILED)
    assert "GET http://127.0.0.1:9/api/health failed" in result.detail


def test_warehouse_check_reports_pending_migrations(warehouse_url, empty_database):
    assert check_warehouse(warehouse_url).status == OK
    result = check_warehouse(empty_database)
    assert result.status == FAILED
    assert "pending migrations (0001_schemas.sql" in result.detail


def test_token_check_never_shows_the_token():
    assert check_token("graph", lambda: "secret-token-value").detail == "token acquired"
    assert check_token("graph", lambda: "").status == FAILED


def test_run_checks_skips_unconfigured_systems_and_fails_by_name(warehouse_url, metabase_health, monkeypatch):
    for name in ("MSGRAPH_DEFAULT", "DATAVERSE_DEFAULT", "METABASE_DEFAULT"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)
    results = {r.name: r for r in run_checks(warehouse_url)}
    assert results["warehouse"].status == OK
    assert {results[n].status for n in ("graph", "dataverse", "metabase")} == {SKIPPED}
    raise_if_failed(list(results.values()))  # skipped checks are not failures

    url, handler = metabase_health
    port = url.rsplit(":", 1)[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_METABASE_DEFAULT",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": int(port), "schema": "http", "password": "k"}),
    )
    handler.status, handler.body = 500, {"status": "error"}
    results = run_checks(warehouse_url)
    with pytest.raises(HealthCheckFailed, match=r"health check failed for metabase -- metabase: .*answered 500"):
        raise_if_failed(results)


# -- the DAG -----------------------------------------------------------------------------------------------


def test_maintenance_dag_parses_with_its_contract():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parent.parent / "dags" / "maintenance.py"))
    assert bag.import_errors == {}
    dag = bag.dags["maintenance"]
    assert {"maintenance", "ops"} <= set(dag.tags)
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert "Maintenance" in dag.doc_md
    assert set(dag.task_ids) == {"databases", "back_up", "verify_restore", "prune", "health"}
    for t in dag.tasks:
        assert t.retries >= 1 and t.retry_exponential_backoff
    assert dag.get_task("back_up").retries == 2
    assert dag.get_task("prune").upstream_task_ids == {"verify_restore"}


def test_maintenance_dag_runs_end_to_end(airflow_db, warehouse_url, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    with psycopg.connect(warehouse_url) as conn:
        _seed(conn)
    backups = tmp_path / "backups"
    monkeypatch.setenv("BW_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("BW_BACKUP_DIR", str(backups))
    for name in ("POSTGRES_BACKUP", "MSGRAPH_DEFAULT", "DATAVERSE_DEFAULT", "METABASE_DEFAULT"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)
    label = database_of(warehouse_url)
    _fabricate(backups / label, label, date(2025, 10, 1), 40)  # old dumps for retention to prune

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parent.parent / "dags" / "maintenance.py"))
    run = bag.dags["maintenance"].test()

    assert run.state == DagRunState.SUCCESS
    dumps = sorted((backups / label).glob("*.dump"))
    new = [p for p in dumps if p.name > f"{label}_2026"]
    assert len(new) == 1 and read_dump(new[0]).row_counts["public.sample_rows"] == 2500
    # today's dump and the 6 newest old days (Nov 4-9, Nov 9 a Sunday), plus Sundays Nov 2, Oct 26 and
    # Oct 19 -- or only two of those when today is itself a Sunday and takes a weekly slot
    today_is_sunday = read_dump(new[0]).taken_at.weekday() == 6
    assert len(dumps) == (9 if today_is_sunday else 10)
    assert (backups / label / f"{label}_20251019T023000Z.dump").exists() is not today_is_sunday
    assert not (backups / label / f"{label}_20251012T023000Z.dump").exists()


# -- the PostgreSQL init script's roles are enough for backups ----------------------------------------------


def test_init_script_roles_can_back_up_and_restore(pg_admin_url, tmp_path):
    """docker/postgres/10-bw-databases.sh on a real server, twice (idempotent); then bw_backup dumps the
    warehouse that bw_etl migrated, and restore-checks it into a scratch database. (The test server may
    trust local logins, so this proves the roles and grants, not the passwords.)"""
    import os
    import subprocess

    from psycopg.conninfo import conninfo_to_dict

    from include.maintenance.pgtools import _embedded_bin, with_database
    from include.warehouse.migrations import apply_migrations

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in (
        "airflow_db_password",
        "warehouse_db_password",
        "metabase_db_password",
        "metabase_reader_password",
        "backup_db_password",
    ):
        (secrets / name).write_text(f"pw-{name}-'quote\n")
    admin = conninfo_to_dict(pg_admin_url)
    env = {
        **os.environ,
        "BW_SECRETS_DIR": str(secrets),
        "POSTGRES_USER": admin.get("user", "postgres"),
        "PGHOST": admin.get("host", "127.0.0.1"),
        "PGPORT": str(admin.get("port", 5432)),
        "PGPASSWORD": admin.get("password", ""),
        "PATH": f"{_embedded_bin()}:{os.environ['PATH']}",
    }
    script = Path(__file__).resolve().parent.parent / "docker" / "postgres" / "10-bw-databases.sh"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        taken = conn.execute("SELECT count(*) FROM pg_database WHERE datname IN ('airflow','warehouse','metabase')")
        if taken.fetchone()[0]:
            pytest.skip("the test server already has application databases")
    try:
        for _ in range(2):
            result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stderr
        host_port = f"host={env['PGHOST']} port={env['PGPORT']}"
        etl = f"{host_port} dbname=warehouse user=bw_etl password=pw-warehouse_db_password-'quote"
        with psycopg.connect(etl) as conn:
            apply_migrations(conn)
            _seed(conn)
        backup = f"{host_port} dbname=postgres user=bw_backup password=pw-backup_db_password-'quote"
        dump = dump_database(with_database(backup, "warehouse"), "warehouse", tmp_path / "backups")
        assert dump.row_counts["public.sample_rows"] == 2500
        assert restore_check(dump.path, backup).rows == sum(dump.row_counts.values())
        reader = f"{host_port} dbname=warehouse user=metabase_reader password=pw-metabase_reader_password-'quote"
        with psycopg.connect(reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM core.stores")
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            for db in ("airflow", "warehouse", "metabase"):
                conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            for role in ("airflow", "bw_etl", "metabase", "metabase_reader", "bw_backup"):
                conn.execute(f"DROP ROLE IF EXISTS {role}")
