"""An msal-compatible authority (Entra ID): OpenID metadata and the client-credentials token endpoint."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from tests.doubles.http import DoubleServer, Request, Response


@dataclass
class Issued:
    token: str
    audience: str
    expires_at: float


class AuthorityDouble:
    """Issues bearer tokens to registered confidential clients; resource doubles validate them here."""

    def __init__(self, tenant_id: str, tls: tuple[Path, Path], *, expires_in: int = 3600) -> None:
        self.tenant_id = tenant_id
        self.expires_in = expires_in
        self.clients: dict[str, str] = {}
        self.issued: dict[str, Issued] = {}
        self.token_requests = 0
        self._lock = threading.Lock()
        self.server = DoubleServer(self.route, tls=tls)

    @property
    def url(self) -> str:
        return self.server.url

    def register(self, client_id: str, secret: str) -> None:
        self.clients[client_id] = secret

    def start(self) -> AuthorityDouble:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def expire_all(self) -> None:
        """Every token issued so far stops being valid (resource servers answer 401)."""
        with self._lock:
            for issued in self.issued.values():
                issued.expires_at = 0.0

    def valid(self, header: str | None, audience: str) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        issued = self.issued.get(header.removeprefix("Bearer "))
        return bool(issued and issued.audience == audience and issued.expires_at > time.time())

    def route(self, request: Request) -> Response:
        base = f"{self.url}/{self.tenant_id}"
        if request.method == "GET" and request.path == f"/{self.tenant_id}/v2.0/.well-known/openid-configuration":
            return Response.json({
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "token"],
                "tenant_region_scope": "NA",
            })
        if request.method == "POST" and request.path == f"/{self.tenant_id}/oauth2/v2.0/token":
            return self._token(request)
        if request.path.startswith("/") and "/v2.0/.well-known" in request.path:
            return Response.json({"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."},
                                 400)
        return Response.error(404, "notFound", request.path)

    def _token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        with self._lock:
            self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type",
                                  "error_description": "AADSTS70003: unsupported grant type."}, 400)
        client_id = form.get("client_id", "")
        if self.clients.get(client_id) is None:
            return Response.json({"error": "unauthorized_client",
                                  "error_description": f"AADSTS700016: Application {client_id} not found."}, 400)
        if not secrets.compare_digest(self.clients[client_id], form.get("client_secret", "")):
            return Response.json({"error": "invalid_client",
                                  "error_description": "AADSTS7000215: Invalid client secret provided."}, 401)
        scope = form.get("scope", "").split()
        resource = [s for s in scope if s.endswith("/.default")]
        if not resource:
            return Response.json({"error": "invalid_scope",
                                  "error_description": "AADSTS1002012: scope must end in /.default."}, 400)
        audience = resource[0].removesuffix("/.default")
        token = f"eyJ0eXAi.{secrets.token_urlsafe(24)}.sig"
        with self._lock:
            self.issued[token] = Issued(token, audience, time.time() + self.expires_in)
        return Response.json({"token_type": "Bearer", "expires_in": self.expires_in,
                              "ext_expires_in": self.expires_in, "access_token": token})
