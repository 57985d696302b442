"""Interval calibration: split conformal at fit, and online tracking after it."""

import functools
import warnings

import numpy as np
import pandas as pd
import pytest

from ssmcast import datasets
from ssmcast._calibration import advance_tracker, start_tracker
from ssmcast.forecaster import SSMForecaster

TINY = dict(
    d_model=8,
    num_layers=1,
    max_epochs=2,
    batch_size=4,
    segment_length=64,
    ensemble_size=1,
    progress=False,
)
Q80 = 1.2815515655446004  # the normal's 0.9 quantile


def _reference(factor, loc, scale, y, rate):
    """The tracker one number at a time, in float64 (the independent reference).

    ``loc``/``scale`` ``(S, T, H, C)``: forecasts of every step; the tracker starts after
    step ``H - 1`` with ``factor``, and each later step ``t`` scores the interval published
    at ``t - k - 1`` for lead ``k``, then publishes its own.
    """
    num_series, steps, horizon, channels = loc.shape
    log_f = np.log(np.broadcast_to(np.asarray(factor)[:, None], (horizon, channels)))
    log_f = np.array(np.broadcast_to(log_f, (num_series, horizon, channels)), np.float64)
    published = np.full(scale.shape, np.nan)
    published[:, :horizon] = scale[:, :horizon] * np.exp(log_f)[:, None]
    path = []
    for t in range(horizon, steps):
        for s, k, c in np.ndindex(num_series, horizon, channels):
            issued = t - k - 1
            if np.isnan(y[s, t, c]):
                continue
            miss = abs(y[s, t, c] - loc[s, issued, k, c]) > Q80 * published[s, issued, k, c]
            moved = log_f[s, k, c] + (rate * 0.8 if miss else -rate * 0.2)
            log_f[s, k, c] = min(max(moved, np.log(0.1)), np.log(10.0))
        published[:, t] = scale[:, t] * np.exp(log_f.astype(np.float32))
        path.append(log_f.copy())
    return np.array(path)


def _stream(series=2, steps=300, horizon=3, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    loc = rng.normal(0.0, 1.0, size=(series, steps, horizon, channels)).astype(np.float32)
    scale = rng.uniform(0.5, 1.5, size=loc.shape).astype(np.float32)
    y = rng.normal(0.0, 1.5, size=(series, steps, channels))
    y[rng.random(y.shape) < 0.2] = np.nan  # missing targets leave their factors alone
    return loc, scale, y


def test_tracking_equals_a_scalar_loop():
    loc, scale, y = _stream()
    horizon = loc.shape[2]
    factor = np.array([0.8, 1.0, 1.3])
    tracker = start_tracker(factor, loc[:, :horizon], scale[:, :horizon], rate=0.05)
    new = slice(horizon, None)
    last, path = advance_tracker(tracker, loc[:, new], scale[:, new], y[:, new], path=True)
    want = _reference(factor, loc, scale, y, 0.05)
    np.testing.assert_allclose(path, want, atol=1e-5)
    np.testing.assert_array_equal(last.log_factor, path[-1])
    np.testing.assert_array_equal(np.stack([p[0] for p in last.issued], 1), loc[:, -horizon:])
    fixed = tracker._replace(rate=0.0)
    _, still = advance_tracker(fixed, loc[:, new], scale[:, new], y[:, new], path=True)
    np.testing.assert_array_equal(still, np.broadcast_to(tracker.log_factor, still.shape))


def test_a_tracker_updated_step_by_step_equals_one_call():
    loc, scale, y = _stream(steps=60)
    tracker = start_tracker(np.ones(3), loc[:, :10], scale[:, :10], rate=0.1)
    whole, _ = advance_tracker(tracker, loc[:, 10:], scale[:, 10:], y[:, 10:])
    for t in range(10, 60):
        step = slice(t, t + 1)
        tracker, _ = advance_tracker(tracker, loc[:, step], scale[:, step], y[:, step])
    np.testing.assert_allclose(tracker.log_factor, whole.log_factor, atol=1e-6)
    for (l1, s1), (l2, s2) in zip(tracker.issued, whole.issued, strict=True):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_allclose(s1, s2, rtol=1e-6)


def test_published_intervals_cover_80_percent_through_a_drift():
    rng = np.random.default_rng(1)
    # the network's spread is 1; the true errors have spread 1, then 3 (the test period drifts)
    sd = np.r_[np.ones(3000), 3 * np.ones(3000)]
    y = rng.normal(0.0, sd)[None, :, None]
    loc = np.zeros((1, 6000, 1, 1), np.float32)
    scale = np.ones_like(loc)
    tracker = start_tracker(np.ones(1), loc[:, :1], scale[:, :1], rate=0.02)
    _, path = advance_tracker(tracker, loc[:, 1:], scale[:, 1:], y[:, 1:], path=True)
    factor = np.exp(np.r_[0.0, path[:-1, 0, 0, 0]])  # the factor each target's interval had
    inside = np.abs(y[0, 1:, 0]) <= Q80 * factor
    assert abs(inside[1000:3000].mean() - 0.8) < 0.03
    assert abs(inside[3000:].mean() - 0.8) < 0.03  # through the drift, still 80%
    np.testing.assert_allclose(np.median(factor[4000:]), 3.0, rtol=0.15)
    assert (np.abs(y[0, 3000:, 0]) <= Q80).mean() < 0.4  # a fixed factor covers a third


@functools.cache
def _fitted(rate: float) -> SSMForecaster:
    y = datasets.load("beijing")["TEMP"].loc["2014-09-01":"2014-11-30"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = SSMForecaster("s5", 6, random_state=0, calibration_rate=rate, **TINY)
        return f.fit(y)


def test_updates_with_larger_errors_widen_the_intervals_on_real_data():
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-07 23:00"]
    noisy = december + np.random.default_rng(0).normal(0.0, 6.0, len(december))
    f = _fitted(0.02)
    start = f.fitted_.state.tracker.log_factor.copy()
    calm = _copy(f).update(december).fitted_.state
    rough = _copy(f).update(noisy).fitted_.state
    assert np.exp(rough.tracker.log_factor).mean() > 1.5 * np.exp(calm.tracker.log_factor).mean()
    np.testing.assert_array_equal(f.fitted_.state.tracker.log_factor, start)  # pure: f unchanged
    # without tracking the factors stay those of the fit
    fixed = _copy(_fitted(0.0))
    assert fixed.fitted_.state.tracker is None
    before = fixed.predict_quantiles([0.1, 0.9])
    width = (before["q0.9"] - before["q0.1"]).to_numpy()
    after = fixed.update(noisy).predict_quantiles([0.1, 0.9])
    assert ((after["q0.9"] - after["q0.1"]).to_numpy() < 3 * width).all()


def _copy(f: SSMForecaster) -> SSMForecaster:
    g = SSMForecaster(**f.get_params())
    g.fitted_ = f.fitted_
    return g


@pytest.mark.parametrize(
    ("rate", "error"), [(-0.1, ValueError), (1.5, ValueError), ("0.1", TypeError)]
)
def test_a_bad_calibration_rate_is_named(rate, error):
    y = pd.Series(
        np.arange(100.0), index=pd.date_range("2020-01-01", periods=100, freq="h"), name="y"
    )
    with pytest.raises(error, match="'calibration_rate' parameter of SSMForecaster"):
        SSMForecaster(horizon=6, calibration_rate=rate, **TINY).fit(y)
