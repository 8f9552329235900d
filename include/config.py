"""Settings read from the environment, with local-first defaults.

Every setting has one name (``BW_*``) and one place where it is read. Secrets are
never settings: they live in Airflow connections (``AIRFLOW_CONN_*``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Airflow connection ids used by the project.
WAREHOUSE_CONN_ID = "warehouse_default"
GRAPH_CONN_ID = "msgraph_default"
DATAVERSE_CONN_ID = "dataverse_default"
METABASE_CONN_ID = "metabase_default"
SMTP_CONN_ID = "smtp_default"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """A snapshot of the ``BW_*`` environment."""

    transport: str
    local_source_dir: Path
    data_dir: Path
    store_allowlist: frozenset[str]
    email_to: tuple[str, ...]
    graph_site: str
    graph_drive: str
    graph_dimensions_path: str
    graph_labor_folder: str
    access_source: str

    @classmethod
    def from_env(cls) -> Settings:
        local_dir = REPO_ROOT / ".local"
        allow = _env("BW_STORE_ALLOWLIST", "")
        emails = _env("BW_ALERT_EMAILS", "")
        return cls(
            transport=_env("BW_TRANSPORT", "local").lower(),
            local_source_dir=Path(_env("BW_LOCAL_SOURCE_DIR", str(local_dir / "source"))),
            data_dir=Path(_env("BW_DATA_DIR", str(local_dir / "data"))),
            store_allowlist=frozenset(s.strip().zfill(6) for s in allow.replace(";", ",").split(",") if s.strip()),
            email_to=tuple(e.strip() for e in emails.replace(";", ",").split(",") if e.strip()),
            graph_site=_env("BW_GRAPH_SITE", "root"),
            graph_drive=_env("BW_GRAPH_DRIVE", "Documents"),
            graph_dimensions_path=_env("BW_GRAPH_DIMENSIONS_PATH", "General/BI Import/BI Dimensions.xlsx"),
            graph_labor_folder=_env("BW_GRAPH_LABOR_FOLDER", "Labor"),
            access_source=_env("BW_ACCESS_SOURCE", "sheet").lower(),
        )


def settings() -> Settings:
    """Current settings (read on every call, so tests and runs can change the environment)."""
    return Settings.from_env()
