"""The docs follow the Metabase dashboard templates: pictures up to date, every card explained."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from include.config import REPO_ROOT
from include.metabase.templates import load_templates

DOCS = REPO_ROOT / "docs"
IMAGES = DOCS / "images"
TEMPLATES = REPO_ROOT / "metabase" / "dashboards"
GUIDE = DOCS / "store-managers.md"
OPERATOR_PAGE = DOCS / "from-power-bi.md"
REGENERATE = "regenerate with: .venv/bin/python docs/render_layouts.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_layouts", DOCS / "render_layouts.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


render_layouts = _load_generator()


def test_the_generator_reads_the_cards_metabase_gets() -> None:
    drawn = {layout.key: [card.name for card in layout.cards] for layout in render_layouts.read_layouts(TEMPLATES)}
    loaded = {t.key: sorted(c.name for c in t.cards) for t in load_templates(TEMPLATES)}
    assert {key: sorted(names) for key, names in drawn.items()} == loaded


def test_one_png_per_template(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    written = render_layouts.render_all(TEMPLATES, tmp_path)
    keys = {t.key for t in load_templates(TEMPLATES)}
    assert {p.name for p in written} == {f"{key}.png" for key in keys}
    assert {p.name for p in tmp_path.glob("*.png")} == {f"{key}.png" for key in keys}
    for path in written:
        with image.open(path) as picture:
            assert picture.format == "PNG"
            width, height = picture.size
        assert 1000 <= width <= 2000, path.name
        assert 400 <= height <= 3000, path.name
    manifest = json.loads((tmp_path / "layouts.json").read_text(encoding="utf-8"))
    assert set(manifest["templates"]) == keys
    # the committed pictures are the same set of files
    assert {p.name for p in IMAGES.glob("*.png")} == {p.name for p in written}, REGENERATE
    assert json.loads((IMAGES / "layouts.json").read_text(encoding="utf-8")) == manifest, REGENERATE


def test_committed_images_were_drawn_from_the_current_templates() -> None:
    assert render_layouts.stale(TEMPLATES, IMAGES) == [], REGENERATE


def test_stale_notices_a_changed_added_or_removed_template(tmp_path: Path) -> None:
    templates, images = tmp_path / "templates", tmp_path / "images"
    shutil.copytree(TEMPLATES, templates)
    images.mkdir()
    manifest = render_layouts.manifest_for(render_layouts.read_layouts(templates))
    (images / "layouts.json").write_text(json.dumps(manifest), encoding="utf-8")
    for entry in manifest["templates"].values():
        (images / entry["image"]).write_bytes(b"")
    assert render_layouts.stale(templates, images) == []

    path = templates / "store_labor.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["cards"][0]["size_y"] += 1
    path.write_text(json.dumps(raw), encoding="utf-8")
    raw["key"] = "store_extra"
    (templates / "store_extra.json").write_text(json.dumps(raw), encoding="utf-8")
    (templates / "data_quality.json").unlink()
    assert render_layouts.stale(templates, images) == [
        "data_quality: template removed, image still listed",
        "store_extra: no image yet",
        "store_extra: store_extra.png is missing",
        "store_labor: template changed since its image was drawn",
    ]


def test_sql_only_changes_keep_the_picture_current(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    before = {layout.key: render_layouts.fingerprint(layout) for layout in render_layouts.read_layouts(templates)}
    path = templates / "store_overview.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["cards"][0]["sql"] = raw["cards"][0]["sql"].replace("WHERE true", "WHERE 1 = 1")
    path.write_text(json.dumps(raw), encoding="utf-8")
    after = {layout.key: render_layouts.fingerprint(layout) for layout in render_layouts.read_layouts(templates)}
    assert after == before


@pytest.mark.parametrize(
    ("sql", "columns"),
    [
        ("SELECT *\nFROM dq.load_batches", ("* (every column)",)),
        ("SELECT f.week, w.net_sales AS actual_sales, round(avg(x), 2) AS mape\nFROM a f JOIN b w",
         ("week", "actual_sales", "mape")),
        ("SELECT source, count(*) AS rows FROM etl.quarantine", ("source", "rows")),
    ],
)
def test_select_columns(sql: str, columns: tuple[str, ...]) -> None:
    assert render_layouts.select_columns(sql) == columns


def test_the_guide_explains_every_card() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    missing = [f"{t.key}: {card.name}" for t in load_templates(TEMPLATES) for card in t.cards if card.name not in guide]
    assert missing == [], f"{GUIDE.name} does not mention these cards"


def test_the_operator_page_explains_the_admin_dashboards() -> None:
    page = OPERATOR_PAGE.read_text(encoding="utf-8")
    missing = [f"{t.key}: {card.name}" for t in load_templates(TEMPLATES) if t.scope == "admin"
               for card in t.cards if card.name not in page]
    assert missing == [], f"{OPERATOR_PAGE.name} does not mention these cards"


def test_the_docs_show_every_dashboard_and_their_pictures_exist() -> None:
    texts = {path: path.read_text(encoding="utf-8") for path in (GUIDE, OPERATOR_PAGE)}
    links = {path: re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text) for path, text in texts.items()}
    for path, targets in links.items():
        for target in targets:
            assert not target.startswith(("/", "http")), f"{path.name}: use a relative link, not {target}"
            assert (path.parent / target).is_file(), f"{path.name}: {target} does not exist"
    for template in load_templates(TEMPLATES):
        image = f"images/{template.key}.png"
        where = GUIDE if template.scope == "store" else OPERATOR_PAGE
        assert image in links[where], f"{where.name} does not show {image}"
