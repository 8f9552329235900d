"""Benchmark: weekly model selection + day-part split for many stores (no database).

    .venv/bin/python -m bench.bench_forecast --stores 500

Times the production path (fiscal weekly series, per-store backtest and model choice,
5-week forecast, day-part split) on synthetic 3-year histories, then scores the choice
honestly: the selection is re-run with the last 12 weeks hidden and both the chosen model
and seasonal naive are scored on those unseen weeks. Exits 1 when the timed part takes
over the budget (10 minutes).
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402

BUDGET_SECONDS = 600


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _sample_source(stores: int, last_day: date, years: float):
    """Daily sales and the calendar from the project's sample generator (source-format files, cleaned)."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    from include.forecast import SALES_DAYPARTS
    from include.sample.generate import CALENDAR_PATH, SALES_PATH, generate_sample

    with tempfile.TemporaryDirectory() as tmp:
        generate_sample(Path(tmp), stores=stores, end_date=last_day, sales_years=max(1, int(years)), labor_weeks=1)
        raw = pd.read_json(Path(tmp) / SALES_PATH, lines=True, dtype=False)
        cal = pd.read_json(Path(tmp) / CALENDAR_PATH, lines=True, dtype=False)
    store = raw["crf63_storenumber"].astype(str).str.strip()
    daily = pd.DataFrame({
        "store_id": store.str.zfill(6),
        "business_date": pd.to_datetime(raw["crf63_calendardate"], errors="coerce").dt.date,
        "channel": raw["crf63_sourcechannel"],
        "daypart": raw["crf63_daypart"],
        "net_sales": pd.to_numeric(raw["crf63_tynetsalesusd"], errors="coerce"),
    })
    good = (store.str.fullmatch(r"[0-9]{1,6}") & daily["business_date"].notna() & daily["daypart"].isin(SALES_DAYPARTS)
            & (daily["net_sales"] >= 0))
    daily = daily[good].drop_duplicates(["store_id", "business_date", "channel", "daypart"])
    calendar = pd.DataFrame({
        "calendar_date": pd.to_datetime(cal["crf63_date"]).dt.date,
        "fiscal_week_label": [f"Y{y}W{w:02d}" for y, w in zip(cal["crf63_fiscalyearnumber"],
                                                                cal["crf63_fiscalweeknumber"], strict=True)],
    })
    return daily, calendar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--honest-stores", type=int, default=200,
                        help="stores re-scored on 12 unseen weeks (0 to skip)")
    parser.add_argument("--last-day", type=date.fromisoformat, default=date(2026, 2, 18))
    parser.add_argument("--source", choices=("synthetic", "sample"), default="synthetic",
                        help="bench/forecast_synthetic.py, or the project's sample generator (include.sample)")
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd

    from bench.forecast_synthetic import fiscal_calendar, sample_sales
    from include.forecast import BACKTEST_WEEKS
    from include.forecast.models import load_tuned_orders
    from include.forecast.runner import forecast_all, forecast_frames, summarize
    from include.forecast.selection import SEASONAL_MIN_WEEKS, mape
    from include.forecast.split import daypart_shares, share_window, split_forecast
    from include.forecast.weekly import fiscal_weeks, horizon, weekly_series

    generated = time.perf_counter()
    if args.source == "sample":
        daily, calendar = _sample_source(args.stores, args.last_day, args.years)
    else:
        daily = sample_sales(args.stores, args.last_day, years=args.years, seed=args.seed)
        calendar = fiscal_calendar(args.last_day.year - int(args.years) - 1, args.last_day.year + 1)
    tuned = load_tuned_orders()
    generated = time.perf_counter() - generated

    started = time.perf_counter()
    weekly, last = weekly_series(daily, calendar)
    weeks = fiscal_weeks(calendar)
    future = horizon(weeks, last["week_start"])
    fitted = time.perf_counter()
    results = forecast_all(weekly, list(future["week_start"]), tuned, workers=args.workers)
    fitted = time.perf_counter() - fitted
    weekly_fc, _ = forecast_frames(results, future)
    start, end = share_window(weeks, last["week_start"])
    cells = split_forecast(weekly_fc, daypart_shares(daily, sorted(weekly_fc["store_id"].unique()), start, end))
    total = time.perf_counter() - started
    summary = summarize(results)

    rows = [
        ("stores x years", f"{args.stores} x {args.years:g} ({args.source}: {len(daily):,} daily rows; generated "
                           f"in {generated:.1f} s)"),
        ("workers", str(args.workers)),
        ("total seconds (select + split)", f"{total:.1f}"),
        ("  of which model fitting", f"{fitted:.1f}"),
        ("seconds per store", f"{total / max(1, len(results)):.3f}"),
        ("forecast cells written", f"{len(cells):,}"),
        ("chosen families", ", ".join(f"{k} {v}" for k, v in summary["models"].items())),
    ]
    for family, value in summary["median_mape_by_family"].items():
        rows.append((f"median backtest MAPE {family}", f"{value:.2f} %"))
    rows.append(("median backtest MAPE seasonal naive", f"{summary['median_naive_mape']:.2f} %"))
    long = [r for r in results if r.history_weeks >= SEASONAL_MIN_WEEKS and r.naive_mape is not None]
    beat = sum(r.beat_naive for r in long)
    rows.append(("stores 2y+ beating naive (backtest)", f"{beat}/{len(long)} = {beat / max(1, len(long)):.1%}"
                                                         " (selection and score on the same 12 weeks)"))
    rows.append(("fallbacks used", str(sum(len(v) for v in summary["fallbacks"].values()))))
    for store_id, reasons in list(summary["fallbacks"].items())[:5]:
        rows.append((f"  store {store_id}", "; ".join(reasons)[:200]))

    if args.honest_stores:
        honest_started = time.perf_counter()
        ids = sorted(weekly["store_id"].unique())[: args.honest_stores]
        hidden = weekly[weekly["store_id"].isin(ids)]
        parts, truths = [], {}
        for store_id, group in hidden.groupby("store_id"):
            if len(group) < SEASONAL_MIN_WEEKS + BACKTEST_WEEKS:
                continue
            parts.append(group.iloc[:-BACKTEST_WEEKS])
            truths[store_id] = group["net_sales"].to_numpy()
        cut = pd.concat(parts, ignore_index=True)
        unseen = list(hidden.drop_duplicates("week_start").sort_values("week_start")["week_start"])[-BACKTEST_WEEKS:]
        chosen = forecast_all(cut, unseen, tuned, workers=args.workers)
        scores = []
        for r in chosen:
            y = truths[r.store_id]
            naive = y[-BACKTEST_WEEKS - 52 : -52]
            scores.append((r.family, mape(y[-BACKTEST_WEEKS:], r.forecast), mape(y[-BACKTEST_WEEKS:], naive)))
        frame = pd.DataFrame(scores, columns=["family", "chosen", "naive"]).dropna()  # no sales in the weeks
        won = int((frame["chosen"] < frame["naive"]).sum())
        rows.append(("", ""))
        rows.append(("honest check (12 unseen weeks)", f"{len(frame)} stores with 2y+ history, "
                                                       f"{time.perf_counter() - honest_started:.1f} s"))
        rows.append(("  median MAPE chosen model", f"{np.median(frame['chosen']):.2f} %"))
        rows.append(("  median MAPE seasonal naive", f"{np.median(frame['naive']):.2f} %"))
        rows.append(("  stores beating naive", f"{won}/{len(frame)} = {won / max(1, len(frame)):.1%}"))
        for family, group in frame.groupby("family"):
            rows.append((f"  chosen {family}", f"{len(group)} stores, median {group['chosen'].median():.2f} % "
                                               f"(naive {group['naive'].median():.2f} %)"))
    print(_table(rows))
    if total > BUDGET_SECONDS:
        print(f"FAILED: {total:.0f} s is over the {BUDGET_SECONDS} s budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
