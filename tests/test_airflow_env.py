"""The test session's Airflow points at a real PostgreSQL metadata database."""

import psycopg


def test_airflow_metadata_db_is_migrated(airflow_db, pg_admin_url):
    import os

    assert os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == airflow_db
    dbname = airflow_db.rsplit("/", 1)[1]
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(pg_admin_url)
    params["dbname"] = dbname
    with psycopg.connect(make_conninfo(**params)) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
