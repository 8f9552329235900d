"""Draw each Metabase dashboard template's layout as a PNG for the docs.

Reads every ``metabase/dashboards/*.json`` and writes ``docs/images/<key>.png``: the dashboard
name (placeholders filled with an example store), its filters, and each card as a box at its
place on Metabase's 24-column grid with its name, display type and a small picture of it.
``docs/images/layouts.json`` records a hash of what each picture is drawn from, so a test can
tell when a template changed and the pictures were not regenerated.

    .venv/bin/python docs/render_layouts.py            # regenerate docs/images
    .venv/bin/python docs/render_layouts.py --check    # exit 1 when docs/images is out of date
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = REPO_ROOT / "metabase" / "dashboards"
IMAGES_DIR = REPO_ROOT / "docs" / "images"
MANIFEST = "layouts.json"
#: The example store shown in dashboard names.
EXAMPLE_STORE = {"store_id": "000126", "store_name": "Akron – Main St"}

GRID_COLUMNS = 24
COL_W = 48  # pixels per grid column
ROW_H = 34  # pixels per grid row
MARGIN = 28
GAP = 8  # space between neighbouring cards
PAD = 12  # space inside a card

BACKGROUND = "#f6f8fb"
INK = "#2e353b"
MUTED = "#74838f"
FAINT = "#e3e8ee"
CARD_LINE = "#d3dae2"
ACCENT = "#509ee3"
SERIES = ("#509ee3", "#88bf4d", "#a989c5", "#ef8c8c", "#f9d45c")
ADMIN = "#ed6e6e"

DISPLAY_LABELS = {
    "table": "Table",
    "pivot": "Pivot table",
    "object": "Detail",
    "line": "Line chart",
    "area": "Area chart",
    "bar": "Bar chart",
    "combo": "Combo chart",
    "row": "Row chart",
    "waterfall": "Waterfall chart",
    "scalar": "Number",
    "smartscalar": "Trend (number)",
    "progress": "Progress bar",
    "gauge": "Gauge",
    "pie": "Pie chart",
    "funnel": "Funnel",
    "map": "Map",
}

_FONT_FILES = {
    False: ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "LiberationSans-Regular.ttf"),
    True: ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"),
}


@dataclass(frozen=True)
class Card:
    key: str
    name: str
    display: str
    row: int
    col: int
    size_x: int
    size_y: int
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    key: str
    scope: str
    name: str
    description: str
    filters: tuple[str, ...]
    cards: tuple[Card, ...]
    source: str


_ALIAS_RE = re.compile(r'(?:\bAS\s+|[\s.(])"?([a-z_][a-z0-9_]*)"?\s*$', re.I)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def select_columns(sql: str) -> tuple[str, ...]:
    """The result columns of a query's outer SELECT list (a single label for ``*``; empty when unreadable)."""
    match = re.search(r"\bselect\b", sql, re.I)
    if not match:
        return ()
    items, depth, start, i = [], 0, match.end(), match.end()
    while i < len(sql):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch == ",":
            items.append(sql[start:i])
            start = i + 1
        elif depth == 0 and re.match(r"from\b", sql[i:i + 5], re.I) and not _word_char(sql[i - 1]):
            break
        i += 1
    items.append(sql[start:i])
    if [item.strip() for item in items] == ["*"]:
        return ("* (every column)",)
    columns = []
    for item in (item.strip() for item in items):
        found = _ALIAS_RE.search(" " + item)
        if not found:
            return ()
        columns.append(found.group(1))
    return tuple(columns)


def read_layout(path: Path) -> Layout:
    """What the picture of one template shows (defaults as in ``include/metabase/templates.py``)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    cards = []
    for c in raw["cards"]:
        vs = c.get("visualization_settings") or {}
        cards.append(Card(c["key"], c["name"], c.get("display", "table"), int(c["row"]), int(c["col"]),
                          int(c["size_x"]), int(c["size_y"]), tuple(vs.get("graph.metrics") or ()),
                          tuple(vs.get("graph.dimensions") or ()), select_columns(c.get("sql", ""))))
    return Layout(
        key=raw["key"],
        scope=raw["scope"],
        name=raw["name"].format(**EXAMPLE_STORE),
        description=raw.get("description", "").format(**EXAMPLE_STORE),
        filters=tuple(p.get("name", p["id"]) for p in raw.get("parameters", [])),
        cards=tuple(sorted(cards, key=lambda card: (card.row, card.col))),
        source=path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path.name,
    )


def read_layouts(templates_dir: Path = TEMPLATES_DIR) -> list[Layout]:
    return [read_layout(path) for path in sorted(templates_dir.glob("*.json"))]


def fingerprint(layout: Layout) -> str:
    """A hash of everything the picture is drawn from (the cards' SQL is not drawn)."""
    content = {
        "key": layout.key, "scope": layout.scope, "name": layout.name, "description": layout.description,
        "filters": layout.filters, "cards": [card.__dict__ for card in layout.cards],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def manifest_for(layouts: list[Layout]) -> dict[str, Any]:
    return {
        "generator": "docs/render_layouts.py",
        "templates": {
            layout.key: {"source": layout.source, "image": f"{layout.key}.png", "layout_sha256": fingerprint(layout)}
            for layout in layouts
        },
    }


def stale(templates_dir: Path = TEMPLATES_DIR, images_dir: Path = IMAGES_DIR) -> list[str]:
    """Why ``images_dir`` does not match the templates (empty when it does)."""
    path = images_dir / MANIFEST
    if not path.exists():
        return [f"{path} is missing"]
    recorded = json.loads(path.read_text(encoding="utf-8")).get("templates", {})
    wanted = manifest_for(read_layouts(templates_dir))["templates"]
    problems = [f"{key}: template removed, image still listed" for key in sorted(set(recorded) - set(wanted))]
    for key, entry in sorted(wanted.items()):
        if key not in recorded:
            problems.append(f"{key}: no image yet")
        elif recorded[key].get("layout_sha256") != entry["layout_sha256"]:
            problems.append(f"{key}: template changed since its image was drawn")
        if not (images_dir / entry["image"]).exists():
            problems.append(f"{key}: {entry['image']} is missing")
    return problems


# -- drawing ----------------------------------------------------------------------------------------


#: Set when no TrueType font was found: Pillow's own font lacks a few punctuation marks.
_PLAIN_TEXT = {"fallback": False}
_PLAIN = str.maketrans({"–": "-", "—": "-", "…": "...", "·": "-", "’": "'"})


def _font(size: int, bold: bool = False):
    from PIL import ImageFont

    for name in _FONT_FILES[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    _PLAIN_TEXT["fallback"] = True
    return ImageFont.load_default(size=size)


def _drawing(image):
    """An ``ImageDraw`` that writes plain punctuation when only Pillow's own font is available."""
    from PIL import ImageDraw

    class Drawing(ImageDraw.ImageDraw):
        def text(self, xy, text, *args, **kwargs):
            return super().text(xy, text.translate(_PLAIN) if _PLAIN_TEXT["fallback"] else text, *args, **kwargs)

        def textlength(self, text, *args, **kwargs):
            return super().textlength(text.translate(_PLAIN) if _PLAIN_TEXT["fallback"] else text, *args, **kwargs)

    return Drawing(image)


def _wrap(draw, text: str, font, width: float, max_lines: int) -> list[str]:
    """``text`` in lines no wider than ``width`` (the last one ends with … when cut)."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += " …"
    for i, line in enumerate(lines):
        while draw.textlength(line, font=font) > width and len(line) > 2:
            line = line[:-2] + "…"
        lines[i] = line
    return lines


def _line_height(font) -> int:
    top, bottom = font.getbbox("Ag")[1::2]
    return int(bottom - top) + 5


def _series_values(seed: str, n: int, count: int) -> list[list[float]]:
    """Made-up but stable values in 0..1 for a picture of a chart."""
    rng = random.Random(seed)
    out = []
    for s in range(count):
        level, values = 0.45 + 0.1 * s, []
        for _ in range(n):
            level = min(0.95, max(0.1, level + rng.uniform(-0.18, 0.18)))
            values.append(level)
        out.append(values)
    return out


def _fit(draw, text: str, font, width: float) -> str:
    """``text`` cut with … to fit ``width``."""
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _draw_table(draw, box: tuple[int, int, int, int], columns: tuple[str, ...]) -> None:
    """A table with the card's column names in its header row."""
    x0, y0, x1, y1 = box
    font = _font(11, bold=True)
    header_h = 22
    draw.rectangle((x0, y0, x1, y0 + header_h), fill="#dcebf9")
    rows = max(1, min(6, (y1 - y0 - header_h) // 18))
    row_h = (y1 - y0 - header_h) / rows
    for r in range(1, rows):
        y = y0 + header_h + row_h * r
        draw.line((x0, y, x1, y), fill=FAINT, width=1)
    star = len(columns) == 1 and columns[0].startswith("*")
    if star:  # every column of the view: one label over unnamed columns
        draw.text((x0 + 5, y0 + header_h / 2), columns[0], fill="#3b6d9c", font=font, anchor="lm")
    names = ("",) * (6 if star else 4) if star or not columns else columns
    weights = [draw.textlength(name, font=font) + 12 if name else 60.0 for name in names]
    x = float(x0)
    for i, (name, weight) in enumerate(zip(names, weights, strict=True)):
        col_w = (x1 - x0) * weight / sum(weights)
        if i:
            draw.line((x, y0 + (header_h if star else 0), x, y1), fill=FAINT, width=1)
        if name:
            draw.text((x + 5, y0 + header_h / 2), _fit(draw, name, font, col_w - 8), fill="#3b6d9c", font=font,
                      anchor="lm")
        for r in range(rows):  # grey bars standing for values
            y = y0 + header_h + row_h * (r + 0.5)
            length = min(col_w - 12, 14 + (col_w - 26) * ((i * 7 + r * 3) % 5 + 2) / 8)
            if length > 6 and row_h >= 10:
                draw.rounded_rectangle((x + 5, y - 3, x + 5 + length, y + 3), radius=3, fill="#edf0f3")
        x += col_w
    draw.rectangle(box, outline="#b8c2cc", width=1)


def _draw_hint(draw, card: Card, box: tuple[int, int, int, int]) -> None:
    """A small picture of the card's display type inside ``box``."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 24 or h < 16:
        return
    axis = "#b8c2cc"
    display, series, seed = card.display, max(1, min(len(card.metrics), len(SERIES))), card.key
    if display in ("table", "pivot", "object"):
        _draw_table(draw, box, card.columns)
    elif display in ("line", "area", "combo"):
        draw.line((x0, y0, x0, y1, x1, y1), fill=axis, width=2)
        n = max(8, min(30, w // 24))
        for s, values in enumerate(_series_values(seed, n, series)):
            points = [(x0 + 6 + (w - 10) * i / (n - 1), y1 - 4 - (h - 8) * v) for i, v in enumerate(values)]
            if display == "area":
                draw.polygon([(points[0][0], y1), *points, (points[-1][0], y1)], fill="#d4e6f7")
            draw.line(points, fill=SERIES[s], width=3, joint="curve")
    elif display in ("bar", "row", "waterfall"):
        groups = 4
        values = _series_values(seed, groups, series)
        if display == "row":
            draw.line((x0, y0, x0, y1), fill=axis, width=2)
            slot = h / groups
            bar = slot * 0.7 / series
            for g in range(groups):
                for s in range(series):
                    top = y0 + g * slot + slot * 0.15 + s * bar
                    draw.rectangle((x0 + 2, top, x0 + 2 + (w - 6) * values[s][g], top + bar - 1), fill=SERIES[s])
        else:
            draw.line((x0, y1, x1, y1), fill=axis, width=2)
            slot = w / groups
            bar = slot * 0.6 / series
            for g in range(groups):
                for s in range(series):
                    left = x0 + g * slot + slot * 0.2 + s * bar
                    draw.rectangle((left, y1 - 2 - (h - 6) * values[s][g], left + bar - 2, y1 - 2), fill=SERIES[s])
    elif display in ("scalar", "smartscalar", "progress", "gauge"):
        size = max(10, min(40, int(h * 0.8)))
        while size > 10 and draw.textlength("1,234", font=_font(size, bold=True)) > w:
            size -= 2
        font = _font(size, bold=True)
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), "1,234", fill=ACCENT, font=font, anchor="mm")
    elif display in ("pie", "funnel"):
        r = min(w, h) / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        start = 0.0
        for s, share in enumerate((0.45, 0.3, 0.25)):
            draw.pieslice((cx - r, cy - r, cx + r, cy + r), start, start + 360 * share, fill=SERIES[s])
            start += 360 * share
    else:
        draw.rectangle(box, outline=axis, width=1)
        draw.line((x0, y0, x1, y1), fill=axis, width=1)
        draw.line((x0, y1, x1, y0), fill=axis, width=1)


#: Widest picture (pixels) per display type; tables and line charts may fill the card.
_HINT_MAX_W = {"table": 10_000, "pivot": 10_000, "object": 10_000, "line": 10_000, "area": 10_000,
               "combo": 10_000, "bar": 360, "row": 360, "waterfall": 360}


def _draw_card(draw, card: Card, origin: tuple[int, int]) -> None:
    ox, oy = origin
    x0 = ox + card.col * COL_W + GAP // 2
    y0 = oy + card.row * ROW_H + GAP // 2
    x1 = ox + (card.col + card.size_x) * COL_W - GAP // 2
    y1 = oy + (card.row + card.size_y) * ROW_H - GAP // 2
    draw.rounded_rectangle((x0 + 2, y0 + 3, x1 + 2, y1 + 3), radius=8, fill="#e6ebf0")  # shadow
    draw.rounded_rectangle((x0, y0, x1, y1), radius=8, fill="white", outline=CARD_LINE, width=2)

    title, small = _font(18, bold=True), _font(14)
    inner_w = x1 - x0 - 2 * PAD
    short = (y1 - y0) < 130  # a short card has its picture on the right of its name
    label = DISPLAY_LABELS.get(card.display, card.display)
    legend = [(metric, SERIES[s]) for s, metric in enumerate(card.metrics[: len(SERIES)])]
    if short:
        text_w = min(inner_w * 0.45, max(draw.textlength(card.name, font=title),
                                         draw.textlength(label, font=small)) + 8)
    else:
        text_w = inner_w
    y = y0 + PAD
    for line in _wrap(draw, card.name, title, text_w, 2):
        draw.text((x0 + PAD, y), line, fill=INK, font=title)
        y += _line_height(title)
    y += 2
    draw.text((x0 + PAD, y), label, fill=MUTED, font=small)
    y += _line_height(small)
    if legend:  # one colour per series, as in the picture
        lx = x0 + PAD
        for metric, color in legend:
            text_len = draw.textlength(metric, font=small)
            if lx + 15 + text_len > x0 + PAD + text_w:
                break
            draw.rectangle((lx, y + 4, lx + 10, y + 14), fill=color)
            draw.text((lx + 15, y), metric, fill=MUTED, font=small)
            lx += 15 + text_len + 14
        by = f"by {', '.join(card.dimensions)}" if card.dimensions else ""
        if by and lx + draw.textlength(by, font=small) <= x0 + PAD + text_w:
            draw.text((lx, y), by, fill=MUTED, font=small)
        y += _line_height(small)

    max_w = _HINT_MAX_W.get(card.display, 200)
    if short:
        left = x0 + PAD + int(text_w) + 2 * PAD
        box = (max(left, x1 - PAD - max_w), y0 + PAD, x1 - PAD, y1 - PAD)
    else:
        top = int(y) + 10
        hint_h = min(y1 - PAD - top, 170)
        hint_w = min(inner_w, max_w)
        cx = (x0 + x1) // 2
        box = (cx - hint_w // 2, top, cx + hint_w // 2, top + hint_h)
    _draw_hint(draw, card, box)


def _draw_filter(draw, x: int, y: int, name: str) -> int:
    """A date filter widget at ``(x, y)``; returns its right edge."""
    font = _font(15)
    width = int(draw.textlength(name, font=font)) + 68
    draw.rounded_rectangle((x, y, x + width, y + 36), radius=6, fill="white", outline=CARD_LINE, width=2)
    cx, cy = x + 14, y + 10  # a calendar icon
    draw.rectangle((cx, cy + 2, cx + 16, cy + 16), outline=ACCENT, width=2)
    draw.rectangle((cx, cy + 2, cx + 16, cy + 6), fill=ACCENT)
    draw.line((cx + 4, cy, cx + 4, cy + 4), fill=ACCENT, width=2)
    draw.line((cx + 12, cy, cx + 12, cy + 4), fill=ACCENT, width=2)
    draw.text((x + 40, y + 18), name, fill=INK, font=font, anchor="lm")
    ax = x + width - 16  # drop-down arrow
    draw.polygon(((ax - 5, y + 15), (ax + 5, y + 15), (ax, y + 21)), fill=MUTED)
    return x + width


def render(layout: Layout, path: Path) -> None:
    """Draw one dashboard's layout to ``path`` (PNG)."""
    from PIL import Image

    grid_w = GRID_COLUMNS * COL_W
    grid_rows = max((c.row + c.size_y for c in layout.cards), default=4)
    width = grid_w + 2 * MARGIN

    probe = _drawing(Image.new("RGB", (1, 1)))
    title_font, text_font, small = _font(28, bold=True), _font(16), _font(13)
    badge = "Administrators only" if layout.scope == "admin" else "One per store, in the store's collection"
    badge_w = int(probe.textlength(badge, font=small)) + 20
    title = _wrap(probe, layout.name, title_font, grid_w - badge_w - 24, 2)
    description = _wrap(probe, layout.description, text_font, grid_w - badge_w - 24, 2)
    header_h = (MARGIN + len(title) * _line_height(title_font) + 6 + len(description) * _line_height(text_font)
                + 14)
    filters_h = 36 + 18 if layout.filters else 0
    grid_top = header_h + filters_h + 18
    height = grid_top + grid_rows * ROW_H + 18 + 30

    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = _drawing(image)

    y = MARGIN
    color = ADMIN if layout.scope == "admin" else ACCENT
    draw.rounded_rectangle((width - MARGIN - badge_w, y + 4, width - MARGIN, y + 28), radius=12, outline=color,
                           width=2)
    draw.text((width - MARGIN - badge_w / 2, y + 16), badge, fill=color, font=small, anchor="mm")
    for line in title:
        draw.text((MARGIN, y), line, fill=INK, font=title_font)
        y += _line_height(title_font)
    y += 6
    for line in description:
        draw.text((MARGIN, y), line, fill=MUTED, font=text_font)
        y += _line_height(text_font)

    x, y = MARGIN, header_h
    for name in layout.filters:
        x = _draw_filter(draw, x, y, name) + 12

    top = grid_top
    for c in range(GRID_COLUMNS + 1):  # faint column guides with every sixth column numbered
        gx = MARGIN + c * COL_W
        draw.line((gx, top - 6, gx, top + grid_rows * ROW_H), fill=FAINT, width=1)
        if c % 6 == 0:
            draw.text((gx, top - 8), str(c), fill="#a7b2bc", font=small, anchor="mb")
    for card in layout.cards:
        _draw_card(draw, card, (MARGIN, top))

    footer = f"Drawn from {layout.source} · Metabase's 24-column grid"
    draw.text((MARGIN, height - 22), footer, fill="#a7b2bc", font=small, anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


def render_all(templates_dir: Path = TEMPLATES_DIR, images_dir: Path = IMAGES_DIR) -> list[Path]:
    """Draw every template into ``images_dir`` and write its manifest; returns the PNGs written.

    Images listed by an earlier manifest whose template is gone are deleted.
    """
    layouts = read_layouts(templates_dir)
    manifest_path = images_dir / MANIFEST
    if manifest_path.exists():
        previous = json.loads(manifest_path.read_text(encoding="utf-8")).get("templates", {})
        current = {layout.key for layout in layouts}
        for key, entry in previous.items():
            if key not in current:
                (images_dir / entry["image"]).unlink(missing_ok=True)
    written = []
    for layout in layouts:
        path = images_dir / f"{layout.key}.png"
        render(layout, path)
        written.append(path)
    images_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest_for(layouts), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", type=Path, default=TEMPLATES_DIR, help="folder of dashboard templates")
    parser.add_argument("--out", type=Path, default=IMAGES_DIR, help="folder for the PNGs and layouts.json")
    parser.add_argument("--check", action="store_true", help="only check that the images are up to date")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(args.templates, args.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: .venv/bin/python docs/render_layouts.py", file=sys.stderr)
        return 1 if problems else 0
    for path in render_all(args.templates, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
