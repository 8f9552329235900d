"""Forecast many stores: chunks of stores per worker process, BLAS pinned to one thread."""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date

import numpy as np
import pandas as pd

from include.forecast.models import week_positions
from include.forecast.selection import StoreForecast, forecast_store, peer_forecasts

log = logging.getLogger(__name__)

#: Stores per task sent to a worker process.
CHUNK_SIZE = 25
#: Below this many stores everything runs in this process (starting workers costs seconds).
PARALLEL_MIN_STORES = 60
_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Recent weeks whose mean is a store's level (for the peers' pattern).
LEVEL_WEEKS = 4


def _forecast_chunk(items: list[tuple[str, np.ndarray, np.ndarray]], t_future: np.ndarray,
                    tuned: dict[str, dict]) -> list[StoreForecast]:
    return [forecast_store(store, y, t, t_future, tuned.get(store)) for store, y, t in items]


def _parallel(items: list, t_future: np.ndarray, tuned: dict[str, dict], workers: int) -> list[StoreForecast]:
    import multiprocessing

    for name in _BLAS_VARS:  # inherited by the spawned workers before they import numpy
        os.environ.setdefault(name, "1")
    chunks = [items[i : i + CHUNK_SIZE] for i in range(0, len(items), CHUNK_SIZE)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_forecast_chunk, chunk, t_future, tuned) for chunk in chunks]
        return [r for future in futures for r in future.result()]


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def forecast_all(
    weekly: pd.DataFrame,
    future_week_starts: list[date],
    tuned: dict[str, dict],
    newcomers: dict[str, float] | None = None,
    *,
    workers: int | None = None,
) -> list[StoreForecast]:
    """Forecast every store in ``weekly`` (complete fiscal weeks) and every newcomer.

    ``newcomers`` maps stores without a complete week to their weekly level so far; a
    store whose complete weeks all sold nothing joins them. Workers are spawned processes
    (at most ``workers``, default up to 2) that inherit ``OPENBLAS_NUM_THREADS=1``.
    """
    t_future = week_positions(future_week_starts)
    items, newcomers = [], dict(newcomers or {})
    levels: dict[str, float] = {}
    for store_id, group in weekly.groupby("store_id", sort=True):
        y = group["net_sales"].to_numpy(dtype=float)
        if not np.any(y > 0):
            newcomers.setdefault(str(store_id), 0.0)
            continue
        items.append((str(store_id), y, week_positions(group["week_start"])))
        levels[str(store_id)] = float(np.mean(y[-LEVEL_WEEKS:]))
    workers = workers or default_workers()
    if workers <= 1 or len(items) < PARALLEL_MIN_STORES:
        results = _forecast_chunk(items, t_future, tuned)
    else:
        try:
            results = _parallel(items, t_future, tuned, workers)
        except (BrokenProcessPool, AssertionError, OSError) as exc:  # e.g. inside a daemonic process
            log.warning("worker processes unavailable (%s): forecasting in this process", exc)
            results = _forecast_chunk(items, t_future, tuned)
    for result in results:
        for reason in result.fallbacks:
            log.warning("store %s fallback: %s", result.store_id, reason)
    if newcomers:
        results += peer_forecasts(newcomers, results, levels, len(t_future))
    return results


def forecast_frames(results: list[StoreForecast], horizon: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``forecast_weekly`` rows (sales rounded to cents) and ``forecast_models`` rows."""
    weekly_rows, model_rows = [], []
    for r in results:
        for (_, week), value in zip(horizon.iterrows(), r.forecast, strict=True):
            weekly_rows.append((r.store_id, week["fiscal_week_label"], week["week_start"], round(float(value), 2),
                                r.model, _round(r.backtest_mape)))
        candidates = json.dumps({k: _round(v) for k, v in r.candidates.items()}, sort_keys=True)
        model_rows.append((r.store_id, r.model, r.family, _round(r.backtest_mape), _round(r.naive_mape),
                           r.history_weeks, candidates))
    weekly = pd.DataFrame(weekly_rows, columns=["store_id", "fiscal_week_label", "week_start", "forecast_sales",
                                                "model", "backtest_mape"])
    models = pd.DataFrame(model_rows, columns=["store_id", "model", "family", "backtest_mape", "naive_mape",
                                               "history_weeks", "candidates"])
    return weekly, models


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def summarize(results: list[StoreForecast]) -> dict:
    """Stores forecast, median MAPE per family, naive's median, stores beating naive, fallbacks."""
    frame = pd.DataFrame(
        [(r.family, r.backtest_mape, r.naive_mape, r.beat_naive, r.history_weeks) for r in results],
        columns=["family", "mape", "naive", "beat", "weeks"],
    )
    scored = frame[frame["naive"].notna()]
    return {
        "stores_forecast": len(results),
        "models": frame["family"].value_counts().to_dict(),
        "median_mape_by_family": {k: round(float(v), 3) for k, v in
                                  frame.dropna(subset=["mape"]).groupby("family")["mape"].median().items()},
        "median_naive_mape": round(float(scored["naive"].median()), 3) if len(scored) else None,
        "stores_beat_naive": int(scored["beat"].sum()),
        "stores_backtested": len(scored),
        "fallbacks": {r.store_id: r.fallbacks for r in results if r.fallbacks},
    }
