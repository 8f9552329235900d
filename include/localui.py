"""The Airflow UI for local use: ``python -m include.localui start|stop|status`` (``make ui`` / ``make ui-stop``).

Starts api-server (http://127.0.0.1:8080), scheduler, dag-processor and triggerer, each in
its own process group with its PID and log under ``.local/ui/``, on the same databases as
``make run`` (LocalExecutor, small parallelism). ``stop`` ends each group by PID: no orphans.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from include.localrun import LOCAL_DIR, apply_migrations, migrate_airflow, prepare_environment

UI_DIR = Path(os.environ.get("BW_UI_DIR", str(LOCAL_DIR / "ui")))
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def ui_environment(port: int) -> dict[str, str]:
    """Environment shared by the four components (one JWT secret, one execution API URL)."""
    prepare_environment()
    UI_DIR.mkdir(parents=True, exist_ok=True)
    secret_file = UI_DIR / "jwt_secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    env = os.environ.copy()
    env.update({
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": env.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secret_file.read_text().strip(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port + 13),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(port + 14),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    })
    return env


def _slug(component: str) -> str:
    return "-".join(component.replace("@%h", "").split())


def _pid_file(component: str) -> Path:
    return UI_DIR / f"{_slug(component)}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running() -> dict[str, int]:
    """Components started from this folder that are still alive, by PID file."""
    out = {}
    for path in sorted(UI_DIR.glob("*.pid")):
        pid = int(path.read_text())
        if _alive(pid):
            out[path.stem] = pid
    return out


def password_file(env: dict[str, str]) -> Path:
    return Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"


def start(port: int = 8080, timeout: float = 120, extra_env: dict[str, str] | None = None,
          components: tuple[str, ...] = COMPONENTS) -> dict[str, int]:
    """Start the components not already running; wait until the API answers.

    ``components`` may name other ``airflow`` sub-commands (``celery worker -H w1@%h``).
    """
    env = {**ui_environment(port), **(extra_env or {})}
    apply_migrations()
    migrate_airflow()
    airflow = str(Path(sys.executable).parent / "airflow")
    pids = running()
    for component in components:
        if _slug(component) in pids:
            continue
        log = open(UI_DIR / f"{_slug(component)}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen([airflow, *component.split()], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        _pid_file(component).write_text(str(proc.pid))
        pids[_slug(component)] = proc.pid
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        raise SystemExit(f"the Airflow API did not answer on {url} within {timeout:.0f} s; see {UI_DIR}/*.log")
    return pids


def stop(timeout: float = 30) -> list[str]:
    """Terminate each component's process group; kill what is left after ``timeout``."""
    stopped = []
    for component, pid in running().items():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        (UI_DIR / f"{component}.pid").unlink(missing_ok=True)
        stopped.append(component)
    return stopped


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("BW_UI_PORT", "8080")))
    args = parser.parse_args(argv)
    if args.command == "start":
        pids = start(args.port)
        env = ui_environment(args.port)
        passwords = password_file(env)
        login = json.loads(passwords.read_text()) if passwords.exists() else {}
        print(f"Airflow UI: http://127.0.0.1:{args.port}  (processes {pids})")
        for user, password in login.items():
            print(f"login: {user} / {password}")
        print("stop with: make ui-stop")
    elif args.command == "stop":
        print("stopped: " + (", ".join(stop()) or "nothing was running"))
    else:
        print(json.dumps(running()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
