"""Dashboard templates (``metabase/dashboards/*.json``) and their per-store instances.

A template has a ``scope`` (``store``: one dashboard per store, in the store's collection;
``admin``: one dashboard in the administrators-only collection), ``parameters`` (dashboard
filters) and ``cards``: native SQL where ``${schema}`` is the store's reporting schema and
``{{start_date}}``/``{{end_date}}`` are Metabase variables inside optional ``[[...]]`` clauses,
plus the card's place on the grid (row, col, size_x, size_y). ``"subscription": true`` on a store
template makes each of its dashboards the one emailed weekly to the store's managers
(``include/metabase/subscriptions.py``).

Each instance carries a version hash of everything it is made of; provisioning compares it
with the one in Metabase and updates the card or dashboard in place when it differs.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from include.config import REPO_ROOT
from include.metabase.desired import DATA_QUALITY_KEY, key_marker, schema_name

TEMPLATES_DIR = REPO_ROOT / "metabase" / "dashboards"
_TAG_RE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_OPTIONAL_RE = re.compile(r"\[\[.*?\]\]", re.S)
_VERSION_RE = re.compile(r"\[v:([0-9a-f]+)\]")
#: schema.table references after FROM / JOIN (quoted or not).
_RELATION_RE = re.compile(r"\b(?:from|join)\s+(\"?[a-z_][a-z0-9_]*\"?)(?:\s*\.\s*(\"?[a-z_][a-z0-9_]*\"?))?", re.I)


class TemplateError(ValueError):
    """A template that cannot be used as it is."""


@dataclass(frozen=True)
class CardTemplate:
    key: str
    name: str
    display: str
    sql: str
    row: int
    col: int
    size_x: int
    size_y: int
    visualization_settings: dict


@dataclass(frozen=True)
class DashboardTemplate:
    key: str
    scope: str
    name: str
    description: str
    parameters: list[dict]
    cards: list[CardTemplate]
    subscription: bool = False


def load_templates(directory: Path = TEMPLATES_DIR) -> list[DashboardTemplate]:
    """Every template in ``directory``, checked."""
    templates = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            cards = [
                CardTemplate(c["key"], c["name"], c.get("display", "table"), c["sql"], int(c["row"]), int(c["col"]),
                             int(c["size_x"]), int(c["size_y"]), c.get("visualization_settings", {}))
                for c in raw["cards"]
            ]
            template = DashboardTemplate(raw["key"], raw["scope"], raw["name"], raw.get("description", ""),
                                         raw.get("parameters", []), cards, bool(raw.get("subscription", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise TemplateError(f"{path.name}: {exc!r}") from exc
        if template.scope not in ("store", "admin"):
            raise TemplateError(f"{path.name}: scope must be 'store' or 'admin', not {template.scope!r}")
        if template.subscription and template.scope != "store":
            raise TemplateError(f"{path.name}: only store dashboards are emailed to store managers")
        params = {p["id"] for p in template.parameters}
        for card in cards:
            unknown = set(_TAG_RE.findall(card.sql)) - params
            if unknown:
                raise TemplateError(f"{path.name}: card {card.key} uses undeclared variables {sorted(unknown)}")
            if template.scope == "store" and "${schema}" not in card.sql:
                raise TemplateError(f"{path.name}: card {card.key} does not read from ${{schema}}")
        templates.append(template)
    if len({t.key for t in templates}) != len(templates):
        raise TemplateError("two templates share a key")
    return templates


def render_sql(card: CardTemplate, store_id: str | None) -> str:
    """The card's SQL for one store (``${schema}`` replaced by its quoted reporting schema)."""
    if store_id is None:
        return card.sql
    return card.sql.replace("${schema}", f'"{schema_name(store_id)}"')


def executable_sql(sql: str, values: dict[str, str] | None = None) -> tuple[str, list]:
    """SQL runnable by psycopg: optional clauses kept with their variables bound, or dropped.

    ``values`` maps variable names to values; a clause whose variables are all given is kept.
    """
    values = values or {}
    params: list = []

    def clause(match: re.Match) -> str:
        body = match.group(0)[2:-2]
        names = _TAG_RE.findall(body)
        return body if names and all(n in values for n in names) else ""

    text = _OPTIONAL_RE.sub(clause, sql)

    def bind(match: re.Match) -> str:
        params.append(values[match.group(1)])
        return "%s::date"

    text = _TAG_RE.sub(bind, text.replace("%", "%%"))
    return text, params


def referenced_relations(sql: str) -> list[tuple[str | None, str]]:
    """``(schema, name)`` of every relation after FROM or JOIN (schema None when unqualified)."""
    out = []
    for first, second in _RELATION_RE.findall(_OPTIONAL_RE.sub(" ", sql)):
        first, second = first.strip('"').lower(), second.strip('"').lower()
        out.append((first, second) if second else (None, first))
    return out


def check_card_sql(sql: str, allowed_schema: str) -> list[str]:
    """Problems with a rendered card's SQL: relations outside ``allowed_schema`` or unqualified."""
    problems = []
    for schema, name in referenced_relations(sql):
        if schema is None:
            problems.append(f"unqualified relation {name!r} (must be {allowed_schema}.<view>)")
        elif schema != allowed_schema:
            problems.append(f"relation {schema}.{name} is outside schema {allowed_schema}")
    return problems


def version_of(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def parse_version(description: str | None) -> str | None:
    match = _VERSION_RE.search(description or "")
    return match.group(1) if match else None


def _tag_id(key: str, tag: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"beachwood/{key}/{tag}"))


def instance_key(template: DashboardTemplate, store_id: str | None) -> str:
    return f"dash/{template.key}" + (f"/{store_id}" if store_id else "")


def card_key(template: DashboardTemplate, card: CardTemplate, store_id: str | None) -> str:
    return f"card/{template.key}/{card.key}" + (f"/{store_id}" if store_id else "")


def collection_key(template: DashboardTemplate, store_id: str | None) -> str:
    return f"store/{store_id}" if template.scope == "store" else DATA_QUALITY_KEY


def card_body(template: DashboardTemplate, card: CardTemplate, store_id: str | None, store_name: str,
              database_id: int, collection_id: int) -> dict:
    """The ``POST/PUT /api/card/`` body of one card instance (version hash in its description)."""
    sql = render_sql(card, store_id)
    param_by_id = {p["id"]: p for p in template.parameters}
    tags = {
        name: {"id": _tag_id(card_key(template, card, store_id), name), "name": name,
               "display-name": param_by_id[name].get("name", name), "type": "date"}
        for name in dict.fromkeys(_TAG_RE.findall(sql))
    }
    key = card_key(template, card, store_id)
    name = f"{card.name} · {store_id}" if store_id else card.name
    content = {"name": name, "display": card.display, "sql": sql, "tags": tags, "vs": card.visualization_settings}
    return {
        "name": name,
        "description": f"{_managed_text(template, store_id, store_name)} {key_marker(key)} [v:{version_of(content)}]",
        "display": card.display,
        "visualization_settings": card.visualization_settings,
        "dataset_query": {"type": "native", "database": database_id,
                          "native": {"query": sql, "template-tags": tags}},
        "collection_id": collection_id,
    }


def dashboard_name(template: DashboardTemplate, store_id: str | None, store_name: str) -> str:
    return template.name.format(store_id=store_id or "", store_name=store_name)


def dashboard_body(template: DashboardTemplate, store_id: str | None, store_name: str, collection_id: int,
                   card_ids: dict[str, int]) -> dict:
    """The dashboard fields and its dashcards (``card_id`` by card key); ``dashcards`` carry no ids yet."""
    name = dashboard_name(template, store_id, store_name)
    dashcards = []
    for card in template.cards:
        sql = render_sql(card, store_id)
        used = list(dict.fromkeys(_TAG_RE.findall(sql)))
        card_id = card_ids[card.key]
        dashcards.append({
            "card_id": card_id, "row": card.row, "col": card.col, "size_x": card.size_x, "size_y": card.size_y,
            "parameter_mappings": [
                {"parameter_id": p, "card_id": card_id, "target": ["variable", ["template-tag", p]]} for p in used
            ],
        })
    content = {"name": name, "parameters": template.parameters,
               "layout": [{k: v for k, v in d.items() if k not in ("card_id", "parameter_mappings")} | {"card": c.key}
                          for d, c in zip(dashcards, template.cards, strict=True)],
               "cards": sorted(card_ids.values())}
    key = instance_key(template, store_id)
    return {
        "name": name,
        "description": f"{_managed_text(template, store_id, store_name)} {key_marker(key)} [v:{version_of(content)}]",
        "collection_id": collection_id,
        "parameters": template.parameters,
        "dashcards": dashcards,
    }


def _managed_text(template: DashboardTemplate, store_id: str | None, store_name: str) -> str:
    text = template.description.format(store_id=store_id or "", store_name=store_name)
    return f"{text} Managed by Airflow from template {template.key}; edits here are overwritten."
