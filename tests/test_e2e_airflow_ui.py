"""The local Airflow UI: ``include.localui`` starts the four servers, the REST API runs a DAG,
a headless browser logs in and sees it, and ``stop`` leaves no process behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from include.config import REPO_ROOT
from include.devdb import free_port
from tests.airflow_servers import AirflowApi, admin_password, processes_with_env, wait_for_dags

pytestmark = pytest.mark.e2e

DOMAIN_DAGS = {"stores", "sales", "labor", "access"}
ARTIFACTS = REPO_ROOT / "artifacts"


@pytest.fixture(scope="module")
def airflow_ui(pg_admin_url, airflow_db, tmp_path_factory):
    from include.sample.generate import generate_sample
    from tests.conftest import create_database, drop_database

    source = tmp_path_factory.mktemp("ui-source")
    generate_sample(source, stores=4, sales_years=1, labor_weeks=1)
    name = f"bw_ui_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    port = free_port()
    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        "BW_WAREHOUSE_URL": url,
        "BW_LOCAL_SOURCE_DIR": str(source),
        "BW_DATA_DIR": str(tmp_path_factory.mktemp("ui-data")),
        "BW_UI_DIR": str(tmp_path_factory.mktemp("ui")),
        "BW_UI_TEST_MARKER": marker,
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    localui = [sys.executable, "-m", "include.localui"]
    started = subprocess.run([*localui, "start", "--port", str(port)], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"http://127.0.0.1:{port}" in started.stdout and "login: admin / " in started.stdout
        api = AirflowApi(f"http://127.0.0.1:{port}", "admin", admin_password(env["AIRFLOW_HOME"]))
        yield api, port, env, marker
    finally:
        stopped = subprocess.run([*localui, "stop"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                 timeout=120)
        drop_database(pg_admin_url, name)
    assert stopped.returncode == 0, stopped.stderr


def test_trigger_a_dag_through_the_rest_api(airflow_ui):
    api, *_ = airflow_ui
    wait_for_dags(api, DOMAIN_DAGS)
    api.pause("sales")  # only the stores DAG runs here, not what its asset schedules
    api.unpause("stores")
    run_id = api.trigger("stores")
    assert api.wait_for_run("stores", run_id, timeout=300) == "success"
    tasks = api.get(f"/api/v2/dags/stores/dagRuns/{run_id}/taskInstances")["task_instances"]
    assert tasks and all(t["state"] == "success" for t in tasks)


@pytest.mark.skipif(not shutil.which("chromedriver"), reason="Debian packages chromium and chromium-driver")
def test_browser_logs_in_and_opens_a_successful_run(airflow_ui):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    api, port, env, _ = airflow_ui
    runs = api.get("/api/v2/dags/stores/dagRuns?state=success")["dag_runs"]
    assert runs, "the REST API test leaves a successful run"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,900"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={env['BW_UI_DIR']}/chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(f"http://127.0.0.1:{port}/")
        username = wait.until(ec.presence_of_element_located((By.NAME, "username")))
        username.send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys(admin_password(env["AIRFLOW_HOME"]))
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(ec.staleness_of(username))  # signed in: the login form is gone
        driver.get(f"http://127.0.0.1:{port}/dags")
        for dag_id in sorted(DOMAIN_DAGS):
            wait.until(ec.presence_of_element_located((By.XPATH, f"//a[contains(@href, '/dags/{dag_id}')]")))
        driver.save_screenshot(str(ARTIFACTS / "airflow-dags.png"))
        run_id = runs[0]["dag_run_id"]
        driver.get(f"http://127.0.0.1:{port}/dags/stores/runs/{run_id}")
        wait.until(ec.presence_of_element_located((By.XPATH, "//*[contains(translate(text(), 'S', 's'), 'success')]")))
        time.sleep(1)
        driver.save_screenshot(str(ARTIFACTS / "airflow-run.png"))
    finally:
        driver.quit()
    assert (ARTIFACTS / "airflow-run.png").stat().st_size > 10_000


def test_stop_leaves_no_process(airflow_ui):
    """Runs last in this module: stop, then look for any process carrying the run's marker."""
    _, _, env, marker = airflow_ui
    subprocess.run([sys.executable, "-m", "include.localui", "stop"], cwd=REPO_ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    deadline = time.monotonic() + 15
    while processes_with_env(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_with_env(marker) == []
