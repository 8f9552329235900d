"""The production nginx server blocks under real nginx: TLS, SNI routing, redirects, ACME, headers.

nginx runs the files in nginx/ (templates rendered with test ports, loopback upstreams and
self-signed certificates) on 127.0.0.1 high ports. Needs the Debian package ``nginx-light``
(or ``nginx``).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from include.devdb import free_port
from tests import nginx_harness as harness

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(not Path(harness.NGINX_BIN).exists(), reason="nginx is not installed (apt-get install nginx)"),
]

METABASE = "StoreMgnt.Beachwood.me"
AIRFLOW = "airflow.beachwood.me"
LEGACY = "str.ptpsystem.com"


class _Upstream(BaseHTTPRequestHandler):
    """Answers with its own name, the path and the headers it received."""

    name = "upstream"

    def do_GET(self) -> None:
        body = json.dumps({"name": self.name, "path": self.path, "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Frame-Options", "DENY")  # nginx must send only its own value
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@dataclass
class Proxy:
    http_port: int
    https_port: int
    webroot: Path
    config: Path


def _serve(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type(name, (_Upstream,), {"name": name}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[Proxy]:
    root = tmp_path_factory.mktemp("nginx")
    upstreams = {n: _serve(n) for n in ("metabase", "airflow", "legacy")}
    certs = root / "live"
    for host in (METABASE, AIRFLOW, LEGACY):
        harness.self_signed(certs, host)
    webroot = root / "www"
    (webroot / ".well-known" / "acme-challenge").mkdir(parents=True)
    http_port, https_port = free_port(), free_port()
    variables = {
        "NGINX_HTTP_PORT": str(http_port),
        "NGINX_HTTPS_PORT": str(https_port),
        "NGINX_RESOLVER": "127.0.0.1",
        "METABASE_HOST": METABASE,
        "AIRFLOW_HOST": AIRFLOW,
        "LEGACY_HOST": LEGACY,
        "CERT_DIR": str(certs),
        "ACME_WEBROOT": str(webroot),
        "METABASE_UPSTREAM": f"127.0.0.1:{upstreams['metabase'].server_address[1]}",
        "AIRFLOW_UPSTREAM": f"127.0.0.1:{upstreams['airflow'].server_address[1]}",
        "LEGACY_UPSTREAM": f"127.0.0.1:{upstreams['legacy'].server_address[1]}",
    }
    assert set(variables) == harness.template_variables()
    config = harness.lay_out(root / "prefix", variables)
    proc = harness.start(config, [http_port, https_port])
    yield Proxy(http_port, https_port, webroot, config)
    harness.stop(proc)
    for server in upstreams.values():
        server.shutdown()
        server.server_close()


def _context(**kwargs) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for key, value in kwargs.items():
        setattr(context, key, value)
    return context


def _https(proxy: Proxy, host: str, path: str = "/", context: ssl.SSLContext | None = None):
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, context=context or _context(), timeout=5)
    # http.client sends SNI from the connection host; connect ourselves to name the virtual host.
    sock = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=5)
    conn.sock = (context or _context()).wrap_socket(sock, server_hostname=host)
    conn.request("GET", path, headers={"Host": host})
    response = conn.getresponse()
    body = response.read()
    cert = conn.sock.getpeercert(binary_form=True)
    version = conn.sock.version()
    conn.close()
    return response, body, cert, version


def _http(proxy: Proxy, host: str, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=5)
    conn.request("GET", path, headers={"Host": host})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def _common_name(der: bytes) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_nginx_accepts_the_configuration(proxy):
    result = harness.check_config(proxy.config)
    assert result.returncode == 0, result.stderr
    rendered = "".join(p.read_text() for p in (proxy.config.parent / "sites").glob("*.conf"))
    assert "${" not in rendered


@pytest.mark.parametrize(("host", "upstream"), [(METABASE, "metabase"), (AIRFLOW, "airflow"), (LEGACY, "legacy")])
def test_sni_routes_each_host_to_its_upstream_with_its_certificate(proxy, host, upstream):
    response, body, cert, _ = _https(proxy, host, "/api/health?x=1")
    assert response.status == 200
    seen = json.loads(body)
    assert seen["name"] == upstream
    assert seen["path"] == "/api/health?x=1"
    assert _common_name(cert) == host
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == host.lower()  # nginx's $host is lower-cased
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == host.lower()


def test_security_headers_on_proxied_responses(proxy):
    response, _, _, _ = _https(proxy, METABASE)
    hsts = response.getheader("Strict-Transport-Security")
    assert hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "strict-origin-when-cross-origin"
    assert response.headers.get_all("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.getheader("Server") == "nginx"  # no version number


def test_tls_versions_and_ciphers(proxy):
    assert _https(proxy, AIRFLOW)[3] == "TLSv1.3"
    tls12 = _context(maximum_version=ssl.TLSVersion.TLSv1_2)
    assert _https(proxy, AIRFLOW, context=tls12)[3] == "TLSv1.2"

    no_forward_secrecy = _context(maximum_version=ssl.TLSVersion.TLSv1_2)
    no_forward_secrecy.set_ciphers("AES128-GCM-SHA256:AES256-GCM-SHA384")
    with pytest.raises(ssl.SSLError):
        _https(proxy, AIRFLOW, context=no_forward_secrecy)
    # TLS 1.0/1.1 are off by ssl_protocols, and also by OpenSSL 3's default security level
    # on the server, so a client test of them could not fail here: the snippet is checked instead.
    tls = (harness.NGINX_DIR / "snippets" / "tls.conf").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in tls


@pytest.mark.parametrize("host", [METABASE, AIRFLOW, LEGACY])
def test_http_redirects_to_https_permanently(proxy, host):
    response, _ = _http(proxy, host, "/dashboard/12?tab=3")
    assert response.status == 301
    assert response.getheader("Location") == f"https://{host.lower()}/dashboard/12?tab=3"


def test_acme_challenge_is_served_over_http_not_redirected(proxy):
    token = "Xy-123_abc"
    (proxy.webroot / ".well-known" / "acme-challenge" / token).write_text("token.thumbprint")
    response, body = _http(proxy, METABASE, f"/.well-known/acme-challenge/{token}")
    assert (response.status, body) == (200, b"token.thumbprint")
    assert response.getheader("Content-Type", "").startswith("text/plain")
    missing, _ = _http(proxy, AIRFLOW, "/.well-known/acme-challenge/unknown")
    assert missing.status == 404


def test_unknown_host_names_are_dropped(proxy):
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        _http(proxy, "evil.example.com", "/")
    with pytest.raises(ssl.SSLError):
        _https(proxy, "evil.example.com")
    sock = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=5)
    with pytest.raises(ssl.SSLError):  # no SNI at all (a scan by IP address)
        _context().wrap_socket(sock)
    sock.close()


def test_harness_envsubst_keeps_undefined_and_nginx_variables():
    assert harness.render("${A} $host ${B}", {"A": "1"}) == "1 $host ${B}"
