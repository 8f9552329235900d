# BW Store Analytics: local development entry points.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint ui ui-stop db-stop summary bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

## run: embedded PostgreSQL, migrations, sample data, every DAG once, a summary
run: $(VENV)/.installed
	$(PY) -m include.localrun run

## test: the whole test suite
test: $(VENV)/.installed
	$(PY) -m pytest

## lint: ruff
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

## summary: print the warehouse summary of the last run
summary: $(VENV)/.installed
	$(PY) -m include.localrun summary

## ui: the Airflow UI on http://127.0.0.1:8080 (api-server, scheduler, dag-processor, triggerer)
ui: $(VENV)/.installed
	$(PY) -m include.localui start

## ui-stop: stop the Airflow UI processes
ui-stop:
	$(PY) -m include.localui stop

## db-stop: stop the embedded PostgreSQL
db-stop:
	$(PY) -c "from include.devdb import EmbeddedPostgres; from include.localrun import LOCAL_DIR; EmbeddedPostgres(LOCAL_DIR / 'pg').stop()"

## bench: benchmarks (load, forecast, Metabase sync)
bench: $(VENV)/.installed
	$(PY) -m bench.bench_load
	$(PY) -m bench.bench_forecast --stores 500
	$(PY) -m bench.bench_metabase_sync

clean: db-stop
	rm -rf .local
