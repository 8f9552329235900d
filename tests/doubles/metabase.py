"""A stateful Metabase (open-source edition) double on 127.0.0.1, for the endpoints the project uses.

Semantics follow Metabase's API: setup and API keys, sessions, users (deactivation and
reactivation, never deletion), groups and memberships (``is_superuser`` is membership of
Administrators), databases, collections, cards, dashboards with dashcards, and both permission
graphs with revisions (a stale revision gets 409; a PUT carries a partial graph and leaves the
rest unchanged; ``sandboxes`` gets 402). A new database gives All Users native query access; a
new top-level collection copies the root collection's permissions; Administrators always have
full access. Dashboard subscriptions (pulses with a ``dashboard_id``) keep their email recipients
by user id and list only the active ones; archiving disables their channels; an update of a
dashboard renames its subscriptions after it and adds its new cards to them; every request acts as
a user (an API key as a user of its own). Every incoming request is validated against the
published OpenAPI description; a request that does not fit is answered 400 and recorded in
``violations``.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.openapi_validation import request_errors

ALL_USERS, ADMINS = 1, 2
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PROTECTED_PASSWORD = "**MetabasePass**"


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MetabaseDouble:
    """The state and the HTTP server. Use as a context manager; ``url`` is the base URL."""

    def __init__(self, *, validate: bool = True) -> None:
        self.validate = validate
        self.lock = threading.RLock()
        self.violations: list[str] = []
        self.requests: Counter[str] = Counter()  # "METHOD /path-pattern"
        self.writes = 0
        self.reads = 0
        self.fail_next: list[int] = []  # statuses to answer the next requests with (fault injection)
        self.setup_token = secrets.token_hex(16)
        self.sessions: dict[str, int] = {}
        self.api_keys: dict[str, int] = {}  # key -> group id
        self.api_key_users: dict[str, dict] = {}  # key -> the key's own user (not listed among users)
        self.current_user_id: int | None = None  # who sends the request being handled
        self.users: dict[int, dict] = {}
        self.groups: dict[int, dict] = {ALL_USERS: {"id": ALL_USERS, "name": "All Users"},
                                        ADMINS: {"id": ADMINS, "name": "Administrators"}}
        self.memberships: dict[int, tuple[int, int]] = {}  # membership id -> (user id, group id)
        self.databases: dict[int, dict] = {}
        self.data_perms: dict[int, dict[int, dict]] = {}  # group -> db -> perms
        self.data_revision = 0
        self.collections: dict[int, dict] = {}
        self.coll_perms: dict[int, dict[str, str]] = {ALL_USERS: {"root": "write"}}  # group -> coll -> level
        self.coll_revision = 0
        self.cards: dict[int, dict] = {}
        self.dashboards: dict[int, dict] = {}
        self.pulses: dict[int, dict] = {}
        self.sync_schema_calls: list[int] = []
        self.cache_invalidations: list[int] = []
        self._ids = Counter()
        self._server: ThreadingHTTPServer | None = None

    # -- server ---------------------------------------------------------------------------------
    def __enter__(self) -> MetabaseDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = double.dispatch(self.command, self.path, dict(self.headers.items()), body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # -- dispatch -------------------------------------------------------------------------------
    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parts.query
        if self.validate:
            problem = request_errors(method, path, query, body or None, headers)
            if problem:
                self.violations.append(f"{method} {raw_path}: {problem}")
                return 400, {"message": f"request does not match Metabase's OpenAPI description: {problem}"}
        with self.lock:
            if self.fail_next:
                return self.fail_next.pop(0), {"message": "injected fault"}
            try:
                payload = json.loads(body) if body else None
            except ValueError:
                return 400, {"message": "malformed JSON"}
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            params["_all"] = parse_qs(query)
            try:
                route, handler, args = self._route(method, path)
                self.requests[f"{method} {route}"] += 1
                if method == "GET":
                    self.reads += 1
                else:
                    self.writes += 1
                if route not in ("/api/setup/", "/api/session/"):
                    self._authenticate(headers)
                return 200, handler(*args, params=params, body=payload)
            except HttpError as exc:
                return exc.status, {"message": exc.message}

    _ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("POST", "/api/setup/", "setup"),
        ("POST", "/api/session/", "login"),
        ("POST", "/api/api-key/", "create_api_key"),
        ("GET", "/api/user/current", "current_user"),
        ("GET", "/api/user/", "list_users"),
        ("POST", "/api/user/", "create_user"),
        ("PUT", "/api/user/{id}/reactivate", "reactivate_user"),
        ("PUT", "/api/user/{id}", "update_user"),
        ("DELETE", "/api/user/{id}", "deactivate_user"),
        ("GET", "/api/permissions/group", "list_groups"),
        ("POST", "/api/permissions/group", "create_group"),
        ("GET", "/api/permissions/membership", "list_memberships"),
        ("POST", "/api/permissions/membership", "add_membership"),
        ("DELETE", "/api/permissions/membership/{id}", "remove_membership"),
        ("GET", "/api/permissions/graph", "get_data_graph"),
        ("PUT", "/api/permissions/graph", "put_data_graph"),
        ("GET", "/api/collection/graph", "get_coll_graph"),
        ("PUT", "/api/collection/graph", "put_coll_graph"),
        ("GET", "/api/database/", "list_databases"),
        ("POST", "/api/database/", "create_database"),
        ("PUT", "/api/database/{id}", "update_database"),
        ("POST", "/api/database/{id}/sync_schema", "sync_schema"),
        ("POST", "/api/cache/invalidate", "invalidate_cache"),
        ("GET", "/api/collection/", "list_collections"),
        ("POST", "/api/collection/", "create_collection"),
        ("PUT", "/api/collection/{id}", "update_collection"),
        ("GET", "/api/card/", "list_cards"),
        ("POST", "/api/card/", "create_card"),
        ("PUT", "/api/card/{id}", "update_card"),
        ("GET", "/api/dashboard/", "list_dashboards"),
        ("POST", "/api/dashboard/", "create_dashboard"),
        ("GET", "/api/dashboard/{id}", "get_dashboard"),
        ("PUT", "/api/dashboard/{id}", "update_dashboard"),
        ("GET", "/api/pulse/", "list_pulses"),
        ("POST", "/api/pulse/", "create_pulse"),
        ("GET", "/api/pulse/{id}", "get_pulse"),
        ("PUT", "/api/pulse/{id}", "update_pulse"),
    ]

    def _route(self, method: str, path: str) -> tuple[str, Any, list]:
        for m, pattern, name in self._ROUTES:
            if m != method:
                continue
            regex = "^" + re.escape(pattern).replace(r"\{id\}", r"(\d+)") + "$"
            match = re.match(regex, path)
            if match:
                return pattern, getattr(self, "_" + name), [int(g) for g in match.groups()]
        raise HttpError(404, f"API endpoint does not exist: {method} {path}")

    # -- auth -----------------------------------------------------------------------------------
    def _authenticate(self, headers: dict[str, str]) -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        self.current_user_id = None
        if "x-api-key" in lower:
            group = self.api_keys.get(lower["x-api-key"])
            if group is None:
                raise HttpError(401, "Unauthenticated")
            if group != ADMINS:
                raise HttpError(403, "You don't have permissions to do that.")
            self.current_user_id = self.api_key_users[lower["x-api-key"]]["id"]
            return
        user_id = self.sessions.get(lower.get("x-metabase-session", ""))
        if user_id is None or not self.users[user_id]["is_active"]:
            raise HttpError(401, "Unauthenticated")
        if not self.users[user_id]["is_superuser"]:
            raise HttpError(403, "You don't have permissions to do that.")
        self.current_user_id = user_id

    def _setup(self, *, params: dict, body: dict) -> dict:
        if body["token"] != self.setup_token:
            raise HttpError(403, "Token does not match the setup token.")
        if self.users:
            raise HttpError(403, "The /api/setup route can only be used to create the first user, however a user "
                                 "currently exists.")
        user = self._new_user(body["user"]["email"], body["user"].get("first_name"), body["user"].get("last_name"))
        user["password"] = body["user"]["password"]
        self._set_superuser(user["id"], True)
        token = secrets.token_hex(16)
        self.sessions[token] = user["id"]
        return {"id": token}

    def _login(self, *, params: dict, body: dict) -> dict:
        user = next((u for u in self.users.values() if u["email"].lower() == body["username"].lower()), None)
        if user is None or user.get("password") != body["password"] or not user["is_active"]:
            raise HttpError(401, "Password did not match stored password.")
        token = secrets.token_hex(16)
        self.sessions[token] = user["id"]
        return {"id": token}

    def _create_api_key(self, *, params: dict, body: dict) -> dict:
        if body["group_id"] not in self.groups:
            raise HttpError(404, "Not found.")
        key = "mb_" + secrets.token_urlsafe(32)
        self.api_keys[key] = body["group_id"]
        uid = self._next("user")  # every API key acts as a user of its own (type api-key, never listed)
        self.api_key_users[key] = {"id": uid, "email": f"api-key-user-{secrets.token_hex(8)}@api-key.invalid",
                                   "first_name": body["name"], "last_name": "", "common_name": body["name"],
                                   "is_active": True, "is_superuser": body["group_id"] == ADMINS}
        return {"id": len(self.api_keys), "name": body["name"], "unmasked_key": key, "masked_key": key[:7] + "..."}

    # -- users ----------------------------------------------------------------------------------
    def _public_user(self, user: dict) -> dict:
        return {k: v for k, v in user.items() if k != "password"} | {
            "group_ids": sorted(g for _, (u, g) in self.memberships.items() if u == user["id"])}

    def _new_user(self, email: str, first: str | None, last: str | None) -> dict:
        if any(u["email"].lower() == email.lower() for u in self.users.values()):
            raise HttpError(400, "Email address already in use.")
        uid = self._next("user")
        self.users[uid] = {"id": uid, "email": email, "first_name": first, "last_name": last,
                           "common_name": " ".join(x for x in (first, last) if x) or email,
                           "is_active": True, "is_superuser": False}
        self._add_member(uid, ALL_USERS)
        return self.users[uid]

    def _user(self, uid: int) -> dict:
        if uid not in self.users:
            raise HttpError(404, "Not found.")
        return self.users[uid]

    def _current_user(self, *, params: dict, body: Any) -> dict:
        return self._any_user(self.current_user_id) or {}

    def _any_user(self, uid: int | None) -> dict | None:
        """A user or an API key's user, without secrets."""
        user = self.users.get(uid) if uid is not None else None
        if user is None:
            user = next((u for u in self.api_key_users.values() if u["id"] == uid), None)
        return None if user is None else {k: v for k, v in user.items() if k != "password"}

    def _list_users(self, *, params: dict, body: Any) -> dict:
        include = params.get("include_deactivated") == "true"
        data = [self._public_user(u) for u in self.users.values() if include or u["is_active"]]
        return {"data": data, "total": len(data), "limit": None, "offset": None}

    def _create_user(self, *, params: dict, body: dict) -> dict:
        user = self._new_user(body["email"], body.get("first_name"), body.get("last_name"))
        for m in body.get("user_group_memberships") or []:
            self._add_member(user["id"], m["id"])
        return self._public_user(user)

    def _update_user(self, uid: int, *, params: dict, body: dict) -> dict:
        user = self._user(uid)
        for key in ("email", "first_name", "last_name"):
            if body.get(key) is not None:
                user[key] = body[key]
        if body.get("is_superuser") is not None:
            self._set_superuser(uid, bool(body["is_superuser"]))
        return self._public_user(user)

    def _deactivate_user(self, uid: int, *, params: dict, body: Any) -> dict:
        self._user(uid)["is_active"] = False
        self.sessions = {t: u for t, u in self.sessions.items() if u != uid}
        return {"success": True}

    def _reactivate_user(self, uid: int, *, params: dict, body: Any) -> dict:
        user = self._user(uid)
        if user["is_active"]:
            raise HttpError(400, "Not able to reactivate an active user")
        user["is_active"] = True
        return self._public_user(user)

    def _set_superuser(self, uid: int, value: bool) -> None:
        self.users[uid]["is_superuser"] = value
        current = [mid for mid, (u, g) in self.memberships.items() if u == uid and g == ADMINS]
        if value and not current:
            self.memberships[self._next("membership")] = (uid, ADMINS)
        if not value:
            for mid in current:
                del self.memberships[mid]

    # -- groups and memberships -----------------------------------------------------------------
    def _list_groups(self, *, params: dict, body: Any) -> list:
        counts = Counter(g for u, g in self.memberships.values() if self.users[u]["is_active"])
        return [{**g, "member_count": counts[g["id"]]} for g in self.groups.values()]

    def _create_group(self, *, params: dict, body: dict) -> dict:
        if any(g["name"] == body["name"] for g in self.groups.values()):
            raise HttpError(400, "A group with that name already exists.")
        gid = self._next("group") + 2
        self.groups[gid] = {"id": gid, "name": body["name"]}
        return {**self.groups[gid], "member_count": 0}

    def _list_memberships(self, *, params: dict, body: Any) -> dict:
        out: dict[str, list] = {}
        for mid, (uid, gid) in sorted(self.memberships.items()):
            if self.users[uid]["is_active"]:
                out.setdefault(str(uid), []).append(
                    {"membership_id": mid, "group_id": gid, "user_id": uid, "is_group_manager": False})
        return out

    def _add_member(self, uid: int, gid: int) -> int:
        if gid not in self.groups:
            raise HttpError(404, "Not found.")
        if any(m == (uid, gid) for m in self.memberships.values()):
            raise HttpError(400, "User is already a member of that group.")
        mid = self._next("membership")
        self.memberships[mid] = (uid, gid)
        if gid == ADMINS:
            self.users[uid]["is_superuser"] = True
        return mid

    def _add_membership(self, *, params: dict, body: dict) -> list:
        self._user(body["user_id"])
        if body["group_id"] == ALL_USERS:
            raise HttpError(400, "You cannot add or remove users to/from the 'All Users' group.")
        self._add_member(body["user_id"], body["group_id"])
        return [{"membership_id": mid, "user_id": u, "group_id": g} for mid, (u, g) in self.memberships.items()
                if g == body["group_id"]]

    def _remove_membership(self, mid: int, *, params: dict, body: Any) -> None:
        if mid not in self.memberships:
            raise HttpError(404, "Not found.")
        uid, gid = self.memberships[mid]
        if gid == ALL_USERS:
            raise HttpError(400, "You cannot add or remove users to/from the 'All Users' group.")
        del self.memberships[mid]
        if gid == ADMINS:
            self.users[uid]["is_superuser"] = False
        return None

    # -- data permissions -----------------------------------------------------------------------
    def _db_perms(self, gid: int, db_id: int) -> dict:
        if gid == ADMINS:
            return {"view-data": "unrestricted", "create-queries": "query-builder-and-native",
                    "download": {"schemas": "full"}, "data-model": {"schemas": "all"}, "details": "yes"}
        return self.data_perms.get(gid, {}).get(db_id, {"view-data": "unrestricted", "create-queries": "no"})

    def _get_data_graph(self, *, params: dict, body: Any) -> dict:
        groups = {str(g): {str(d): self._db_perms(g, d) for d in self.databases} for g in self.groups}
        return {"revision": self.data_revision, "groups": groups}

    def _put_data_graph(self, *, params: dict, body: dict) -> dict:
        if "sandboxes" in body:
            raise HttpError(402, "Sandboxes are a paid feature not currently available to your instance.")
        if params.get("force") != "true" and body.get("revision") != self.data_revision:
            raise HttpError(409, "Looks like someone else edited the permissions and your data is out of date. "
                                 "Please fetch new data and try again.")
        for g, dbs in body.get("groups", {}).items():
            gid = int(g)
            if gid not in self.groups:
                raise HttpError(400, f"no group {gid}")
            if gid == ADMINS:
                raise HttpError(400, "You cannot create or revoke permissions for the 'Admin' group.")
            for d, perms in dbs.items():
                if int(d) not in self.databases:
                    raise HttpError(400, f"no database {d}")
                if perms.get("view-data", "unrestricted") != "unrestricted":
                    raise HttpError(402, "Blocked, sandboxed and impersonated access need a paid plan.")
                cq = perms.get("create-queries")
                if isinstance(cq, dict) and any(v == "query-builder-and-native" for v in cq.values()):
                    raise HttpError(400, "Native query access can only be granted for a whole database.")
                current = dict(self._db_perms(gid, int(d)))
                current.update(perms)
                self.data_perms.setdefault(gid, {})[int(d)] = current
        self.data_revision += 1
        if params.get("skip-graph") == "true":
            return {"revision": self.data_revision}
        return self._get_data_graph(params={}, body=None)

    # -- collections and their graph ------------------------------------------------------------
    def _coll_level(self, gid: int, key: str) -> str:
        if gid == ADMINS:
            return "write"
        return self.coll_perms.get(gid, {}).get(key, "none")

    def _get_coll_graph(self, *, params: dict, body: Any) -> dict:
        keys = ["root"] + [str(c) for c, v in self.collections.items() if not v["archived"]]
        groups = {str(g): {k: self._coll_level(g, k) for k in keys} for g in self.groups}
        return {"revision": self.coll_revision, "groups": groups}

    def _put_coll_graph(self, *, params: dict, body: dict) -> dict:
        if params.get("force") != "true" and body.get("revision") != self.coll_revision:
            raise HttpError(409, "Looks like someone else edited the permissions and your data is out of date. "
                                 "Please fetch new data and try again.")
        for g, colls in body["groups"].items():
            gid = int(g)
            if gid not in self.groups or gid == ADMINS:
                raise HttpError(400, f"cannot change group {gid}")
            for c, level in colls.items():
                if level not in ("read", "write", "none"):
                    raise HttpError(400, f"invalid permission level {level!r}")
                if c != "root" and int(c) not in self.collections:
                    raise HttpError(400, f"no collection {c}")
                self.coll_perms.setdefault(gid, {})[c] = level
        self.coll_revision += 1
        if params.get("skip-graph") == "true":
            return {"revision": self.coll_revision}
        return self._get_coll_graph(params={}, body=None)

    def _list_collections(self, *, params: dict, body: Any) -> list:
        root = {"id": "root", "name": "Our analytics", "can_write": True, "effective_location": None}
        return [root] + [dict(c) for c in self.collections.values() if not c["archived"]]

    def _create_collection(self, *, params: dict, body: dict) -> dict:
        cid = self._next("collection")
        self.collections[cid] = {"id": cid, "name": body["name"], "description": body.get("description"),
                                 "archived": False, "location": "/", "personal_owner_id": None,
                                 "entity_id": secrets.token_urlsafe(16)[:21]}
        for gid in self.groups:  # a new top-level collection copies the root collection's permissions
            level = self._coll_level(gid, "root")
            if level != "none" and gid != ADMINS:
                self.coll_perms.setdefault(gid, {})[str(cid)] = level
        return dict(self.collections[cid])

    def _update_collection(self, cid: int, *, params: dict, body: dict) -> dict:
        if cid not in self.collections:
            raise HttpError(404, "Not found.")
        for key in ("name", "description", "archived"):
            if body.get(key) is not None:
                self.collections[cid][key] = body[key]
        return dict(self.collections[cid])

    # -- databases ------------------------------------------------------------------------------
    def _public_db(self, db: dict) -> dict:
        details = dict(db["details"])
        if "password" in details:
            details["password"] = PROTECTED_PASSWORD
        return {**db, "details": details}

    def _list_databases(self, *, params: dict, body: Any) -> dict:
        data = [self._public_db(d) for d in self.databases.values()]
        return {"data": data, "total": len(data)}

    def _create_database(self, *, params: dict, body: dict) -> dict:
        if body["engine"] not in ("postgres", "h2", "mysql"):
            raise HttpError(400, "value must be a valid database engine.")
        db_id = self._next("database")
        self.databases[db_id] = {"id": db_id, "name": body["name"], "engine": body["engine"],
                                 "details": dict(body["details"]), "is_full_sync": body.get("is_full_sync", True)}
        # a new database gives All Users native query access
        self.data_perms.setdefault(ALL_USERS, {})[db_id] = {"view-data": "unrestricted",
                                                             "create-queries": "query-builder-and-native"}
        self.data_revision += 1
        return self._public_db(self.databases[db_id])

    def _update_database(self, db_id: int, *, params: dict, body: dict) -> dict:
        if db_id not in self.databases:
            raise HttpError(404, "Not found.")
        db = self.databases[db_id]
        if body.get("details") is not None:
            details = dict(body["details"])
            if details.get("password") == PROTECTED_PASSWORD:
                details["password"] = db["details"].get("password")
            db["details"] = details
        if body.get("name"):
            db["name"] = body["name"]
        return self._public_db(db)

    def _sync_schema(self, db_id: int, *, params: dict, body: Any) -> dict:
        if db_id not in self.databases:
            raise HttpError(404, "Not found.")
        self.sync_schema_calls.append(db_id)
        return {"status": "ok"}

    def _invalidate_cache(self, *, params: dict, body: Any) -> dict:
        ids = [int(x) for x in params["_all"].get("database", [])]
        self.cache_invalidations.extend(ids)
        return {"count": 0, "message": "Invalidated cache for 0 queries"}

    # -- cards and dashboards -------------------------------------------------------------------
    def _check_collection(self, cid: Any) -> None:
        if cid is not None and cid not in self.collections:
            raise HttpError(400, f"no collection {cid}")

    def _list_cards(self, *, params: dict, body: Any) -> list:
        return [dict(c) for c in self.cards.values() if not c.get("archived")]

    def _create_card(self, *, params: dict, body: dict) -> dict:
        self._check_collection(body.get("collection_id"))
        query = body["dataset_query"]
        if query.get("database") not in self.databases:
            raise HttpError(400, "card query names an unknown database")
        card_id = self._next("card")
        self.cards[card_id] = {"id": card_id, "archived": False, **body}
        return dict(self.cards[card_id])

    def _update_card(self, card_id: int, *, params: dict, body: dict) -> dict:
        if card_id not in self.cards:
            raise HttpError(404, "Not found.")
        self._check_collection(body.get("collection_id"))
        self.cards[card_id].update({k: v for k, v in body.items() if v is not None})
        return dict(self.cards[card_id])

    def _list_dashboards(self, *, params: dict, body: Any) -> list:
        return [{k: v for k, v in d.items() if k != "dashcards"} for d in self.dashboards.values()
                if not d.get("archived")]

    def _create_dashboard(self, *, params: dict, body: dict) -> dict:
        self._check_collection(body.get("collection_id"))
        dash_id = self._next("dashboard")
        self.dashboards[dash_id] = {"id": dash_id, "archived": False, "parameters": [], "dashcards": [],
                                    "description": None, **body}
        return dict(self.dashboards[dash_id])

    def _get_dashboard(self, dash_id: int, *, params: dict, body: Any) -> dict:
        if dash_id not in self.dashboards:
            raise HttpError(404, "Not found.")
        return json.loads(json.dumps(self.dashboards[dash_id]))

    def _update_dashboard(self, dash_id: int, *, params: dict, body: dict) -> dict:
        if dash_id not in self.dashboards:
            raise HttpError(404, "Not found.")
        dash = self.dashboards[dash_id]
        self._check_collection(body.get("collection_id"))
        for key, value in body.items():
            if key != "dashcards" and value is not None:
                dash[key] = value
        if body.get("dashcards") is not None:
            existing = {d["id"]: d for d in dash["dashcards"]}
            param_ids = {p["id"] for p in dash.get("parameters") or []}
            new = []
            for dc in body["dashcards"]:
                if dc.get("card_id") not in self.cards:
                    raise HttpError(400, f"dashcard names unknown card {dc.get('card_id')}")
                for m in dc.get("parameter_mappings") or []:
                    if m["parameter_id"] not in param_ids:
                        raise HttpError(400, f"mapping names unknown parameter {m['parameter_id']}")
                if dc["id"] >= 0 and dc["id"] not in existing:
                    raise HttpError(400, f"dashcard {dc['id']} is not on dashboard {dash_id}")
                dc_id = dc["id"] if dc["id"] >= 0 else self._next("dashcard")
                new.append({**dc, "id": dc_id, "dashboard_id": dash_id})
            dash["dashcards"] = new
        self._dashboard_updated(dash)
        return json.loads(json.dumps(dash))

    # -- dashboard subscriptions (pulses) -------------------------------------------------------
    def _dashboard_updated(self, dash: dict) -> None:
        """Metabase's dashboard-update event: its subscriptions take the dashboard's name and collection,
        and get a pulse card for each card newly on the dashboard."""
        for pulse in self.pulses.values():
            if pulse["dashboard_id"] != dash["id"]:
                continue
            pulse["name"], pulse["collection_id"] = dash["name"], dash.get("collection_id")
            have = {c["id"] for c in pulse["cards"]}
            for dc in dash["dashcards"]:
                if dc.get("card_id") and dc["card_id"] not in have:
                    pulse["cards"].append({"id": dc["card_id"], "include_csv": False, "include_xls": False,
                                           "dashboard_card_id": dc["id"]})
                    have.add(dc["card_id"])

    def _public_pulse(self, pulse: dict) -> dict:
        cards = []
        for ref in pulse["cards"]:
            card = self.cards.get(ref["id"])
            if card is not None and not card.get("archived"):
                cards.append({**ref, "name": card["name"], "description": card.get("description"),
                              "display": card.get("display"), "collection_id": card.get("collection_id"),
                              "dashboard_id": pulse["dashboard_id"], "parameter_mappings": None})
        channels = []
        for ch in pulse["channels"]:
            users = [self.users[u] for u in sorted(ch["user_ids"]) if u in self.users and self.users[u]["is_active"]]
            recipients = [{"email": e} for e in ch["emails"]] + [
                {k: u[k] for k in ("id", "email", "first_name", "last_name", "common_name")} for u in users]
            channels.append({k: v for k, v in ch.items() if k not in ("user_ids", "emails")}
                            | {"pulse_id": pulse["id"], "recipients": recipients})
        return json.loads(json.dumps({**pulse, "cards": cards, "channels": channels,
                                      "creator": self._any_user(pulse["creator_id"]), "can_write": True}))

    def _pulse(self, pulse_id: int) -> dict:
        if pulse_id not in self.pulses:
            raise HttpError(404, "Not found.")
        return self.pulses[pulse_id]

    def _list_pulses(self, *, params: dict, body: Any) -> list:
        archived = params.get("archived") == "true"
        dashboard_id = int(params["dashboard_id"]) if params.get("dashboard_id") else None
        mine = params.get("creator_or_recipient") == "true"
        out = []
        for pulse in self.pulses.values():
            dash = self.dashboards.get(pulse["dashboard_id"]) if pulse["dashboard_id"] else None
            if pulse["archived"] != archived or (dash is not None and dash.get("archived")):
                continue
            if dashboard_id is not None and pulse["dashboard_id"] != dashboard_id:
                continue
            if mine and self.current_user_id != pulse["creator_id"] and not any(
                    self.current_user_id in ch["user_ids"] for ch in pulse["channels"]):
                continue
            out.append(self._public_pulse(pulse))
        return sorted(out, key=lambda p: (p["name"].lower(), p["id"]))

    def _get_pulse(self, pulse_id: int, *, params: dict, body: Any) -> dict:
        return self._public_pulse(self._pulse(pulse_id))

    def _card_refs(self, cards: Any) -> list[dict]:
        if not isinstance(cards, list) or not cards:
            raise HttpError(400, "cards: value must be a non-empty sequence of card references.")
        refs = []
        for ref in cards:
            if not isinstance(ref, dict) or not isinstance(ref.get("id"), int) or not all(
                    isinstance(ref.get(k), bool) for k in ("include_csv", "include_xls")):
                raise HttpError(400, "value must be a map with the keys `id`, `include_csv`, `include_xls`, and "
                                     "`dashboard_card_id`.")
            if ref["id"] not in self.cards or self.cards[ref["id"]].get("archived"):
                raise HttpError(404, "Not found.")
            refs.append({"id": ref["id"], "include_csv": ref["include_csv"], "include_xls": ref["include_xls"],
                         "dashboard_card_id": ref.get("dashboard_card_id")})
        return refs

    def _channel(self, ch: Any, existing: dict[int, dict]) -> dict:
        """One channel of a create or update, checked as Metabase's pulse-channel model does."""
        if not isinstance(ch, dict):
            raise HttpError(400, "channels: value must be a sequence of maps.")
        kind, stype = ch.get("channel_type"), ch.get("schedule_type")
        hour, day, frame = ch.get("schedule_hour"), ch.get("schedule_day"), ch.get("schedule_frame")
        if kind not in ("email", "slack", "http") or not isinstance(ch.get("enabled"), bool):
            raise HttpError(400, "channel_type must be email, slack or http, and enabled a boolean.")
        hour_ok = isinstance(hour, int) and not isinstance(hour, bool) and 0 <= hour <= 23
        valid = (stype == "hourly" or (stype == "daily" and hour_ok)
                 or (stype == "weekly" and hour_ok and day in DAYS)
                 or (stype == "monthly" and hour_ok and frame in ("first", "mid", "last")
                     and (frame != "mid" or day is None)))
        if not valid:
            raise HttpError(400, f"invalid schedule: {stype} {day} {hour} {frame}")
        user_ids: list[int] = []
        emails: list[str] = []
        for r in ch.get("recipients") or []:
            if not isinstance(r, dict):
                raise HttpError(400, "recipients: value must be a sequence of maps.")
            if r.get("id") is not None:
                user = self.users.get(r["id"])
                if user is None:
                    raise HttpError(404, f"User {r['id']} does not exist.")
                if r.get("email") and r["email"] != user["email"]:
                    raise HttpError(403, f"Wrong email address for User {r['id']}.")
                user_ids.append(r["id"])
            elif r.get("email"):
                emails.append(r["email"])
        channel_id = ch.get("id") if ch.get("id") in existing else self._next("pulse_channel")
        details = {k: v for k, v in (ch.get("details") or {}).items() if k != "emails"}
        return {"id": channel_id, "channel_type": kind, "enabled": ch["enabled"], "schedule_type": stype,
                "schedule_hour": hour if stype != "hourly" else None,
                "schedule_day": day if stype in ("weekly", "monthly") else None,
                "schedule_frame": frame if stype == "monthly" else None, "details": details,
                "channel_id": ch.get("channel_id"), "user_ids": sorted(set(user_ids)),
                "emails": emails if kind == "email" else []}

    def _create_pulse(self, *, params: dict, body: dict) -> dict:
        cards = self._card_refs(body["cards"])
        if not isinstance(body["channels"], list) or not body["channels"]:
            raise HttpError(400, "channels: value must be a non-empty sequence of maps.")
        dash_id = body.get("dashboard_id")
        if dash_id is not None and dash_id not in self.dashboards:
            raise HttpError(404, "Not found.")
        for param in body.get("parameters") or []:
            if not isinstance(param.get("id"), str) or not param["id"]:
                raise HttpError(400, ":parameters must be a sequence of maps with String :id keys")
        pulse_id = self._next("pulse")
        collection = self.dashboards[dash_id].get("collection_id") if dash_id else body.get("collection_id")
        pulse = {"id": pulse_id, "name": body["name"], "dashboard_id": dash_id, "collection_id": collection,
                 "collection_position": body.get("collection_position"), "creator_id": self.current_user_id,
                 "archived": False, "skip_if_empty": bool(body.get("skip_if_empty")),
                 "parameters": body.get("parameters") or [], "entity_id": secrets.token_urlsafe(16)[:21],
                 "cards": cards, "channels": []}
        pulse["channels"] = [self._channel(ch, {}) for ch in body["channels"]]
        self.pulses[pulse_id] = pulse
        return self._public_pulse(pulse)

    def _update_pulse(self, pulse_id: int, *, params: dict, body: dict) -> dict:
        pulse = self._pulse(pulse_id)
        if "collection_id" in body and pulse["dashboard_id"] and body["collection_id"] != pulse["collection_id"]:
            raise HttpError(400, "collection ID of a dashboard subscription cannot be directly modified")
        cards = self._card_refs(body["cards"]) if body.get("cards") is not None else None
        existing = {c["id"]: c for c in pulse["channels"]}
        channels = body.get("channels")
        if channels is not None and (not isinstance(channels, list) or not channels):
            raise HttpError(400, "channels: value must be a non-empty sequence of maps.")
        new_channels = [self._channel(ch, existing) for ch in channels] if channels is not None else None
        archived = body.get("archived")
        if archived is not None and archived != pulse["archived"]:
            pulse["archived"] = archived  # archiving disables every channel, restoring enables them
            for ch in pulse["channels"]:
                ch["enabled"] = not archived
        for key in ("name", "skip_if_empty", "parameters"):
            if body.get(key) is not None:
                pulse[key] = body[key]
        if cards is not None:
            pulse["cards"] = cards
        if new_channels is not None:
            pulse["channels"] = new_channels  # the list is definitive: channels left out are deleted
        return self._public_pulse(pulse)

    # -- helpers for tests ----------------------------------------------------------------------
    def bootstrap(self, email: str = "admin@example.com", password: str = "S3cure-Passw0rd!") -> str:
        """Run setup and create an administrators' API key, as a person would; returns the key."""
        import requests

        session = requests.post(f"{self.url}/api/setup/", timeout=10, json={
            "token": self.setup_token, "user": {"email": email, "password": password, "first_name": "Site",
                                                "last_name": "Admin"},
            "prefs": {"site_name": "Beachwood"}}).json()["id"]
        answer = requests.post(f"{self.url}/api/api-key/", timeout=10, headers={"X-Metabase-Session": session},
                               json={"name": "Airflow", "group_id": ADMINS})
        answer.raise_for_status()
        return answer.json()["unmasked_key"]

    def subscribers(self, dashboard_id: int, *, archived: bool = False) -> list[set[str]]:
        """Emails that receive each subscription of a dashboard: active user recipients of enabled email
        channels, and raw addresses (one set per subscription)."""
        out = []
        for pulse in self.pulses.values():
            if pulse["dashboard_id"] != dashboard_id or pulse["archived"] != archived:
                continue
            emails: set[str] = set()
            for ch in pulse["channels"]:
                if ch["channel_type"] == "email" and (ch["enabled"] or archived):
                    emails |= {self.users[u]["email"] for u in ch["user_ids"] if self.users[u]["is_active"]}
                    emails |= set(ch["emails"])
            out.append(emails)
        return out

    def user_by_email(self, email: str) -> dict | None:
        return next((u for u in self.users.values() if u["email"].lower() == email.lower()), None)

    def groups_of(self, uid: int) -> set[int]:
        return {g for u, g in self.memberships.values() if u == uid}

    def reachable(self, email: str, warehouse_db: int) -> tuple[set[str], set[str], bool]:
        """What a user can reach: stores of readable collections, stores whose schema they can query,
        and whether they can see everything (administrator)."""
        user = self.user_by_email(email)
        if user is None or not user["is_active"]:
            return set(), set(), False
        if user["is_superuser"]:
            return set(), set(), True
        groups = self.groups_of(user["id"])
        coll_stores: set[str] = set()
        for cid, coll in self.collections.items():
            match = re.search(r"\[bw:store/(\d{6})\]", coll.get("description") or "")
            readable = any(self._coll_level(g, str(cid)) in ("read", "write") for g in groups)
            if readable:
                coll_stores.add(match.group(1) if match else f"collection:{coll['name']}")
        query_stores: set[str] = set()
        for gid in groups:
            cq = self._db_perms(gid, warehouse_db).get("create-queries", "no")
            if isinstance(cq, str) and cq != "no":
                query_stores.add("*all*")
            elif isinstance(cq, dict):
                for schema, level in cq.items():
                    if level != "no":
                        query_stores.add(schema.removeprefix("store_"))
        return coll_stores, query_stores, False
