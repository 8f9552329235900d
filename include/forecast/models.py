"""Candidate weekly sales models: each maps a history to a forecast of ``h`` weeks.

Every model sees ``y`` (weekly net sales, oldest first), ``t`` (the weeks' positions in
weeks since 1970-01-05, so yearly Fourier terms line up across stores and the future)
and ``t_future``. Statsmodels models are fitted on log sales (on sales over their mean
when a week has zero sales) and transformed back.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Weeks per year for the yearly Fourier terms.
YEAR_WEEKS = 365.25 / 7
#: Season length of the legacy seasonal ARIMA terms.
SEASON = 52
_EPOCH = date(1970, 1, 5)  # a Monday
TUNED_ORDERS_FILE = Path(__file__).with_name("tuned_orders.json")


class ModelError(RuntimeError):
    """A model could not be fitted or forecast."""


def week_positions(week_starts) -> np.ndarray:
    """Weeks since 1970-01-05 for week start dates (floats, one per week)."""
    return np.array([(d - _EPOCH).days / 7 for d in week_starts], dtype=float)


@dataclass(frozen=True)
class Candidate:
    """A named model; ``fit_forecast(y, t, t_future)`` returns ``len(t_future)`` weekly sales."""

    name: str
    family: str
    fit_forecast: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class _Scale:
    """Log transform when every week sold, else division by the mean."""

    def __init__(self, y: np.ndarray) -> None:
        self.log = bool(np.all(y > 0))
        self.mean = float(np.mean(y)) or 1.0

    def forward(self, y: np.ndarray) -> np.ndarray:
        return np.log(y) if self.log else y / self.mean

    def back(self, z: np.ndarray) -> np.ndarray:
        return np.exp(z) if self.log else z * self.mean


def fourier(t: np.ndarray, k: int) -> np.ndarray:
    """``2k`` yearly sine/cosine columns."""
    if k == 0:
        return np.empty((len(t), 0))
    angle = 2 * np.pi * np.outer(t, np.arange(1, k + 1)) / YEAR_WEEKS
    return np.column_stack([np.sin(angle), np.cos(angle)])


def _fit_sarimax(z: np.ndarray, exog: np.ndarray | None, order, seasonal_order=(0, 0, 0, 0), **kwargs):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SARIMAX(z, exog=exog, order=order, seasonal_order=seasonal_order, **kwargs)
        return model.fit(disp=False, maxiter=60)


def _check(forecast: np.ndarray, h: int) -> np.ndarray:
    forecast = np.asarray(forecast, dtype=float)
    if forecast.shape != (h,):
        raise ModelError(f"forecast has shape {forecast.shape}, expected ({h},)")
    return forecast


def arima(order: tuple[int, int, int]) -> Candidate:
    """Plain ARIMA (the legacy default is (5,1,0))."""

    def fit_forecast(y: np.ndarray, t: np.ndarray, t_future: np.ndarray) -> np.ndarray:
        scale = _Scale(y)
        result = _fit_sarimax(scale.forward(y), None, order)
        return _check(scale.back(result.forecast(len(t_future))), len(t_future))

    p, d, q = order
    return Candidate(f"ARIMA({p},{d},{q})", "arima-default", fit_forecast)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


#: Holidays that move sales in the week that contains them (US restaurant closures and peaks).
HOLIDAYS: dict[str, Callable[[int], date]] = {
    "thanksgiving": lambda year: _nth_weekday(year, 11, 3, 4),
    "christmas": lambda year: date(year, 12, 25),
    "new_year": lambda year: date(year, 1, 1),
    "independence_day": lambda year: date(year, 7, 4),
}


def holiday_weeks(t: np.ndarray) -> np.ndarray:
    """One 0/1 column per holiday in :data:`HOLIDAYS`: does the week contain it."""
    t = np.asarray(t, dtype=float)
    if len(t) == 0:
        return np.zeros((0, len(HOLIDAYS)))
    starts = np.rint(7 * t).astype(int)  # days since the epoch
    first = (_EPOCH + timedelta(days=int(starts.min()))).year
    last = (_EPOCH + timedelta(days=int(starts.max()) + 6)).year
    columns = []
    for rule in HOLIDAYS.values():
        days = np.array([(rule(year) - _EPOCH).days for year in range(first, last + 1)])
        offset = days[None, :] - starts[:, None]
        columns.append(((offset >= 0) & (offset <= 6)).any(axis=1))
    return np.column_stack(columns).astype(float)


def _regression_exog(t: np.ndarray, t0: float, k: int, holidays: np.ndarray | None) -> np.ndarray:
    parts = [((t - t0) / YEAR_WEEKS)[:, None], fourier(t, k)]
    if holidays is not None:
        parts.append(holiday_weeks(t)[:, holidays])
    return np.column_stack(parts)


def fit_regression_arima(
    y: np.ndarray, t: np.ndarray, t_future: np.ndarray, order: tuple[int, int, int], k: int
) -> tuple[np.ndarray, float]:
    """Forecast and AIC of ARIMA errors around a drift plus ``k`` yearly Fourier pairs.

    With ``k > 0`` the holiday-week indicators that occur in the history are regressors too.
    """
    scale = _Scale(y)
    holidays = np.flatnonzero(holiday_weeks(t).sum(axis=0) > 0) if k else None
    exog = _regression_exog(t, t[0], k, holidays)
    # Regression coefficients in the state (not numerically optimised): several times faster.
    result = _fit_sarimax(scale.forward(y), exog, order, mle_regression=False, concentrate_scale=True)
    forecast = result.forecast(len(t_future), exog=_regression_exog(t_future, t[0], k, holidays))
    return _check(scale.back(forecast), len(t_future)), float(result.aic)


def regression_arima(order: tuple[int, int, int], k: int) -> Candidate:
    """ARIMA errors around a linear trend (drift) plus ``k`` yearly Fourier pairs (``k=0``: no season)."""

    def fit_forecast(y: np.ndarray, t: np.ndarray, t_future: np.ndarray) -> np.ndarray:
        return fit_regression_arima(y, t, t_future, order, k)[0]

    p, d, q = order
    if k:
        return Candidate(f"fourier-ARIMA({p},{d},{q})+K{k}", "fourier-arima", fit_forecast)
    return Candidate(f"ARIMA({p},{d},{q})+drift", "arima-drift", fit_forecast)


def seasonal_arima(order: tuple[int, int, int], seasonal_order: tuple[int, int, int, int]) -> Candidate:
    """A legacy tuned SARIMA with a 52-week season.

    With seasonal differencing the model is fitted to the differenced series (far faster
    than the full state space) and the forecast is integrated back.
    """

    def fit_forecast(y: np.ndarray, t: np.ndarray, t_future: np.ndarray) -> np.ndarray:
        h = len(t_future)
        p, d, q = order
        _, sd, _, s = seasonal_order
        scale = _Scale(y)
        z = scale.forward(y)
        if len(z) <= d + sd * s + max(p, q) + 8:
            raise ModelError(f"{len(z)} weeks are too few for a {s}-week seasonal model")
        result = _fit_sarimax(z, None, order, seasonal_order, simple_differencing=True)
        diffed = np.asarray(result.forecast(h), dtype=float)
        return _check(scale.back(_integrate(z, diffed, d, sd, s)), h)

    p, d, q = order
    sp, sd, sq, s = seasonal_order
    return Candidate(f"tuned SARIMA({p},{d},{q})({sp},{sd},{sq},{s})", "tuned-sarima", fit_forecast)


def _integrate(history: np.ndarray, diffed: np.ndarray, d: int, sd: int, s: int) -> np.ndarray:
    """Undo ``(1-B)^d (1-B^s)^sd`` for a forecast of the differenced series."""
    levels = [history]
    for _ in range(d):
        levels.append(np.diff(levels[-1]))
    for _ in range(sd):
        levels.append(levels[-1][s:] - levels[-1][:-s])
    lags = [1] * d + [s] * sd
    out = np.asarray(diffed, dtype=float)
    for level, lag in zip(reversed(levels[:-1]), reversed(lags), strict=True):
        series = list(level)
        for value in out:
            series.append(value + series[-lag])
        out = np.array(series[len(level):])
    return out


def seasonal_naive() -> Candidate:
    """The same week last year (52 weeks back); last week when there is under a year of history."""

    def fit_forecast(y: np.ndarray, t: np.ndarray, t_future: np.ndarray) -> np.ndarray:
        h = len(t_future)
        if len(y) >= SEASON:
            return np.array([y[len(y) - SEASON + (i % SEASON)] for i in range(h)], dtype=float)
        return np.full(h, float(y[-1]))

    return Candidate("seasonal-naive", "seasonal-naive", fit_forecast)


def store_mean() -> Candidate:
    """The store's mean weekly sales (short histories)."""

    def fit_forecast(y: np.ndarray, t: np.ndarray, t_future: np.ndarray) -> np.ndarray:
        return np.full(len(t_future), float(np.mean(y)))

    return Candidate("store-mean", "store-mean", fit_forecast)


def load_tuned_orders(path: Path = TUNED_ORDERS_FILE) -> dict[str, dict]:
    """Per-store tuned orders in the legacy form, keyed by 6-digit store id.

    ``{"1089": {"order": [3,1,1], "seasonal_order": [1,1,0,52]}}``; ``seasonal_order``
    may be absent. Raises ValueError naming the store on a malformed entry.
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    tuned: dict[str, dict] = {}
    for key, entry in raw.items():
        store = str(key).strip()
        if not store.isdigit() or len(store) > 6:
            raise ValueError(f"{path.name}: store {key!r} is not a store number")
        order = tuple(int(v) for v in entry.get("order", ()))
        seasonal = tuple(int(v) for v in entry.get("seasonal_order") or (0, 0, 0, 0))
        if len(order) != 3 or len(seasonal) != 4 or min(order + seasonal) < 0:
            raise ValueError(f"{path.name}: store {key!r} needs order [p,d,q] and seasonal_order [P,D,Q,s]")
        tuned[store.zfill(6)] = {"order": order, "seasonal_order": seasonal}
    return tuned


def tuned_candidate(entry: dict) -> Candidate:
    """The candidate of a tuned-orders entry (seasonal when it has a seasonal part)."""
    order, seasonal = tuple(entry["order"]), tuple(entry["seasonal_order"])
    if any(seasonal[:3]):
        return seasonal_arima(order, seasonal)
    p, d, q = order
    base = arima(order)
    return Candidate(f"tuned ARIMA({p},{d},{q})", "tuned-sarima", base.fit_forecast)
