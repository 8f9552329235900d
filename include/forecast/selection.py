"""Choose each store's model by backtest (MAPE on the last weeks held out) and forecast with it.

Candidates: seasonal naive, the legacy ARIMA(5,1,0), the store's tuned legacy order (its
52-week seasonal SARIMA only with two years of history), the AIC winner of a small grid of
regression ARIMAs (drift + yearly Fourier pairs + holiday weeks; drift only under two
years), and the mean of that winner and seasonal naive. The lowest backtest MAPE wins;
the winner is refitted on all weeks. The MAPE is optimistic for the winner: it is the
same 12 weeks the choice was made on (``bench/bench_forecast.py`` also scores it on
unseen weeks).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from include.forecast import BACKTEST_WEEKS, HORIZON_WEEKS
from include.forecast.models import (
    Candidate,
    ModelError,
    arima,
    fit_regression_arima,
    regression_arima,
    seasonal_naive,
    store_mean,
    tuned_candidate,
)

log = logging.getLogger(__name__)

#: Training weeks a backtest needs besides the held-out weeks.
MIN_TRAIN_WEEKS = 12
#: History needed for any yearly seasonal term (Fourier or 52-week SARIMA).
SEASONAL_MIN_WEEKS = 104
#: The AIC-ranked grid: (ARIMA order, yearly Fourier pairs K); K=0 (drift only) below two years of history.
GRID: tuple[tuple[tuple[int, int, int], int], ...] = (
    ((0, 1, 1), 2), ((1, 1, 0), 2), ((1, 1, 1), 2), ((2, 1, 1), 2), ((0, 1, 1), 3), ((1, 1, 1), 3),
)
SHORT_GRID: tuple[tuple[tuple[int, int, int], int], ...] = (((0, 1, 1), 0), ((1, 1, 0), 0), ((1, 1, 1), 0))
LEGACY_ORDER = (5, 1, 0)
#: MAPE is stored in numeric(8,4): cap absurd values.
MAPE_CAP = 9999.0


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error in percent over weeks with sales (nan when none)."""
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    sold = actual > 0
    if not sold.any() or not np.all(np.isfinite(predicted[sold])):
        return math.nan
    return float(min(MAPE_CAP, 100 * np.mean(np.abs(predicted[sold] - actual[sold]) / actual[sold])))


@dataclass
class StoreForecast:
    """One store's chosen model, its forecast and how the candidates scored."""

    store_id: str
    model: str
    family: str
    forecast: np.ndarray
    history_weeks: int
    backtest_mape: float | None = None
    naive_mape: float | None = None
    #: Candidate name -> backtest MAPE (None when it failed).
    candidates: dict[str, float | None] = field(default_factory=dict)
    #: Why chosen models were skipped ("name: reason").
    fallbacks: list[str] = field(default_factory=list)

    @property
    def beat_naive(self) -> bool:
        return (
            self.backtest_mape is not None and self.naive_mape is not None and self.backtest_mape < self.naive_mape
        )


def _valid(forecast: np.ndarray, h: int) -> str | None:
    """Why a forecast is unusable, or None."""
    if forecast.shape != (h,):
        return f"{forecast.shape} values instead of {h}"
    if not np.all(np.isfinite(forecast)):
        return "non-finite values"
    if np.any(forecast < 0):
        return "negative values"
    return None


def _try(candidate: Candidate, y: np.ndarray, t: np.ndarray, t_future: np.ndarray) -> tuple[np.ndarray | None, str]:
    try:
        forecast = np.asarray(candidate.fit_forecast(y, t, t_future), dtype=float)
    except (ModelError, ValueError, np.linalg.LinAlgError, FloatingPointError, IndexError) as exc:
        return None, f"fit failed ({type(exc).__name__}: {exc})"
    problem = _valid(forecast, len(t_future))
    return (None, problem) if problem else (forecast, "")


def candidates_for(history_weeks: int, tuned: dict | None) -> list[Candidate]:
    """The fixed candidates for a history length (the AIC grid's winner is added during the backtest)."""
    chosen = [seasonal_naive(), arima(LEGACY_ORDER)]
    if tuned is not None:
        seasonal = any(tuned["seasonal_order"][:3])
        if not seasonal or history_weeks >= SEASONAL_MIN_WEEKS:
            chosen.append(tuned_candidate(tuned))
    return chosen


def grid_winner(
    y: np.ndarray, t: np.ndarray, t_future: np.ndarray, *, seasonal: bool
) -> tuple[Candidate | None, np.ndarray | None]:
    """Fit the grid on ``y``, rank by AIC; the best candidate and its forecast for ``t_future``.

    ``seasonal`` adds the yearly Fourier terms (only with two years of history).
    """
    best: tuple[float, Candidate, np.ndarray] | None = None
    for order, k in GRID if seasonal else SHORT_GRID:
        try:
            forecast, aic = fit_regression_arima(y, t, t_future, order, k)
        except (ModelError, ValueError, np.linalg.LinAlgError) as exc:
            log.debug("grid %s K%s failed: %s", order, k, exc)
            continue
        if _valid(forecast, len(t_future)) or not math.isfinite(aic):
            continue
        if best is None or aic < best[0]:
            best = (aic, regression_arima(order, k), forecast)
    return (best[1], best[2]) if best else (None, None)


def combination(first: Candidate, second: Candidate) -> Candidate:
    """The mean of two candidates' forecasts (e.g. the grid winner and seasonal naive)."""

    def fit_forecast(y: np.ndarray, t: np.ndarray, t_future: np.ndarray) -> np.ndarray:
        return (np.asarray(first.fit_forecast(y, t, t_future)) + np.asarray(second.fit_forecast(y, t, t_future))) / 2

    return Candidate(f"mean({first.name}, {second.name})", "combination", fit_forecast)


def forecast_store(
    store_id: str,
    y: np.ndarray,
    t: np.ndarray,
    t_future: np.ndarray,
    tuned: dict | None = None,
    *,
    backtest_weeks: int = BACKTEST_WEEKS,
    extra: tuple[Candidate, ...] = (),
) -> StoreForecast:
    """Backtest the candidates on the last ``backtest_weeks``, refit the best on all weeks, forecast.

    A chosen model that fails or forecasts non-finite or negative values gives way to the
    next best (the reason is logged and kept in ``fallbacks``). Under ``backtest_weeks +
    MIN_TRAIN_WEEKS`` weeks there is no backtest: the store's mean weekly sales.
    ``y`` must hold at least one week (a store without one uses :func:`peer_forecasts`).
    ``extra`` candidates compete with the standard ones.
    """
    y = np.asarray(y, dtype=float)
    n, h = len(y), len(t_future)
    if n == 0:
        raise ValueError(f"store {store_id}: no complete week of sales; use the peers' pattern")
    mean_model = store_mean()
    if n < backtest_weeks + MIN_TRAIN_WEEKS:
        return StoreForecast(store_id, mean_model.name, mean_model.family, mean_model.fit_forecast(y, t, t_future), n)
    train, test = y[:-backtest_weeks], y[-backtest_weeks:]
    t_train, t_test = t[:-backtest_weeks], t[-backtest_weeks:]
    scored: list[tuple[float, Candidate]] = []
    result = StoreForecast(store_id, "", "", np.zeros(h), n)
    backtests: dict[str, np.ndarray] = {}
    naive = None
    for candidate in [*candidates_for(n, tuned), *extra]:
        forecast, problem = _try(candidate, train, t_train, t_test)
        _score(result, scored, candidate, forecast, problem, test)
        if candidate.family == "seasonal-naive":
            naive, backtests["naive"] = candidate, forecast
    winner, forecast = grid_winner(train, t_train, t_test, seasonal=n >= SEASONAL_MIN_WEEKS)
    if winner is not None:
        _score(result, scored, winner, forecast, "", test)
        if naive is not None and backtests.get("naive") is not None:
            # The combination's backtest is the mean of the two backtests already made.
            _score(result, scored, combination(winner, naive), (forecast + backtests["naive"]) / 2, "", test)
    result.naive_mape = result.candidates.get("seasonal-naive")
    scored.sort(key=lambda pair: pair[0])
    for score, candidate in scored:
        forecast, problem = _try(candidate, y, t, t_future)
        if forecast is not None:
            result.model, result.family, result.forecast = candidate.name, candidate.family, forecast
            result.backtest_mape = score
            return result
        log.warning("store %s: %s skipped on the full history: %s", store_id, candidate.name, problem)
        result.fallbacks.append(f"{candidate.name}: {problem}")
    why = "all candidates failed" if np.any(test > 0) else f"no sales in the {backtest_weeks} held-out weeks"
    log.warning("store %s: %s; using the store mean", store_id, why)
    result.fallbacks.append(f"{why}: store-mean")
    result.model, result.family = mean_model.name, mean_model.family
    result.forecast = mean_model.fit_forecast(y, t, t_future)
    return result


def _score(
    result: StoreForecast,
    scored: list[tuple[float, Candidate]],
    candidate: Candidate,
    forecast: np.ndarray | None,
    problem: str,
    test: np.ndarray,
) -> None:
    if forecast is None:
        log.info("store %s: candidate %s dropped from the backtest: %s", result.store_id, candidate.name, problem)
        result.candidates[candidate.name] = None
        return
    score = mape(test, forecast)
    result.candidates[candidate.name] = None if math.isnan(score) else score
    if not math.isnan(score):
        scored.append((score, candidate))


def peer_forecasts(
    newcomers: dict[str, float], peers: list[StoreForecast], peer_levels: dict[str, float], h: int = HORIZON_WEEKS
) -> list[StoreForecast]:
    """Forecasts for stores without a complete week: the peers' median pattern at the store's level.

    ``newcomers`` maps store -> its weekly sales level (e.g. 7 x mean daily sales so far);
    ``peer_levels`` maps peer store -> its recent mean weekly sales. The pattern is the
    median over peers of forecast / level (flat when there are no peers). A store with no
    level of its own (0) takes the peers' median level.
    """
    ratios = [p.forecast / peer_levels[p.store_id] for p in peers if peer_levels.get(p.store_id, 0) > 0]
    pattern = np.median(np.vstack(ratios), axis=0) if ratios else np.ones(h)
    levels = [v for v in peer_levels.values() if v > 0]
    fallback_level = float(np.median(levels)) if levels else 0.0
    out = []
    for store_id, level in newcomers.items():
        level = level if level > 0 else fallback_level
        if level <= 0:
            raise ValueError(f"store {store_id}: no sales of its own and no peers to forecast from")
        out.append(StoreForecast(store_id, "peer-median", "peer-median", pattern[:h] * level, 0))
    return out
