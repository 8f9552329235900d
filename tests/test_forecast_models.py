"""Candidate models, selection by backtest MAPE, fallbacks and short histories (never zeros)."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import numpy as np
import pytest

from bench.forecast_synthetic import fiscal_calendar, sample_sales
from include.forecast import HORIZON_WEEKS
from include.forecast.models import (
    Candidate,
    _integrate,
    holiday_weeks,
    load_tuned_orders,
    seasonal_naive,
    week_positions,
)
from include.forecast.runner import forecast_all, forecast_frames
from include.forecast.selection import forecast_store, mape, peer_forecasts
from include.forecast.weekly import fiscal_weeks, horizon, weekly_series

LAST_DAY = date(2026, 2, 18)


def _weeks(n: int, first: date = date(2023, 1, 2)) -> list[date]:
    return [first + timedelta(weeks=i) for i in range(n)]


def _seasonal_series(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    starts = _weeks(n + HORIZON_WEEKS)
    t = week_positions(starts)
    y = 20000 * (1 + 0.001 * np.arange(len(t))) * (1 + 0.15 * np.sin(2 * np.pi * t / 52.18))
    y = y * rng.lognormal(0, 0.02, len(t))
    return y[:n], t[:n], t[n:]


def test_mape_ignores_weeks_without_sales():
    assert mape(np.array([100.0, 0.0, 200.0]), np.array([110.0, 50.0, 180.0])) == pytest.approx(10.0)
    assert np.isnan(mape(np.array([0.0, 0.0]), np.array([1.0, 2.0])))


def test_seasonal_naive_uses_the_same_week_last_year_or_last_week():
    y = np.arange(1, 61, dtype=float)
    t = np.arange(60, dtype=float)
    assert list(seasonal_naive().fit_forecast(y, t, np.arange(60, 63.0))) == [9.0, 10.0, 11.0]
    assert list(seasonal_naive().fit_forecast(y[:30], t[:30], np.arange(30, 32.0))) == [30.0, 30.0]


def test_integrate_undoes_regular_and_seasonal_differencing():
    rng = np.random.default_rng(3)
    y = rng.normal(100, 5, 130).cumsum()
    s = 52
    diffed = np.diff(y)[s:] - np.diff(y)[:-s]
    assert np.allclose(_integrate(y[:120], diffed[-10:], 1, 1, s), y[120:])


def test_holiday_weeks_mark_the_weeks_that_contain_them():
    starts = [date(2025, 11, 24), date(2025, 12, 1), date(2025, 12, 22), date(2025, 12, 29), date(2025, 6, 30)]
    marks = holiday_weeks(week_positions(starts))
    # columns: thanksgiving, christmas, new year, independence day
    assert marks.tolist() == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def test_a_seasonal_series_is_forecast_better_than_seasonal_naive_and_the_choice_is_recorded():
    y, t, t_future = _seasonal_series(156)
    result = forecast_store("000126", y, t, t_future)
    assert result.family == "fourier-arima"
    assert set(result.candidates) >= {"seasonal-naive", "ARIMA(5,1,0)", result.model}
    grid = next(name for name in result.candidates if name.startswith("fourier-ARIMA"))
    assert f"mean({grid}, seasonal-naive)" in result.candidates  # the combination competes too
    assert result.backtest_mape == min(v for v in result.candidates.values() if v is not None)
    assert result.naive_mape == result.candidates["seasonal-naive"]
    assert result.beat_naive
    assert result.forecast.shape == (HORIZON_WEEKS,) and np.all(result.forecast > 0)


def test_tuned_orders_load_in_legacy_form_and_the_seasonal_one_needs_two_years(tmp_path):
    tuned = load_tuned_orders()
    assert tuned["001089"] == {"order": (3, 1, 1), "seasonal_order": (1, 1, 0, 52)}
    y, t, t_future = _seasonal_series(110)
    with_tuned = forecast_store("001089", y, t, t_future, tuned["001089"])
    assert "tuned SARIMA(3,1,1)(1,1,0,52)" in with_tuned.candidates
    short = forecast_store("001089", y[:90], t[:90], t[90:95], tuned["001089"])
    assert not any(name.startswith("tuned") for name in short.candidates)
    assert not any(name.startswith("fourier") for name in short.candidates)  # under 104 weeks: no yearly term
    bad = tmp_path / "tuned.json"
    bad.write_text(json.dumps({"12a": {"order": [1, 1, 1]}}))
    with pytest.raises(ValueError, match="not a store number"):
        load_tuned_orders(bad)


def test_a_failing_or_negative_best_model_falls_back_to_the_next(caplog):
    y, t, t_future = _seasonal_series(60)

    def perfect_then_broken(y_, t_, tf_):
        # Perfect on the backtest, negative on the full history.
        if len(y_) == len(y) - 12:
            return y[-12:]
        return -np.ones(len(tf_))

    def failing(y_, t_, tf_):
        raise ValueError("singular matrix")

    extra = (Candidate("broken", "test", perfect_then_broken), Candidate("failing", "test", failing))
    with caplog.at_level(logging.WARNING):
        result = forecast_store("000001", y, t, t_future, extra=extra)
    assert result.candidates["failing"] is None
    assert result.candidates["broken"] == 0.0
    assert result.model != "broken" and np.all(result.forecast >= 0)
    assert result.fallbacks == ["broken: negative values"]
    assert "broken skipped" in caplog.text


@pytest.mark.parametrize("weeks", [1, 3, 10, 23])
def test_short_histories_use_the_store_mean(weeks):
    y, t, t_future = _seasonal_series(weeks)
    result = forecast_store("000002", y, t, t_future)
    assert result.model == "store-mean"
    assert result.forecast == pytest.approx(np.full(HORIZON_WEEKS, y.mean()))
    assert result.backtest_mape is None


def test_stores_without_a_complete_week_get_the_peers_pattern_at_their_level():
    peers = [forecast_store(f"00000{i}", *_seasonal_series(30, seed=i)) for i in range(1, 4)]
    levels = {p.store_id: 10000.0 for p in peers}
    [new, empty] = peer_forecasts({"000009": 5000.0, "000010": 0.0}, peers, levels)
    pattern = np.median(np.vstack([p.forecast / 10000.0 for p in peers]), axis=0)
    assert new.forecast == pytest.approx(pattern * 5000)
    assert empty.forecast == pytest.approx(pattern * 10000)  # no level of its own: the peers' median level
    assert new.model == "peer-median" and np.all(new.forecast > 0)


def test_forecast_all_covers_every_store_with_no_zero_forecast():
    history = [1100, 1100, 200, 40, 10, 3]
    daily = sample_sales(len(history), LAST_DAY, history_days=history, seed=11)
    calendar = fiscal_calendar(2022, 2027)
    weekly, last = weekly_series(daily, calendar)
    future = horizon(fiscal_weeks(calendar), last["week_start"])
    results = forecast_all(weekly, list(future["week_start"]), {}, {"100099": 7 * 1500.0})
    frame, models = forecast_frames(results, future)
    assert sorted(models["store_id"]) == sorted({*weekly["store_id"], "100099"})
    assert (frame["forecast_sales"] > 0).all()
    assert list(frame[frame["store_id"] == "100099"]["fiscal_week_label"]) == list(future["fiscal_week_label"])
    families = dict(zip(models["store_id"], models["family"], strict=True))
    assert families["100099"] == "peer-median"
    assert families["100005"] == "store-mean"  # 10 days: one complete week at most
    assert json.loads(models.set_index("store_id").loc["100001", "candidates"])["seasonal-naive"] > 0


def test_a_store_closed_through_the_held_out_weeks_gets_its_mean_not_zeros():
    y, t, t_future = _seasonal_series(60)
    y[-12:] = 0.0  # closed for a remodel
    result = forecast_store("000003", y, t, t_future)
    assert result.model == "store-mean"
    assert result.fallbacks == ["no sales in the 12 held-out weeks: store-mean"]
    assert np.all(result.forecast > 0)
