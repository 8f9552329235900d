"""Validate HTTP requests against Metabase's published OpenAPI description (``shared/metabase/openapi.json``).

openapi-core 0.23 refuses the file as published (no ``info.version``), so the spec validator is
switched off (``Config(spec_validator_cls=None)``); request validation itself works. Paths must
match the spec exactly, trailing slashes included (``/api/user/``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from include.config import REPO_ROOT

SPEC_PATH = Path(os.environ.get("BW_SHARED_DIR", REPO_ROOT.parent / "shared")) / "metabase" / "openapi.json"
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def metabase_openapi() -> OpenAPI:
    """The parsed spec (about a second to load; cached per process)."""
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    spec["servers"] = [{"url": "http://localhost:3000"}]  # requests are matched on path only
    # The published schema of a dimension target is ``{}`` (it matches anything), which makes every
    # ``oneOf`` of parameter targets fail for a ``["variable", ...]`` target (two branches match).
    # Metabase's own (Malli) schema says a dimension target starts with "dimension": use that.
    schemas = spec["components"]["schemas"]
    if schemas.get("metabase.lib.schema.parameter.dimension") == {}:
        schemas["metabase.lib.schema.parameter.dimension"] = {
            "type": "array", "prefixItems": [{"const": "dimension"}], "minItems": 2}
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@dataclass
class _Request:
    """The openapi-core request protocol, built from what an HTTP server receives."""

    host_url: str
    path: str
    method: str
    query: str
    headers: dict[str, str]
    body: bytes | None
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(self.query, keep_blank_values=True)),
            header=Headers(list(self.headers.items())),
        )

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or self.headers.get("content-type") or "application/json").lower()


def request_errors(method: str, path: str, query: str = "", body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> str | None:
    """None when the request fits the spec, else a readable reason."""
    request = _Request("http://localhost:3000", path, method.lower(), query, dict(headers or {}), body or None)
    if body and "Content-Type" not in request.headers and "content-type" not in request.headers:
        request.headers["Content-Type"] = "application/json"
        request.__post_init__()
    with _LOCK:  # openapi-core's caches are not documented as thread-safe
        try:
            metabase_openapi().validate_request(request)
        except Exception as exc:
            if _array_query_limitation(exc, request):
                return None
            details = getattr(exc, "__cause__", None) or exc
            inner = getattr(details, "schema_errors", None)
            extra = "; ".join(str(e.message) for e in inner)[:800] if inner else ""
            return f"{type(exc).__name__}: {exc} {details if details is not exc else ''} {extra}".strip()
    return None


def _array_query_limitation(exc: Exception, request: _Request) -> bool:
    """openapi-core 0.23 cannot deserialize a query parameter declared ``oneOf: [array of integers, null]``
    (e.g. ``POST /api/cache/invalidate?database=3``); check such values by hand instead."""
    if type(exc).__name__ != "InvalidParameter":
        return False
    name = getattr(exc, "name", None)
    if name is None or getattr(exc, "location", "query") != "query":
        return False
    op = metabase_openapi().spec / "paths" / request.path / request.method
    for param in (op / "parameters") if "parameters" in op else []:
        if param["name"] != name:
            continue
        schema = param / "schema"
        variants = [v.read_value() for v in schema / "oneOf"] if "oneOf" in schema else []
        arrays = [v for v in variants if v.get("type") == "array" and v.get("items", {}).get("type") == "integer"]
        values = request.parameters.query.getlist(name)
        return bool(arrays) and all(v.isdigit() for v in values)
    return False
