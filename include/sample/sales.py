"""Daily sales per store x channel x day part (``crf63_saleschanneldailies``), streamed store by store.

Each store's whole history is drawn at once as a (day, channel, day part) array: weekly
seasonality (Friday/Saturday peaks), annual seasonality (summer, December, holidays), a
per-store trend, size and channel/day-part mix, noise. Closed days (Thanksgiving, Christmas
Day, remodel week, before opening, after closing) have no rows. LY fields are the same cell
364 days earlier. A few bad records are injected at known line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from include.sample.calendar import closed_holidays, super_bowl_sunday, thanksgiving
from include.sample.manifest import BadRecord
from include.sample.rand import guids, rng_for
from include.sample.stores import Store

ENTITY = "crf63_saleschanneldailies"
CHANNELS = ("carryout", "delivery", "online", "aggregator")
DAYPARTS = ("Lunch", "Afternoon", "Dinner", "Evening")
LY_DAYS = 364
BAD_PER_KIND = 3

DOW_FACTOR = np.array([0.80, 0.84, 0.90, 0.97, 1.36, 1.30, 1.08])  # Monday .. Sunday
CHANNEL_MIX = np.array([36.0, 34.0, 18.0, 12.0])
DAYPART_MIX = np.array([22.0, 13.0, 45.0, 20.0])
TICKET = np.array([21.0, 28.5, 26.0, 31.0])
BAD_STORE_NUMBERS = ("12A6", "1234567", "ABC")
UNKNOWN_DAYPARTS = ("Breakfast", "Late Night", "Overnight")

_TEMPLATE = (
    '{"crf63_saleschanneldailyid":"%s","crf63_storenumber":"%s","crf63_calendardate":"%s",'
    '"crf63_sourceactor":"%s","crf63_sourcechannel":"%s","crf63_daypart":"%s",'
    '"crf63_tynetsalesusd":%s,"crf63_tyorders":%d,"crf63_discountsusd":%.2f,'
    '"crf63_lynetsalesusd":%s,"crf63_lyorders":%s,"crf63_businesskey":"%s",'
    '"crf63_lastrefreshed":"%s","modifiedon":"%s"}\n'
)


@dataclass
class SalesResult:
    rows: int
    bad: list[BadRecord]


@dataclass
class _Cells:
    """One store's drawn history, flattened to the rows that exist (date-major order)."""

    day: np.ndarray
    channel: np.ndarray
    daypart: np.ndarray
    net: np.ndarray
    orders: np.ndarray
    discounts: np.ndarray
    ly_net: np.ndarray
    ly_orders: np.ndarray


def _day_effects(days: list[date]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-day overall multiplier, per-day day-part multiplier (n, 4), per-day channel multiplier (n, 4)."""
    n = len(days)
    overall = np.ones(n)
    dayparts = np.ones((n, 4))
    channels = np.ones((n, 4))
    doy = np.array([d.timetuple().tm_yday for d in days])
    overall *= 1 + 0.10 * np.cos(2 * np.pi * (doy - 195) / 365.25)  # summer high, late winter low
    years = {d.year for d in days}
    specials = {}
    for y in years:
        specials[super_bowl_sunday(y)] = "superbowl"
        specials[thanksgiving(y) + timedelta(days=1)] = "black_friday"
        specials.update({date(y, 10, 31): "halloween", date(y, 12, 24): "xmas_eve", date(y, 12, 31): "nye",
                         date(y, 1, 1): "new_year", date(y, 7, 4): "july4"})
    for i, d in enumerate(days):
        if d.month == 12 and d.day <= 23:
            overall[i] *= 1.2  # holiday season: parties, school break
        elif d.month in (1, 2) and d.toordinal() > date(d.year, 1, 1).toordinal():
            overall[i] *= 0.95  # post-holiday slump
        kind = specials.get(d)
        if kind == "superbowl":
            overall[i] *= 1.6
            dayparts[i] = (0.8, 1.1, 2.3, 1.9)
            channels[i] = (0.9, 1.35, 1.3, 1.3)
        elif kind == "halloween":
            overall[i] *= 1.2
        elif kind == "xmas_eve":
            overall[i] *= 0.55
            dayparts[i] = (1.2, 1.1, 0.8, 0.4)
        elif kind == "nye":
            overall[i] *= 1.25
            dayparts[i] = (0.8, 0.9, 1.1, 1.5)
        elif kind == "new_year":
            overall[i] *= 1.1
        elif kind == "july4":
            overall[i] *= 0.8
        elif kind == "black_friday":
            overall[i] *= 1.15
    return overall, dayparts, channels


def _draw(store: Store, seed: int, days: list[date], effects: tuple, closed: set[date]) -> _Cells:
    rng = rng_for(seed, "sales", store.number)
    n = len(days)
    overall, dp_effect, ch_effect = effects
    dow = np.array([d.weekday() for d in days])
    t_years = np.arange(n) / 365.25
    growth = rng.normal(0.03, 0.025)
    base = 2650.0 * store.size * DOW_FACTOR[dow] * overall * (1 + growth) ** t_years
    base *= rng.lognormal(0.0, 0.07, n)
    days_open = np.array([(d - store.first_day).days for d in days])
    if store.role in ("recent", "one_year"):  # grand-opening bump fading over ten weeks
        base *= 1 + 0.25 * np.clip(1 - days_open / 70, 0, 1)

    ch_mix = rng.dirichlet(CHANNEL_MIX * 3)
    agg_growth = (1 + 0.35 * t_years)[:, None] * np.array([1, 1, 1, 0])[None, :]
    ch_share = ch_mix[None, :] * np.where(agg_growth == 0, (1 + 0.35 * t_years)[:, None], 1.0)
    ch_share = ch_share * ch_effect
    dp_mix = rng.dirichlet(4.0 * DAYPART_MIX)
    dp_week = np.tile(dp_mix, (7, 1))
    dp_week[5:, 0] *= 1.25  # weekend lunch
    dp_week[5:, 1] *= 1.2
    dp_week[4:6, 3] *= 1.3  # Friday and Saturday late evening
    dp_week /= dp_week.sum(axis=1, keepdims=True)
    dp_share = dp_week[dow] * dp_effect

    exists_day = np.array([store.trades_on(d) and d not in closed for d in days])
    exists_ch = np.ones((n, 4), dtype=bool)
    if store.aggregator_from is not None:
        exists_ch[:, 3] = np.array([d >= store.aggregator_from for d in days])
    ch_share = np.where(exists_ch, ch_share, 0.0)
    ch_share /= ch_share.sum(axis=1, keepdims=True)

    expected = base[:, None, None] * ch_share[:, :, None] * dp_share[:, None, :]
    expected *= rng.lognormal(0.0, 0.18, expected.shape)
    ticket = TICKET * rng.uniform(0.9, 1.1, 4)
    orders = rng.poisson(expected / ticket[None, :, None])
    net = np.round(orders * ticket[None, :, None] * rng.lognormal(0.0, 0.06, expected.shape), 2)
    discounts = np.round(net * rng.uniform(0.02, 0.10, expected.shape), 2)
    exists = exists_day[:, None, None] & exists_ch[:, :, None] & np.ones((1, 1, 4), dtype=bool)

    ly_net = np.full(net.shape, np.nan)
    ly_orders = np.full(net.shape, -1, dtype=np.int64)
    if n > LY_DAYS:
        prior = exists[:-LY_DAYS]
        ly_net[LY_DAYS:] = np.where(prior, net[:-LY_DAYS], np.nan)
        ly_orders[LY_DAYS:] = np.where(prior, orders[:-LY_DAYS], -1)
    d_idx, c_idx, p_idx = np.nonzero(exists)
    return _Cells(d_idx, c_idx, p_idx, net[exists], orders[exists], discounts[exists],
                  ly_net[exists], ly_orders[exists])



def _stamps(seed: int, store: Store, days: list[date]) -> tuple[list[str], list[str]]:
    """Per-day ``crf63_lastrefreshed`` (the nightly refresh after the day) and ``modifiedon``."""
    rng = rng_for(seed, "sales-stamps", store.number)
    minutes = rng.integers(5, 50, len(days))
    seconds = rng.integers(0, 60, len(days))
    lag = rng.integers(20, 900, len(days))
    refreshed, modified = [], []
    for d, m, s, extra in zip(days, minutes, seconds, lag, strict=True):
        nxt = d + timedelta(days=1)
        refreshed.append(f"{nxt.isoformat()}T06:{m:02d}:{s:02d}Z")
        total = 6 * 3600 + int(m) * 60 + int(s) + int(extra)
        modified.append(f"{nxt.isoformat()}T{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}Z")
    return refreshed, modified


def _bad_plan(stores: list[Store], first: date) -> dict[int, list[tuple[str, int]]]:
    """Which eligible store gets which bad records: ``{store number: [(kind, ordinal)]}``."""
    eligible = [s.number for s in stores if s.role == "normal" and s.first_day == first and s.remodel is None]
    if not eligible:
        eligible = [s.number for s in stores if s.role == "normal"]
    plan: dict[int, list[tuple[str, int]]] = {}
    kinds = ("bad_store_number", "negative_net_sales", "unknown_daypart", "duplicate_key")
    slot = 0
    for ordinal in range(BAD_PER_KIND):
        for kind in kinds:
            plan.setdefault(eligible[slot % len(eligible)], []).append((kind, ordinal))
            slot += 1
    return plan


@dataclass
class _Extra:
    """A bad line: inserted before original row ``pos`` (``pos = -1``: the original row itself, corrupted)."""

    kind: str
    pos: int
    row: list
    detail: str
    daypart: str | None = None
    source_row: int = -1  # the original row a duplicate repeats / the corrupted row


@dataclass(frozen=True)
class _Days:
    """The history's days and their per-day strings and effects."""

    days: list[date]
    iso: list[str]
    compact: list[str]
    closed: set[date]
    effects: tuple[np.ndarray, np.ndarray, np.ndarray]


def write_sales(path: Path, seed: int, stores: list[Store], first: date, last: date) -> SalesResult:
    """Write the sales JSONL for [first, last] store by store; return its line count and bad records."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    span = _Days(days, [d.isoformat() for d in days], [d.strftime("%Y%m%d") for d in days],
                 set(closed_holidays(first, last)), _day_effects(days))
    plan = _bad_plan(stores, first)
    bad: list[BadRecord] = []
    line_no = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for store in stores:
            lines, store_bad = _store_lines(store, seed, span, plan.get(store.number, []), line_no, path.name)
            out.writelines(lines)
            bad += store_bad
            line_no += len(lines)
    bad.sort(key=lambda b: b.row)
    return SalesResult(rows=line_no, bad=bad)


def _store_lines(store: Store, seed: int, span: _Days, plan: list[tuple[str, int]], line_no: int,
                 member: str) -> tuple[list[str], list[BadRecord]]:
    """One store's JSONL lines (bad ones injected) and its bad records, numbered from ``line_no + 1``."""
    cells = _draw(store, seed, span.days, span.effects, span.closed)
    rng = rng_for(seed, "sales-rows", store.number)
    n = len(cells.net)
    ids = guids(rng, n)
    stripped = (rng.random(n) < 0.04).tolist()
    refreshed, modified = _stamps(seed, store, span.days)
    actors = ("POS", "POS", "POS", store.aggregator)
    numbers = (store.store_id, str(store.number))
    rows = [
        [guid, numbers[s], d, c, p, net, orders, disc, ly_net, ly_orders]
        for guid, s, d, c, p, net, orders, disc, ly_net, ly_orders in zip(
            ids, stripped, cells.day.tolist(), cells.channel.tolist(), cells.daypart.tolist(),
            cells.net.tolist(), cells.orders.tolist(), cells.discounts.tolist(),
            cells.ly_net.tolist(), cells.ly_orders.tolist(), strict=True)
    ]
    extras = _inject(plan, rows, rng)

    def fmt(r: list, daypart: str | None = None) -> str:
        guid, sn, d, c, p, net, orders, disc, ly_net, ly_orders = r
        dp = daypart or DAYPARTS[p]
        return _TEMPLATE % (
            guid, sn, span.iso[d], actors[c], CHANNELS[c], dp, f"{net:.2f}", orders, disc,
            "null" if ly_net != ly_net else f"{ly_net:.2f}", "null" if ly_orders < 0 else ly_orders,
            f"{sn}_{span.compact[d]}_{CHANNELS[c]}_{dp}", refreshed[d], modified[d],
        )

    lines = [fmt(r) for r in rows]
    inserted = sorted((e for e in extras if e.pos >= 0), key=lambda e: e.pos)
    for k, extra in enumerate(inserted):
        lines.insert(extra.pos + k, fmt(extra.row, extra.daypart))
    positions = np.array([e.pos for e in inserted], dtype=np.int64)

    def line_of_row(i: int) -> int:
        return line_no + i + int(np.sum(positions <= i)) + 1

    bad = []
    for k, extra in enumerate(inserted):
        detail = f"duplicates line {line_of_row(extra.source_row)}" if extra.kind == "duplicate_key" else extra.detail
        bad.append(BadRecord("sales", ENTITY, member, line_no + extra.pos + k + 1, extra.kind, detail, extra.row[1]))
    for extra in extras:
        if extra.pos < 0:
            bad.append(BadRecord("sales", ENTITY, member, line_of_row(extra.source_row), extra.kind,
                                 extra.detail, extra.row[1]))
    return lines, bad


def _inject(plan: list[tuple[str, int]], rows: list[list], rng: np.random.Generator) -> list[_Extra]:
    """Corrupt rows in place (negative net sales) and make the extra bad rows to insert."""
    if not plan:
        return []
    n = len(rows)
    picks = rng.choice(np.arange(n // 10, n - 10), size=2 * len(plan), replace=False).tolist()
    extras: list[_Extra] = []
    for (kind, ordinal), src, spot in zip(plan, picks[::2], picks[1::2], strict=True):
        if kind == "negative_net_sales":
            rows[src][5] = -round(abs(rows[src][5]) + 12.5, 2)
            extras.append(_Extra(kind, -1, rows[src], f"net sales {rows[src][5]:.2f}", source_row=src))
            continue
        copy = list(rows[src])
        copy[0] = guids(rng, 1)[0]
        if kind == "bad_store_number":
            copy[1] = BAD_STORE_NUMBERS[ordinal % len(BAD_STORE_NUMBERS)]
            extras.append(_Extra(kind, spot, copy, f"store number {copy[1]!r}"))
        elif kind == "unknown_daypart":
            daypart = UNKNOWN_DAYPARTS[ordinal % len(UNKNOWN_DAYPARTS)]
            extras.append(_Extra(kind, spot, copy, f"day part {daypart!r}", daypart=daypart))
        else:
            extras.append(_Extra(kind, max(spot, src + 1), copy, "", source_row=src))
    return extras
