"""Pytest fixtures that start the Microsoft doubles and point the Airflow connections at them.

Import the fixtures into a test module: ``from tests.doubles.fixtures import microsoft``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.doubles.authority import AuthorityDouble
from tests.doubles.dataverse import DataverseDouble
from tests.doubles.graph import GraphDouble
from tests.doubles.http import self_signed_cert

TENANT = "7f3c1c1e-0000-4000-8000-00000000b00d"
CLIENT_ID = "1a2b3c4d-5e6f-4000-8000-000000000042"
#: Known secret value: tests assert it never shows up in logs, XCom or exceptions.
CLIENT_SECRET = "Sup3r~S3cret.Value_for-tests~9f8e7d"


@dataclass
class Microsoft:
    authority: AuthorityDouble
    graph: GraphDouble
    dataverse: DataverseDouble
    ca_bundle: Path
    monkeypatch: pytest.MonkeyPatch

    def connect(self, **overrides: object) -> None:
        """(Re)write both Airflow connections; ``overrides`` go into both extras."""
        common = {
            "tenant_id": TENANT,
            "authority": self.authority.url,
            "ca_bundle": str(self.ca_bundle),
            "disable_instance_discovery": True,
            "backoff_base": 0.02,
            **overrides,
        }
        graph = {"conn_type": "msgraph", "login": CLIENT_ID, "password": CLIENT_SECRET,
                 "extra": {**common, "base_url": f"{self.graph.url}/v1.0"}}
        dataverse = {"conn_type": "http", "host": self.dataverse.url, "login": CLIENT_ID,
                     "password": CLIENT_SECRET, "extra": common}
        self.monkeypatch.setenv("AIRFLOW_CONN_MSGRAPH_DEFAULT", json.dumps(graph))
        self.monkeypatch.setenv("AIRFLOW_CONN_DATAVERSE_DEFAULT", json.dumps(dataverse))

    @property
    def tokens(self) -> list[str]:
        return list(self.authority.issued)


_TLS: tuple[Path, Path] | None = None


def tls_files() -> tuple[Path, Path]:
    """One self-signed certificate per test session (the authority must be https for msal)."""
    global _TLS
    if _TLS is None:
        _TLS = self_signed_cert(Path(tempfile.mkdtemp(prefix="bw-tls-")))
    return _TLS


@pytest.fixture
def microsoft(monkeypatch) -> Iterator[Microsoft]:
    """Fresh authority, Graph and Dataverse doubles; connections and ``BW_TRANSPORT=microsoft`` set."""
    tls = tls_files()
    authority = AuthorityDouble(TENANT, tls).start()
    authority.register(CLIENT_ID, CLIENT_SECRET)
    graph = GraphDouble(authority).start()
    dataverse = DataverseDouble(authority).start()
    env = Microsoft(authority, graph, dataverse, tls[0], monkeypatch)
    env.connect()
    monkeypatch.setenv("BW_TRANSPORT", "microsoft")
    try:
        yield env
    finally:
        for double in (graph, dataverse, authority):
            double.stop()
