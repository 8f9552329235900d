# The Airflow image of this project: Airflow 3.3.2 with the pinned requirements, and the
# PostgreSQL 16 client tools the maintenance DAG runs (pg_dump must not be older than the server).
FROM apache/airflow:3.3.2-python3.11

USER root
RUN set -eux; \
    if [ ! -f /etc/apt/sources.list.d/pgdg.list ]; then \
        install -d /usr/share/postgresql-common/pgdg; \
        curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc; \
        echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt $(. /etc/os-release && echo "$VERSION_CODENAME")-pgdg main" \
            > /etc/apt/sources.list.d/pgdg.list; \
    fi; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-client-16; \
    apt-get clean; rm -rf /var/lib/apt/lists/*
COPY --chmod=755 docker/airflow/bw_secret.py /usr/local/bin/bw-secret
COPY --chmod=755 docker/airflow/init.sh /usr/local/bin/bw-airflow-init

USER airflow
COPY --chown=airflow:0 requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /requirements.txt
ENV BW_PG_BIN_DIR=/usr/lib/postgresql/16/bin \
    PYTHONPATH=/opt/airflow
