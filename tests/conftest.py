"""Shared fixtures: a real PostgreSQL (``BW_TEST_DATABASE_URL`` or an embedded one) and fresh warehouses."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from include.config import REPO_ROOT
from include.devdb import EmbeddedPostgres, free_port
from include.warehouse.connection import _libpq_url
from include.warehouse.migrations import apply_migrations

SHARED_DIR = Path(os.environ.get("BW_SHARED_DIR", REPO_ROOT.parent / "shared"))


def _with_database(url: str, database: str) -> str:
    """The same server URL, naming another database."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(_libpq_url(url))
    params["dbname"] = database
    return make_conninfo(**params)


_SERVER: EmbeddedPostgres | None = None


def pytest_configure(config) -> None:
    """Start the test PostgreSQL and point Airflow at it before anything imports airflow."""
    global _SERVER
    if not os.environ.get("BW_TEST_DATABASE_URL"):
        data_dir = REPO_ROOT / ".local" / f"test-pg-{os.getpid()}"
        _SERVER = EmbeddedPostgres(data_dir, free_port()).start()
        os.environ["BW_TEST_DATABASE_URL"] = _SERVER.url("postgres")
    admin = _libpq_url(os.environ["BW_TEST_DATABASE_URL"])
    airflow_db = f"bw_airflow_{os.getpid()}"
    drop_database(admin, airflow_db)
    create_database(admin, airflow_db)
    home = REPO_ROOT / ".local" / f"airflow-test-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _sqlalchemy_url(admin, airflow_db),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    config._bw_airflow_db = airflow_db  # type: ignore[attr-defined]


def pytest_unconfigure(config) -> None:
    import shutil

    admin = _libpq_url(os.environ["BW_TEST_DATABASE_URL"])
    airflow_db = getattr(config, "_bw_airflow_db", None)
    if airflow_db:
        drop_database(admin, airflow_db)
    shutil.rmtree(os.environ.get("AIRFLOW_HOME", "/nonexistent"), ignore_errors=True)
    if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before the server goes
        sys.modules["airflow.settings"].dispose_orm()
    if _SERVER is not None:
        _SERVER.stop()
        shutil.rmtree(_SERVER.data_dir, ignore_errors=True)


def _sqlalchemy_url(admin: str, database: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    p = conninfo_to_dict(_with_database(admin, database))
    auth = p.get("user", "postgres") + (f":{p['password']}" if p.get("password") else "")
    return f"postgresql+psycopg2://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{database}"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A libpq URL of a server where the tests may create databases."""
    return _libpq_url(os.environ["BW_TEST_DATABASE_URL"])


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Airflow's metadata database, migrated once per session (about 3 s)."""
    import subprocess
    import sys

    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        conn.execute(statement)
    return _with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url) -> Iterator[str]:
    """A database with every migration applied, used as the template of fresh warehouses."""
    name = f"bw_template_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def warehouse_url(pg_admin_url, migrated_template) -> Iterator[str]:
    """A fresh, migrated, empty warehouse database for one test."""
    name = f"bw_test_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name, template=migrated_template)
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture
def warehouse(warehouse_url) -> Iterator[psycopg.Connection]:
    """A connection to a fresh warehouse."""
    with psycopg.connect(warehouse_url) as conn:
        yield conn


@pytest.fixture
def empty_database(pg_admin_url) -> Iterator[str]:
    """A fresh database with no migrations applied."""
    name = f"bw_empty_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name)
    yield url
    drop_database(pg_admin_url, name)
