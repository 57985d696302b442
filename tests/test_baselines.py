"""Baselines against direct pandas computations on the shipped real data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ssmcast import datasets
from ssmcast.base import Capabilities
from ssmcast.baselines import Climatology, Drift, Naive, SeasonalNaive
from ssmcast.baselines._residuals import nanquantile

H = pd.Timedelta("1h")


@pytest.fixture(scope="module")
def beijing() -> pd.DataFrame:
    return datasets.load("beijing")


def test_naive_is_the_last_observed_value(beijing):
    temp = beijing["TEMP"].loc["2014-03-01":"2014-03-20"]
    forecast = Naive(horizon=5).fit(temp).predict()
    assert (forecast == temp.iloc[-1]).all()
    pm = beijing["pm2.5"].loc[:"2010-03-31 12:00"]  # ends in missing values
    assert np.isnan(pm.iloc[-1])
    assert (Naive(horizon=5).fit(pm).predict() == pm.dropna().iloc[-1]).all()


def test_seasonal_naive_is_the_value_a_season_earlier(beijing):
    temp = beijing["TEMP"].loc["2014-05-01":"2014-05-20"]
    forecast = SeasonalNaive(horizon=60).fit(temp).predict()
    seasons = np.ceil(np.arange(1, 61) / 24).astype(int)
    earlier = forecast.index - pd.to_timedelta(24 * seasons, unit="h")
    np.testing.assert_array_equal(forecast.to_numpy(), temp.loc[earlier].to_numpy())
    shifted = temp.shift(24, freq="h")  # the value 24 h earlier, indexed by the target time
    np.testing.assert_array_equal(forecast.iloc[:24], shifted.loc[forecast.index[:24]])


def test_seasonal_naive_skips_missing_values(beijing):
    pm = beijing["pm2.5"].loc["2010-03-25":"2010-03-31 12:00"]  # many NaN, at the end too
    assert np.isnan(pm.iloc[-1])
    forecast = SeasonalNaive(horizon=30).fit(pm).predict()
    for target, value in forecast.items():
        candidates = pm.reindex([target - k * 24 * H for k in range(1, 10)]).dropna()
        expected = candidates.iloc[0] if len(candidates) else pm.dropna().iloc[-1]
        assert value == expected, target


def test_seasonal_naive_daily_and_weekly():
    seattle = datasets.load("seattle_weather")["temp_max"]
    forecast = SeasonalNaive(horizon=7).fit(seattle).predict()
    np.testing.assert_array_equal(forecast.to_numpy(), seattle.iloc[-7:].to_numpy())
    co2 = datasets.load("co2")["co2"]  # weekly, 59 missing weeks
    fitted = SeasonalNaive(horizon=52).fit(co2)
    assert fitted.season_length_ == 52 and np.isfinite(fitted.predict().to_numpy()).all()


def test_drift_matches_the_formula(beijing):
    pres = beijing["PRES"].loc["2014-02-01":"2014-02-10"]
    forecast = Drift(horizon=10).fit(pres).predict()
    slope = (pres.iloc[-1] - pres.iloc[0]) / (len(pres) - 1)
    np.testing.assert_allclose(forecast.to_numpy(), pres.iloc[-1] + slope * np.arange(1, 11))


def test_drift_with_missing_ends(beijing):
    pm = beijing["pm2.5"].loc[:"2010-01-24 00:00"]  # starts and ends with NaN
    assert np.isnan(pm.iloc[0]) and np.isnan(pm.iloc[-1])
    observed = pm.dropna()
    forecast = Drift(horizon=3).fit(pm).predict()
    hours = lambda a, b: (b - a) / H  # noqa: E731
    slope = (observed.iloc[-1] - observed.iloc[0]) / hours(observed.index[0], observed.index[-1])
    expected = observed.iloc[-1] + slope * np.array(
        [hours(observed.index[-1], t) for t in forecast.index]
    )
    np.testing.assert_allclose(forecast.to_numpy(), expected)


def _climatology(train: pd.Series, target: pd.Timestamp, window: int) -> float:
    """Mean over the same hour whose day of year is within `window` days (circularly)."""
    distance = np.abs(train.index.day_of_year.to_numpy() - target.day_of_year)
    distance = np.minimum(distance, 366 - distance)
    same = (train.index.hour == target.hour) & (distance <= window)
    return train[same].mean()


def test_climatology_matches_pandas(beijing):
    temp = beijing["TEMP"].loc["2012-01-01":"2013-12-31"]
    forecast = Climatology(horizon=48, window=10).fit(temp).predict()
    expected = [_climatology(temp, t, 10) for t in forecast.index]
    np.testing.assert_allclose(forecast.to_numpy(), expected)


def test_climatology_falls_back_to_the_hourly_mean(beijing):
    temp = beijing["TEMP"].loc["2014-01-01":"2014-01-31"]
    forecast = Climatology(horizon=24, window=0).fit(temp).predict()  # 1 February: never seen
    hourly = temp.groupby(temp.index.hour).mean()
    np.testing.assert_allclose(forecast.to_numpy(), hourly.loc[forecast.index.hour].to_numpy())


def test_naive_quantiles_are_quantiles_of_differences(beijing):
    temp = beijing["TEMP"].loc["2014-01-01":"2014-03-31"]
    levels = [0.1, 0.5, 0.9]
    quantiles = Naive(horizon=24).fit(temp).predict_quantiles(levels).to_numpy()
    first = np.nanquantile(temp.diff().to_numpy(), levels)
    np.testing.assert_allclose(quantiles[0], temp.iloc[-1] + first)
    for lead in (6, 24):  # widening can only make intervals wider than the raw quantiles
        raw = np.nanquantile(temp.diff(lead).to_numpy(), levels)
        assert quantiles[lead - 1, 2] >= temp.iloc[-1] + raw[2] - 1e-9
        assert quantiles[lead - 1, 0] <= temp.iloc[-1] + raw[0] + 1e-9
    widths = quantiles[:, 2] - quantiles[:, 0]
    assert (np.diff(widths) >= 0).all() and widths[-1] > widths[0]


@pytest.mark.parametrize("cls", [Naive, SeasonalNaive, Drift])
def test_in_sample_forecasts_match_fitting_on_a_prefix(beijing, cls):
    """The residual quantiles use the same forecasts as predict from each origin."""
    pm = beijing["pm2.5"].loc["2010-01-01":"2010-01-31"]  # NaN runs of 24 h and 67 h
    full = cls(horizon=30).fit(pm)
    insample = full._insample(full.fitted_.state)
    for stop in (30, 101, 200, 580, 620, len(pm) - 31):
        forecast = cls(horizon=30).fit(pm.iloc[:stop]).predict().to_numpy()
        expected = [insample(lead)[0, stop - 1, 0] for lead in range(1, 31)]
        np.testing.assert_allclose(forecast, expected)


@pytest.mark.parametrize("cls", [Naive, SeasonalNaive, Drift])
def test_update_equals_fitting_on_all_data(beijing, cls):
    pm = beijing["pm2.5"].loc["2010-01-01":"2010-01-31"]
    updated = cls(horizon=30).fit(pm.iloc[:100])
    for start in range(100, len(pm), 37):
        updated.update(pm.iloc[start : start + 37])
    refit = cls(horizon=30).fit(pm)
    pd.testing.assert_series_equal(updated.predict(), refit.predict())


def test_parameters_are_validated(beijing):
    temp = beijing["TEMP"].iloc[:100]
    with pytest.raises(ValueError, match="'season_length' parameter of SeasonalNaive"):
        SeasonalNaive(season_length=0).fit(temp)
    with pytest.raises(TypeError, match=r"'season_length' parameter .* Got 1.5 \(float\)"):
        SeasonalNaive(season_length=1.5).fit(temp)
    with pytest.raises(ValueError, match="'window' parameter of Climatology"):
        Climatology(window=-1).fit(temp)
    with pytest.raises(ValueError, match=r"must be an int from 0 to 182\. Got 183"):
        Climatology(window=183).fit(temp)
    with pytest.raises(TypeError, match="'window' parameter of Climatology"):
        Climatology(window=2.0).fit(temp)
    with pytest.raises(ValueError, match=r"has 20 time step.*SeasonalNaive needs at least 24"):
        SeasonalNaive().fit(temp.iloc[:20])
    assert len(SeasonalNaive(season_length=12).fit(temp.iloc[:20]).predict()) == 24
    with pytest.raises(ValueError, match="Drift needs at least 2"):
        Drift().fit(temp.iloc[:1])


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 20), st.integers(1, 2)),
        elements=st.one_of(st.just(np.nan), st.floats(-1e6, 1e6)),
    ),
    st.lists(st.floats(0, 1), min_size=1, max_size=4),
)
def test_nanquantile_matches_numpy(values, levels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        expected = np.moveaxis(np.nanquantile(values, levels, axis=1), 0, -1)
    np.testing.assert_allclose(nanquantile(values, levels), expected, rtol=1e-9, atol=1e-6)


def test_seasonal_naive_update_crosses_season_boundaries(beijing):
    temp = beijing["TEMP"].loc["2014-06-01":"2014-06-10"]
    updated = SeasonalNaive(horizon=24).fit(temp.iloc[:53])
    for start in range(53, len(temp), 7):  # chunks that never align with the 24 h season
        updated.update(temp.iloc[start : start + 7])
    expected = temp.iloc[-24:].to_numpy()
    np.testing.assert_array_equal(updated.predict().to_numpy(), expected)
    assert math.isclose(updated.predict().index[0].hour, 0)


def test_quantiles_need_in_sample_errors():
    y = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "b": [np.nan, np.nan, 1.0]}, pd.date_range("2024", periods=3)
    )
    forecaster = Naive(horizon=2).fit(y)
    assert np.isfinite(forecaster.predict().to_numpy()).all()
    with pytest.raises(ValueError, match=r"quantiles for column 'b'.*longer history"):
        forecaster.predict_quantiles([0.1, 0.9])


@pytest.mark.parametrize("cls", [Naive, SeasonalNaive, Drift, Climatology])
def test_update_makes_a_new_state_and_leaves_the_old_one_alone(beijing, cls):
    temp = beijing["TEMP"].loc["2014-06-01":"2014-06-10"]
    forecaster = cls(horizon=6).fit(temp.iloc[:100])
    before = forecaster.fitted_
    copies = [np.copy(v) if isinstance(v, np.ndarray) else v for v in before.state]
    first = forecaster.predict()
    attributes = set(vars(forecaster))
    forecaster.update(temp.iloc[100:130])
    assert forecaster.fitted_ is not before and forecaster.fitted_.state is not before.state
    assert set(vars(forecaster)) == attributes == {*forecaster.get_params(), "fitted_"}
    for old, kept in zip(before.state, copies, strict=True):
        if isinstance(old, np.ndarray):
            assert not old.flags.writeable
            np.testing.assert_array_equal(old, kept)
    assert forecaster.fitted_.state.num_steps == 130 and before.state.num_steps == 100
    forecaster.fitted_ = before  # the old value still forecasts as before the update
    pd.testing.assert_series_equal(forecaster.predict(), first)


def test_fitted_attributes_are_read_only_views_of_the_state(beijing):
    forecaster = SeasonalNaive(horizon=6)
    with pytest.raises(AttributeError, match="season_length_"):
        forecaster.season_length_  # noqa: B018
    forecaster.fit(beijing["TEMP"].iloc[:100])
    assert forecaster.season_length_ == forecaster.fitted_.state.season_length == 24
    with pytest.raises(AttributeError):
        forecaster.season_length_ = 12
    assert type(forecaster).capabilities == Capabilities(
        one_pass_backtest=False, quantiles=True, covariates=False, save=False
    )
