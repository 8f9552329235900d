"""The local default run: ``python -m include.localrun run`` (what ``make run`` calls).

Starts an embedded PostgreSQL (or uses ``BW_WAREHOUSE_URL``), puts Airflow's metadata
database and the warehouse on it, applies migrations, generates sample data (unless
``BW_LOCAL_SOURCE_DIR`` points at a folder to read as it is), runs every domain DAG once
under real Airflow in dependency order, and prints a summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from include.config import REPO_ROOT

LOCAL_DIR = REPO_ROOT / ".local"
#: Dependency order of the domain DAGs (stores -> sales -> labor; access needs stores).
DAG_ORDER = ("stores", "sales", "labor", "access")


def _sqlalchemy(url: str) -> str:
    rest = url.partition("://")[2]
    return f"postgresql+psycopg2://{rest}"


def prepare_environment() -> dict[str, str]:
    """Databases up, environment for Airflow and the pipelines; returns the variables set."""
    from include.devdb import DEFAULT_PORT, EmbeddedPostgres, ensure_database
    from include.warehouse.connection import _libpq_url

    env: dict[str, str] = {}
    warehouse_url = os.environ.get("BW_WAREHOUSE_URL", "").strip()
    if warehouse_url:
        warehouse_url = _libpq_url(warehouse_url)
        admin_url = warehouse_url
        print(f"using the existing PostgreSQL of BW_WAREHOUSE_URL (database {warehouse_url.rsplit('/', 1)[-1]})")
    else:
        port = int(os.environ.get("BW_EMBEDDED_PG_PORT", DEFAULT_PORT))
        server = EmbeddedPostgres(LOCAL_DIR / "pg", port).start()
        ensure_database(server.url(), "warehouse")
        warehouse_url = server.url("warehouse")
        admin_url = server.url("postgres")
        print(f"embedded PostgreSQL running on 127.0.0.1:{port} (data in {server.pgdata})")
    env["BW_WAREHOUSE_URL"] = warehouse_url
    env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"] = warehouse_url
    if not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        try:
            ensure_database(admin_url, "bw_airflow")
            base = admin_url.rsplit("/", 1)[0]
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _sqlalchemy(f"{base}/bw_airflow")
        except Exception as exc:  # no CREATEDB right on a shared server: keep Airflow's state in SQLite
            print(f"cannot create database bw_airflow ({exc.__class__.__name__}); Airflow metadata in SQLite")
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{LOCAL_DIR / 'airflow' / 'airflow.db'}"
    env.update({
        "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", str(LOCAL_DIR / "airflow")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "OPENBLAS_NUM_THREADS": "1",
        "BW_DATA_DIR": os.environ.get("BW_DATA_DIR", str(LOCAL_DIR / "data")),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
    })
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    return env


def apply_migrations() -> list[str]:
    from include.warehouse.connection import connect
    from include.warehouse.migrations import apply_migrations as apply

    with connect(os.environ["BW_WAREHOUSE_URL"]) as conn:
        return apply(conn)


def ensure_sample_data() -> Path:
    """The local source folder: ``BW_LOCAL_SOURCE_DIR`` as it is, or generated sample data."""
    given = os.environ.get("BW_LOCAL_SOURCE_DIR", "").strip()
    if given:
        print(f"reading the local source folder {given} as it is")
        return Path(given)
    from include.sample.generate import generate_sample

    dest = LOCAL_DIR / "source"
    stores = int(os.environ.get("BW_SAMPLE_STORES", "25"))
    manifest = generate_sample(dest, stores=stores)
    os.environ["BW_LOCAL_SOURCE_DIR"] = str(dest)
    print(f"sample data for {stores} stores in {dest} ({_describe(manifest)})")
    return dest


def _describe(manifest) -> str:
    bad = len(manifest.bad_records)
    return (f"{manifest.sales_rows:,} sales rows, {manifest.labor_files:,} labor files, {manifest.users} users, "
            f"{bad} deliberately bad records")


def migrate_airflow() -> None:
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, env=os.environ.copy())


def run_dags(dag_ids: tuple[str, ...] = DAG_ORDER) -> dict[str, str]:
    """Run each DAG once with ``dag.test()`` in this process; returns each run's state."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    states: dict[str, str] = {}
    for dag_id in dag_ids:
        print(f"running DAG {dag_id} ...", flush=True)
        run = bag.dags[dag_id].test()
        states[dag_id] = str(run.state)
        print(f"DAG {dag_id}: {run.state}", flush=True)
        if str(run.state) != "success":
            break
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "env", "summary"], help="run: everything; env: print the "
                        "environment for Airflow commands; summary: print the warehouse summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = prepare_environment()
    if args.command == "env":
        for key, value in env.items():
            print(f"export {key}='{value}'")
        return 0
    if args.command == "run":
        applied = apply_migrations()
        print(f"migrations applied: {len(applied)} new")
        ensure_sample_data()
        migrate_airflow()
        states = run_dags()
        from include.localsummary import print_summary

        print_summary(os.environ["BW_WAREHOUSE_URL"])
        if any(state != "success" for state in states.values()) or len(states) < len(DAG_ORDER):
            print(f"DAG runs did not all succeed: {states}", file=sys.stderr)
            return 1
        return 0
    from include.localsummary import print_summary

    print_summary(os.environ["BW_WAREHOUSE_URL"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
