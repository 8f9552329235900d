"""Run the project's real nginx configuration on 127.0.0.1 high ports (used by tests/test_nginx.py).

The files under nginx/ are used as they are: nginx.conf and snippets/ copied, templates/
rendered exactly like the nginx image's envsubst step (only the variables given are replaced).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from include.config import REPO_ROOT

NGINX_DIR = REPO_ROOT / "nginx"
NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_variables() -> set[str]:
    """Every ``${NAME}`` the templates use (the nginx service must define each one)."""
    names: set[str] = set()
    for template in (NGINX_DIR / "templates").glob("*.conf.template"):
        names |= set(_VAR.findall(template.read_text()))
    return names


def render(text: str, variables: dict[str, str]) -> str:
    """envsubst with a list of defined variables: ``${NAME}`` replaced when defined, kept otherwise."""
    return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def lay_out(prefix: Path, variables: dict[str, str]) -> Path:
    """nginx.conf, mime.types, snippets/ and rendered sites/ under ``prefix``; returns the main config."""
    prefix.mkdir(parents=True, exist_ok=True)
    shutil.copy(NGINX_DIR / "nginx.conf", prefix / "nginx.conf")
    shutil.copy("/etc/nginx/mime.types", prefix / "mime.types")
    shutil.copytree(NGINX_DIR / "snippets", prefix / "snippets", dirs_exist_ok=True)
    sites = prefix / "sites"
    sites.mkdir(exist_ok=True)
    for template in sorted((NGINX_DIR / "templates").glob("*.conf.template")):
        (sites / template.name.removesuffix(".template")).write_text(render(template.read_text(), variables))
    (prefix / "logs").mkdir(exist_ok=True)
    return prefix / "nginx.conf"


def self_signed(cert_dir: Path, host: str) -> None:
    """``cert_dir/host/{fullchain,privkey}.pem``, the layout certbot leaves under live/."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    # RSA, so that a weak RSA key-exchange cipher would be usable if the TLS snippet enabled one
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = cert_dir / host
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def global_directives(prefix: Path) -> str:
    """What the test adds on the command line: foreground, a pid file in the prefix, root workers
    when run as root (the prefix lives under a private temporary folder)."""
    user = "user root; " if os.geteuid() == 0 else ""
    return f"daemon off; pid {prefix / 'nginx.pid'}; {user}"


def check_config(config: Path) -> subprocess.CompletedProcess[str]:
    prefix = config.parent
    return subprocess.run(
        [NGINX_BIN, "-t", "-e", "stderr", "-p", str(prefix), "-c", str(config), "-g", global_directives(prefix)],
        capture_output=True,
        text=True,
        check=False,
    )


def start(config: Path, ports: list[int], timeout: float = 10.0) -> subprocess.Popen:
    prefix = config.parent
    log = (prefix / "logs" / "nginx.out").open("w")
    proc = subprocess.Popen(
        [NGINX_BIN, "-e", "stderr", "-p", str(prefix), "-c", str(config), "-g", global_directives(prefix)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(prefix / 'logs' / 'nginx.out').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(f"nginx did not listen on {port} in {timeout} s") from None
                time.sleep(0.05)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
