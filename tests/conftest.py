"""Shared fixtures: a real PostgreSQL (``BW_TEST_DATABASE_URL`` or an embedded one) and fresh warehouses."""

from __future__ import annotations

import os
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
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(_libpq_url(url))
    params["dbname"] = database
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> Iterator[str]:
    """A libpq URL of a server where the tests may create databases."""
    external = os.environ.get("BW_TEST_DATABASE_URL")
    if external:
        yield _libpq_url(external)
        return
    data_dir = REPO_ROOT / ".local" / f"test-pg-{os.getpid()}"
    server = EmbeddedPostgres(data_dir, free_port()).start()
    try:
        yield server.url("postgres")
    finally:
        server.stop()
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


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
