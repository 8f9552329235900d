"""Starting and stopping Airflow's servers for end-to-end tests, and talking to its REST API."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path


class AirflowApi:
    """A minimal client of Airflow's public REST API (v2) with a bearer token."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base.rstrip("/")
        body = self._call("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        self.token = body["access_token"]

    def _call(self, method: str, path: str, payload: dict | None = None, auth: bool = True) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def trigger(self, dag_id: str) -> str:
        return self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        state = "queued"
        while time.monotonic() < deadline:
            state = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id)}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise TimeoutError(f"run {run_id} of {dag_id} still {state} after {timeout:.0f} s")

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.get("/api/v2/dags?limit=100")["dags"]}


def wait_for_dags(api: AirflowApi, dag_ids: set[str], timeout: float = 120) -> None:
    """Until the dag-processor has parsed and stored the DAGs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dag_ids <= api.dag_ids():
            return
        time.sleep(2)
    raise TimeoutError(f"DAGs {dag_ids - api.dag_ids()} not parsed after {timeout:.0f} s")


def admin_password(airflow_home: str) -> str:
    path = Path(airflow_home) / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    return json.loads(path.read_text())["admin"]


def processes_with_env(marker: str) -> list[int]:
    """PIDs of processes whose environment contains ``marker`` (to find orphans)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
