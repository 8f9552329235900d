"""A small threaded HTTP(S) server for contract doubles, with fault injection and a request log."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def target(self) -> str:
        return self.path + (f"?{self.raw_query}" if self.raw_query else "")

    def json(self) -> object:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None  # streamed body (Content-Length must be given)

    @classmethod
    def json(cls, payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                   json.dumps(payload).encode())

    @classmethod
    def error(cls, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return cls.json({"error": {"code": code, "message": message}}, status, headers)


@dataclass
class Fault:
    """Answer the next ``times`` requests whose target contains ``match`` (and method, if given) with this."""

    match: str
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None
    times: int = 1
    delay: float = 0.0  # seconds to stall before answering (a slow response)
    method: str | None = None
    passthrough: bool = False  # after the delay, answer normally


class DoubleServer:
    """Serves ``route(request) -> Response`` on 127.0.0.1 until stopped."""

    def __init__(self, route: Callable[[Request], Response], *, tls: tuple[Path, Path] | None = None) -> None:
        self.route = route
        self.faults: list[Fault] = []
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def _handle(self) -> None:
                double._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> DoubleServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def requests_to(self, fragment: str, method: str | None = None) -> list[Request]:
        return [r for r in self.log if fragment in r.target and (method is None or r.method == method)]

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in request.target and fault.method in (None, request.method):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(handler.command, parts.path, query, parts.query,
                          {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.log.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            fault = self._take_fault(request)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and not fault.passthrough:
                payload = fault.body if fault.body is not None else {
                    "error": {"code": f"HTTP{fault.status}", "message": "injected fault"}}
                response = Response.json(payload, fault.status, fault.headers)
            else:
                try:
                    response = self.route(request)
                except Exception as exc:  # a bug in the double: answer 500 with the reason
                    response = Response.error(500, "doubleError", f"{type(exc).__name__}: {exc}")
            self._write(handler, response)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        finally:
            with self._lock:
                self.in_flight -= 1

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, response: Response) -> None:
        handler.send_response(response.status)
        headers = dict(response.headers)
        if response.chunks is None:
            headers["Content-Length"] = str(len(response.body))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if response.chunks is not None:
            for chunk in response.chunks:
                handler.wfile.write(chunk)
        elif response.body:
            handler.wfile.write(response.body)


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (it is its own CA bundle)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "double.crt", directory / "double.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
