"""Tests for ssmcast.metrics: hand calculations, references, properties and real data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import integrate, stats

from ssmcast import datasets
from ssmcast.metrics import (
    crps_gaussian,
    crps_quantiles,
    crps_samples,
    interval_coverage,
    interval_width,
    mae,
    mape,
    mase,
    pinball_loss,
    rmse,
    rmsse,
    skill_score,
    smape,
)

NAN = np.nan
PROPERTY = settings(max_examples=60, deadline=None)
finite = st.floats(-1e3, 1e3, allow_nan=False)


def vectors(size: int | None = None):
    shape = st.integers(1, 12) if size is None else st.just(size)
    return shape.flatmap(lambda n: hnp.arrays(np.float64, n, elements=finite))


# --- hand calculations ------------------------------------------------------------------------


def test_point_metrics_by_hand():
    y, f = [1.0, 2.0, 4.0, 8.0], [2.0, 2.0, 1.0, 8.0]  # errors 1, 0, -3, 0
    assert mae(y, f) == 1.0
    assert rmse(y, f) == pytest.approx(np.sqrt(10 / 4))
    assert mape(y, f) == pytest.approx((1 / 1 + 0 + 3 / 4 + 0) / 4)
    assert smape(y, f) == pytest.approx((2 / 3 + 0 + 6 / 5 + 0) / 4)
    assert skill_score(mae(y, f), 2.0) == 0.5


def test_results_are_python_floats_or_arrays():
    assert type(mae([1.0, 2.0], [1.0, 1.0])) is float
    assert type(rmse([1.0, 2.0], [1.0, 1.0])) is float
    assert type(crps_gaussian(0.0, 0.0, 1.0)) is float
    assert isinstance(mae([[1.0], [2.0]], 0.0, axis=0), np.ndarray)


def test_mase_and_rmsse_by_hand():
    train = np.array([1.0, 3.0, 2.0, 5.0, 4.0])  # lag-1 diffs 2, 1, 3, 1; lag-2 diffs 1, 2, 2
    y, f = np.array([6.0, 8.0]), np.array([5.0, 5.0])  # errors 1, 3
    assert mase(y, f, train) == pytest.approx(2.0 / (7 / 4))
    assert mase(y, f, train, season_length=2) == pytest.approx(2.0 / (5 / 3))
    assert rmsse(y, f, train) == pytest.approx(np.sqrt(5.0 / (15 / 4)))
    assert rmsse(y, f, train, season_length=2) == pytest.approx(np.sqrt(5.0 / 3.0))


def test_mase_of_the_in_sample_naive_forecast_is_one():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(50, 3)).cumsum(axis=0)
    per_series = mase(train[1:], train[:-1], train, axis=0)
    np.testing.assert_allclose(per_series, 1.0)
    np.testing.assert_allclose(rmsse(train[7:], train[:-7], train, season_length=7, axis=0), 1.0)


def test_mase_scales_each_series_separately():
    train = np.array([[0.0, 0.0], [1.0, 10.0], [0.0, 0.0]])  # scales 1 and 10
    np.testing.assert_allclose(mase([[1.0, 1.0]], [[2.0, 2.0]], train, axis=0), [1.0, 0.1])


def test_pinball_and_crps_from_quantiles_by_hand():
    y = [1.0, 3.0]
    q = [[0.0, 2.0], [0.0, 2.0]]  # levels 0.1 and 0.9
    np.testing.assert_allclose(pinball_loss(y, q, [0.1, 0.9]), [0.2, 0.5])
    assert pinball_loss(y, [2.0, 2.0], 0.9) == pytest.approx(0.5)
    assert crps_quantiles(y, q, [0.1, 0.9]) == pytest.approx(0.7)


def test_crps_samples_by_hand():
    # Samples {0, 1, 3}, y = 1: E|X - y| = 1, E|X - X'| = 2 * (1 + 3 + 2) / 9.
    assert crps_samples(1.0, [3.0, 0.0, 1.0]) == pytest.approx(1 - 6 / 9)
    assert crps_samples(1.0, [3.0, 0.0, 1.0], fair=True) == pytest.approx(1 - 6 / 6)


def test_intervals_by_hand():
    y = [1.0, 2.0, 3.0, NAN]
    assert interval_coverage(y, [0.0, 2.0, 3.5, 0.0], [1.0, 2.0, 4.0, 1.0]) == pytest.approx(2 / 3)
    assert interval_width([0.0, 2.0, 3.5, 0.0], [1.0, 2.0, 4.0, 1.0]) == pytest.approx(2.5 / 4)
    width = interval_width([0.0, 2.0, 3.5, 0.0], [1.0, 2.0, 4.0, 2.0], y_true=y)
    assert width == pytest.approx(1.5 / 3)


def test_zero_truth_in_mape_and_smape():
    assert mape([0.0, 1.0], [0.0, 1.5]) == 0.25  # exact forecast of 0 counts 0
    assert mape([0.0], [1.0]) == np.inf
    assert smape([0.0, 0.0], [0.0, 1.0]) == 1.0


# --- missing values and axes ------------------------------------------------------------------


def test_nan_points_are_not_scored():
    y = np.array([[1.0, NAN, 3.0], [4.0, 5.0, NAN]])
    f = np.array([[2.0, 0.0, NAN], [4.0, 7.0, 1.0]])
    assert mae(y, f) == pytest.approx((1 + 0 + 2) / 3)
    np.testing.assert_allclose(mae(y, f, axis=1), [1.0, 1.0])
    np.testing.assert_allclose(mae(y, f, axis=0), [0.5, 2.0, NAN])
    np.testing.assert_allclose(mae(y, f, axis=-2), mae(y, f, axis=0))
    assert mae(y, f, axis=(0, 1)) == mae(y, f)


def test_all_nan_gives_nan_without_warnings():
    nan3 = np.full(3, NAN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for value in (
            mae(nan3, 1.0),
            rmse(nan3, 1.0),
            mape(nan3, 1.0),
            smape(1.0, nan3),
            mase(nan3, 1.0, [1.0, 2.0]),
            pinball_loss(nan3, 1.0, 0.5),
            crps_quantiles(nan3, np.ones((3, 2)), [0.2, 0.8]),
            crps_samples(nan3, np.ones((3, 4))),
            crps_gaussian(nan3, 0.0, 1.0),
            interval_coverage(nan3, 0.0, 1.0),
            interval_width(nan3, 1.0),
        ):
            assert np.isnan(value)


def test_nan_in_samples_or_quantiles_marks_the_point_missing():
    samples = np.array([[0.0, 1.0], [NAN, 5.0]])
    assert crps_samples([0.0, 0.0], samples) == crps_samples(0.0, [0.0, 1.0])
    q = np.array([[0.0, 2.0], [NAN, 2.0]])
    assert crps_quantiles([1.0, 3.0], q, [0.1, 0.9]) == crps_quantiles(1.0, [0.0, 2.0], [0.1, 0.9])
    np.testing.assert_allclose(pinball_loss([1.0, 3.0], q, [0.1, 0.9]), [0.1, 0.5])


def test_shapes_broadcast_with_quantiles_last():
    y = np.arange(6.0).reshape(2, 3)
    q = np.stack([y - 1, y + 1], axis=-1)  # (2, 3, 2)
    assert pinball_loss(y, q, [0.25, 0.75], axis=1).shape == (2, 2)
    assert crps_quantiles(y, q, [0.25, 0.75], axis=0).shape == (3,)
    assert crps_samples(y, np.stack([y, y, y], axis=-1)) == 0.0


# --- errors -----------------------------------------------------------------------------------


def test_errors_name_the_argument():
    with pytest.raises(
        ValueError, match=r"`y_true` has shape \(3,\) and `y_pred` has shape \(2,\)"
    ):
        mae([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(TypeError, match="`y_pred` must be an array of numbers"):
        mae([1.0], ["a"])
    with pytest.raises(TypeError, match="Got a string"):
        rmse("1.0", 1.0)
    with pytest.raises(ValueError, match="`axis` 2 is out of range"):
        mae([1.0, 2.0], [1.0, 2.0], axis=2)
    with pytest.raises(TypeError, match="`axis` must be None"):
        mae([1.0, 2.0], [1.0, 2.0], axis=True)
    with pytest.raises(ValueError, match="different index"):
        mae(pd.Series([1.0, 2.0]), pd.Series([1.0, 2.0], index=[1, 2]))


@pytest.mark.parametrize("levels", [0.0, 1.0, [0.1, 90.0], [], [[0.5]]])
def test_quantile_levels_must_lie_in_the_open_unit_interval(levels):
    with pytest.raises(ValueError, match="'levels' argument of pinball_loss"):
        pinball_loss([1.0], [[1.0]], levels)


def test_quantile_axis_must_match_the_levels():
    with pytest.raises(ValueError, match=r"length 3 \(one per level\)\. Got shape \(2, 2\)"):
        crps_quantiles([1.0, 2.0], np.zeros((2, 2)), [0.1, 0.5, 0.9])


def test_mase_errors():
    with pytest.raises(ValueError, match="scale is zero: `y_train` is constant"):
        mase([1.0], [2.0], [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match=r"scale is zero for series \[\[1\]\]"):
        mase([[1.0, 1.0]], [[2.0, 2.0]], [[0.0, 3.0], [1.0, 3.0]])
    with pytest.raises(ValueError, match="needs more than season_length=24"):
        mase([1.0], [2.0], np.arange(24.0), season_length=24)
    with pytest.raises(ValueError, match="positive int"):
        mase([1.0], [2.0], np.arange(5.0), season_length=0)
    with pytest.raises(TypeError, match="positive int"):
        rmsse([1.0], [2.0], np.arange(5.0), season_length=1.5)
    with pytest.raises(ValueError, match="does not match the trailing axes"):
        mase(np.zeros(4), np.ones(4), np.arange(30.0).reshape(10, 3))


def test_probabilistic_errors():
    with pytest.raises(ValueError, match="`std` of crps_gaussian must be >= 0"):
        crps_gaussian([0.0, 1.0], 0.0, [1.0, -1.0])
    with pytest.raises(ValueError, match="`lower` of interval_coverage exceeds `upper` at 1"):
        interval_coverage([0.0, 1.0], [0.0, 2.0], [1.0, 1.5])
    with pytest.raises(ValueError, match="at least 2 sample"):
        crps_samples([0.0], [[1.0]], fair=True)


# --- against independent references -----------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "mu", "sigma"), [(0.0, 0.0, 1.0), (2.3, -1.0, 0.5), (-4.0, 1.0, 3.0)]
)
def test_crps_gaussian_matches_numerical_integration(y, mu, sigma):
    # CRPS = int (F(x) - 1{x >= y})^2 dx, integrated numerically (quad, error < 1e-9).
    cdf = stats.norm(mu, sigma).cdf
    below, _ = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y)
    above, _ = integrate.quad(lambda x: (1 - cdf(x)) ** 2, y, np.inf)
    assert crps_gaussian(y, mu, sigma) == pytest.approx(below + above, rel=1e-8)


def test_stdlib_normal_cdf_fallback_matches_scipy():
    from ssmcast.metrics._probabilistic import _normal_cdf_stdlib

    # Relative agreement down to 5e-198 (z = -30): both are erfc-based and differ by at most
    # ~2e-13 relative in the far tail, ~1e-16 near the centre.
    z = np.linspace(-30.0, 30.0, 2001)
    np.testing.assert_allclose(_normal_cdf_stdlib(z), stats.norm.cdf(z), rtol=1e-12, atol=0)


@pytest.mark.parametrize("y", [0.0, 0.3, 1.5, -2.5])
def test_crps_from_quantiles_and_samples_approach_the_gaussian(y):
    # The K midpoint quantiles (k - 0.5)/K of N(0, 1): the midpoint rule for the CRPS integral
    # over levels converges like K**-2 (up to a log factor from the unbounded quantile function
    # in the tails): about 2e-6 relative at K = 999 (measured), so rtol=2e-5 has a 10x margin.
    K = 999
    levels = (np.arange(1, K + 1) - 0.5) / K
    q = stats.norm.ppf(levels)
    exact = crps_gaussian(y, 0.0, 1.0)
    assert crps_quantiles(y, q, levels) == pytest.approx(exact, rel=2e-5)
    # The same points as an ensemble: the empirical CRPS equals the midpoint-rule sum exactly.
    assert crps_samples(y, q) == pytest.approx(crps_quantiles(y, q, levels), rel=1e-12)


def test_crps_samples_of_random_draws_estimates_the_gaussian():
    # 20,000 draws: the standard error of the CRPS estimate is about sd(|X - y|) / sqrt(n)
    # < 0.7 / 141 = 0.005; the tolerance 0.02 is 4 standard errors.
    rng = np.random.default_rng(42)
    draws = rng.normal(1.0, 2.0, size=20_000)
    assert crps_samples(0.5, draws) == pytest.approx(crps_gaussian(0.5, 1.0, 2.0), abs=0.02)


# --- properties -------------------------------------------------------------------------------


def brute_force_crps(y: float, x: np.ndarray, fair: bool = False) -> float:
    n = len(x)
    spread = np.abs(x[:, None] - x[None, :]).sum() / (n * (n - 1) if fair else n * n)
    return np.abs(x - y).mean() - 0.5 * spread


@PROPERTY
@given(y=finite, x=vectors())
def test_crps_samples_equals_the_brute_force_double_sum(y, x):
    assert crps_samples(y, x) == pytest.approx(brute_force_crps(y, x), rel=1e-9, abs=1e-9)
    if len(x) > 1:
        expected = brute_force_crps(y, x, fair=True)
        assert crps_samples(y, x, fair=True) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@PROPERTY
@given(data=st.integers(1, 10).flatmap(lambda n: st.tuples(vectors(n), vectors(n))))
def test_point_metric_properties(data):
    y, f = data
    error = mae(y, f)
    assert error >= 0
    assert rmse(y, f) >= error - 1e-9
    assert pinball_loss(y, f, 0.5) == pytest.approx(error / 2, abs=1e-9)
    assert crps_quantiles(y, f, 0.5) == pytest.approx(error, abs=1e-9)
    assert crps_samples(y, f[:, None]) == pytest.approx(error, abs=1e-9)  # a point mass
    assert crps_samples(y, np.repeat(f[:, None], 3, axis=1)) == pytest.approx(error, abs=1e-9)
    assert crps_gaussian(y, f, 0.0) == pytest.approx(error, abs=1e-9)
    assert mae(y + 7.0, f + 7.0) == pytest.approx(error, abs=1e-6)
    assert 0.0 <= smape(y, f) <= 2.0
    if error > 0:
        assert skill_score(error, error) == 0.0


@PROPERTY
@given(y=vectors(5), x=hnp.arrays(np.float64, (5, 4), elements=finite))
def test_probabilistic_properties(y, x):
    crps = crps_samples(y, x)
    assert crps >= -1e-9
    assert crps <= mae(y[:, None], x) + 1e-9  # the spread term only lowers the score
    lower, upper = x.min(axis=1), x.max(axis=1)
    assert 0.0 <= interval_coverage(y, lower, upper) <= 1.0
    assert interval_width(lower, upper) >= 0.0
    levels = np.array([0.1, 0.5, 0.9])
    losses = pinball_loss(y, np.sort(x[:, :3], axis=1), levels)
    assert losses.shape == (3,) and (losses >= 0).all()


# --- real data --------------------------------------------------------------------------------


def test_persistence_on_beijing_temperature_matches_pandas():
    temp = datasets.load("beijing")["TEMP"]
    forecast = temp.shift(1)  # persistence at lead 1 (first point NaN: not scored)
    assert mae(temp, forecast) == pytest.approx((temp - forecast).abs().mean(), rel=1e-12)
    assert rmse(temp, forecast) == pytest.approx(np.sqrt(((temp - forecast) ** 2).mean()))
    train, test = temp[:"2013"], temp["2014":]
    daily = temp.shift(24)["2014":]
    scale = (train - train.shift(24)).abs().mean()
    expected = ((test - daily).abs() / scale).mean()
    assert mase(test, daily, train, season_length=24) == pytest.approx(expected, rel=1e-12)
    assert skill_score(mae(test, test.shift(1)), mae(test, daily)) > 0.5  # 1 h beats 24 h


def test_gappy_real_series_matches_pandas_nan_skipping():
    pm = datasets.load("beijing")["pm2.5"]
    forecast = pm.shift(1)
    assert mae(pm, forecast) == pytest.approx((pm - forecast).abs().mean(), rel=1e-12)
    sst = datasets.load("sea_temperature")["temperature"]
    assert mae(sst, sst.shift(48)) == pytest.approx((sst - sst.shift(48)).abs().mean())
