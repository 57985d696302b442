"""One conformance suite for every forecaster: the estimator contract users rely on.

To enrol a forecaster, append a factory (a zero-argument callable returning an unfitted
instance with a small horizon, say 6) to ``FORECASTERS``. Keep each factory fast: the suite
fits it a few dozen times on slices of a few hundred steps of real data.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ssmcast import datasets
from ssmcast.baselines import Climatology, Drift, Naive, SeasonalNaive
from ssmcast.data import MissingTimestampsWarning
from ssmcast.forecaster import SSMForecaster

HORIZON = 6

FORECASTERS: list[Callable[[], object]] = [
    functools.partial(Naive, horizon=HORIZON),
    functools.partial(SeasonalNaive, horizon=HORIZON),
    functools.partial(Climatology, horizon=HORIZON),
    functools.partial(Drift, horizon=HORIZON),
    functools.partial(
        SSMForecaster,
        horizon=HORIZON,
        d_model=4,
        num_layers=1,
        max_epochs=1,
        batch_size=2,
        segment_length=32,
        ensemble_size=1,
        random_state=0,
        progress=False,
    ),
]

LEVELS = [0.9, 0.05, 0.5, 0.1, 0.95]  # deliberately unsorted: outputs follow this order


@pytest.fixture(params=FORECASTERS, ids=lambda make: type(make()).__name__)
def make(request) -> Callable[[], object]:
    return request.param


# --- real data: 23 days of hourly weather in Beijing and at the New York airports -----------


@functools.cache
def _beijing() -> pd.DataFrame:
    return datasets.load("beijing").loc["2014-01-01":"2014-01-23", ["TEMP", "DEWP", "PRES"]]


@functools.cache
def _nyc() -> xr.Dataset:
    return datasets.load("nyc_weather", as_="xarray")[["temp", "dewp"]].isel(time=slice(0, 23 * 24))


TRAIN = 21 * 24  # steps used by fit; the rest are for updates


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    long = frame.melt(ignore_index=False, var_name="unique_id", value_name="y")
    return long.rename_axis("ds").reset_index()[["unique_id", "ds", "y"]]


def layout_data(kind: str, start: int = 0, stop: int = TRAIN):
    """The same real data in each input layout, time steps ``start:stop``."""
    if kind in ("series", "wide", "long"):
        frame = _beijing().iloc[start:stop]
        return {"series": frame["TEMP"], "wide": frame, "long": _long(frame)}[kind]
    data = _nyc().isel(time=slice(start, stop))
    return data["temp"] if kind == "dataarray" else data


LAYOUTS = ["series", "wide", "long", "dataarray", "dataset"]


def temp(start: int = 0, stop: int = TRAIN) -> pd.Series:
    return layout_data("series", start, stop)


def _values(output) -> np.ndarray:
    """All forecast numbers of any output layout."""
    if isinstance(output, pd.Series):
        return output.to_numpy()
    if isinstance(output, pd.DataFrame):
        return output.select_dtypes("number").to_numpy()
    if isinstance(output, xr.Dataset):
        return np.stack([v.to_numpy() for v in output.data_vars.values()])
    return output.to_numpy()


# --- the estimator contract ---------------------------------------------------------------


def test_fit_returns_self(make):
    forecaster = make()
    assert forecaster.fit(temp()) is forecaster
    assert forecaster.cutoff_ == temp().index[-1]
    assert forecaster.freq_ == pd.offsets.Hour()


def test_unfitted_forecaster_raises(make):
    forecaster = make()
    for call in (
        lambda: forecaster.predict(),
        lambda: forecaster.predict_quantiles([0.5]),
        lambda: forecaster.update(temp(TRAIN, TRAIN + 5)),
    ):
        with pytest.raises(NotFittedError, match=r"not fitted yet. Call 'fit'"):
            call()


def test_clone_and_params(make):
    forecaster = make()
    params = forecaster.get_params()
    assert params["horizon"] == HORIZON
    fitted = forecaster.fit(temp())
    twin = clone(fitted)
    assert twin.get_params() == params and not hasattr(twin, "cutoff_")
    assert type(twin).__name__ in repr(twin)
    assert len(twin.set_params(horizon=3).fit(temp()).predict()) == 3


def test_same_input_same_forecast(make):
    first = make().fit(temp())
    second = make().fit(temp())
    pd.testing.assert_series_equal(first.predict(), second.predict())
    pd.testing.assert_frame_equal(first.predict_quantiles(LEVELS), second.predict_quantiles(LEVELS))


def test_forecast_index_starts_after_training_data(make):
    forecaster = make().fit(temp())
    forecast = forecaster.predict()
    expected = pd.date_range(temp().index[-1] + pd.Timedelta("1h"), periods=HORIZON, freq="h")
    assert forecast.index.equals(expected) and forecast.index.freq == pd.offsets.Hour()
    assert forecast.name == "TEMP" and forecast.index.name == "time"
    longer = forecaster.predict(horizon=30)
    assert len(longer) == 30 and longer.index[0] == expected[0]


def test_no_nan_out_even_with_missing_values(make):
    y = temp().copy()
    y.iloc[[10, 11, 200, 300]] = np.nan
    y.iloc[-3:] = np.nan  # a sensor that just went down
    forecaster = make().fit(y)
    assert np.isfinite(forecaster.predict(horizon=30).to_numpy()).all()
    assert np.isfinite(forecaster.predict_quantiles(LEVELS, horizon=30).to_numpy()).all()


def test_quantiles_do_not_cross_and_median_is_sensible(make):
    forecaster = make().fit(temp())
    quantiles = forecaster.predict_quantiles(LEVELS, horizon=24)
    assert list(quantiles.columns) == ["q0.9", "q0.05", "q0.5", "q0.1", "q0.95"]
    assert quantiles.index.equals(forecaster.predict(horizon=24).index)
    ordered = quantiles[["q0.05", "q0.1", "q0.5", "q0.9", "q0.95"]].to_numpy()
    assert (np.diff(ordered, axis=1) >= 0).all()
    point = forecaster.predict(horizon=24).to_numpy()
    assert ((ordered[:, 0] <= point) & (point <= ordered[:, -1])).all()
    low, high = temp().min(), temp().max()
    spread = high - low
    assert ((ordered[:, 2] > low - spread) & (ordered[:, 2] < high + spread)).all()
    width = ordered[:, -1] - ordered[:, 0]
    assert width[-1] > 0


@pytest.mark.parametrize("kind", LAYOUTS)
def test_every_layout_in_same_layout_out(make, kind):
    y = layout_data(kind)
    forecaster = make().fit(y)
    forecast = forecaster.predict()
    quantiles = forecaster.predict_quantiles([0.1, 0.5, 0.9])
    assert type(forecast) is type(y)
    assert np.isfinite(_values(forecast)).all() and np.isfinite(_values(quantiles)).all()
    future = pd.date_range(forecaster.cutoff_ + pd.Timedelta("1h"), periods=HORIZON, freq="h")
    if kind == "series":
        assert forecast.name == y.name and forecast.index.equals(future)
        assert list(quantiles.columns) == ["q0.1", "q0.5", "q0.9"]
    elif kind == "wide":
        assert forecast.columns.equals(y.columns) and forecast.index.equals(future)
        assert quantiles.columns.names == [None, "quantile"]
        assert quantiles.columns.get_level_values(0).unique().tolist() == list(y.columns)
    elif kind == "long":
        assert list(forecast.columns) == ["unique_id", "ds", "yhat"]
        assert forecast["unique_id"].unique().tolist() == y["unique_id"].unique().tolist()
        assert (forecast.groupby("unique_id")["ds"].apply(list) == [list(future)] * 3).all()
        assert list(quantiles.columns) == ["unique_id", "ds", "q0.1", "q0.5", "q0.9"]
    else:
        assert (
            forecast.dims == y.dims
            if kind == "dataarray"
            else set(forecast.data_vars) == set(y.data_vars)
        )
        assert pd.DatetimeIndex(forecast["time"].to_numpy()).equals(future)
        np.testing.assert_array_equal(forecast["station"], y["station"])
        assert forecast.attrs == y.attrs
        assert quantiles["quantile"].to_numpy().tolist() == [0.1, 0.5, 0.9]


@pytest.mark.parametrize("kind", ["series", "long", "dataset"])
def test_small_updates_equal_one_large_update(make, kind):
    stop = TRAIN + 48
    once = make().fit(layout_data(kind)).update(layout_data(kind, TRAIN, stop))
    steps = make().fit(layout_data(kind))
    for start in range(TRAIN, stop, 12):
        steps.update(layout_data(kind, start, start + 12))
    last = _nyc()["time"].to_numpy()[stop - 1] if kind == "dataset" else temp(0, stop).index[-1]
    assert once.cutoff_ == steps.cutoff_ == pd.Timestamp(last)
    for a, b in (
        (once.predict(), steps.predict()),
        (once.predict_quantiles([0.2, 0.8]), steps.predict_quantiles([0.2, 0.8])),
    ):
        assert type(a) is type(b)
        np.testing.assert_allclose(_values(a), _values(b), rtol=1e-12)


@pytest.mark.parametrize("kind", ["series", "wide"])
def test_one_row_updates_equal_one_large_update(make, kind):
    # One row at the next timestamp takes the streaming path (cheap checks, no grid
    # building); a block of rows takes the general one. Both must give the same state, to
    # float32 rounding: the same inputs go through the recurrent step compiled for one step
    # and for twelve, which XLA may fuse differently (last units of float32, not more).
    stop = TRAIN + 12
    once = make().fit(layout_data(kind)).update(layout_data(kind, TRAIN, stop))
    rows = make().fit(layout_data(kind))
    for start in range(TRAIN, stop):
        rows.update(layout_data(kind, start, start + 1))
    assert once.cutoff_ == rows.cutoff_ == temp(0, stop).index[-1]
    for a, b in (
        (once.predict(), rows.predict()),
        (once.predict_quantiles(LEVELS), rows.predict_quantiles(LEVELS)),
    ):
        assert type(a) is type(b) and a.index.equals(b.index)
        np.testing.assert_allclose(_values(a), _values(b), rtol=1e-6, atol=1e-5)


def test_update_moves_the_forecast(make):
    forecaster = make().fit(temp()).update(temp(TRAIN, TRAIN + 24))
    assert forecaster.cutoff_ == temp(0, TRAIN + 24).index[-1]
    assert forecaster.predict().index[0] == forecaster.cutoff_ + pd.Timedelta("1h")


def test_update_with_a_gap(make):
    forecaster = make().fit(temp())
    with pytest.warns(MissingTimestampsWarning, match="5 missing"):
        forecaster.update(temp(TRAIN + 5, TRAIN + 24))
    assert forecaster.cutoff_ == temp(0, TRAIN + 24).index[-1]
    assert np.isfinite(forecaster.predict().to_numpy()).all()


def test_update_with_overlapping_or_other_data_raises(make):
    forecaster = make().fit(layout_data("wide"))
    with pytest.raises(ValueError, match="not after the end of the data already seen"):
        forecaster.update(layout_data("wide", TRAIN - 5, TRAIN + 5))
    with pytest.raises(ValueError, match="same columns"):
        forecaster.update(layout_data("wide", TRAIN, TRAIN + 5)[["TEMP", "DEWP"]])
    with pytest.raises(TypeError, match=r"must be a wide pd.DataFrame"):
        forecaster.update(layout_data("series", TRAIN, TRAIN + 5))
    assert forecaster.cutoff_ == temp().index[-1]  # a refused update changes nothing


def test_bad_horizon_raises(make):
    with pytest.raises(ValueError, match=r"'horizon' parameter of .* must be a positive int"):
        make().set_params(horizon=0).fit(temp())
    forecaster = make().fit(temp())
    with pytest.raises(TypeError, match=r"'horizon' argument of .*predict must be a positive int"):
        forecaster.predict(horizon=2.5)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        forecaster.predict_quantiles([0.5, 1.5])


def test_covariates_must_cover_the_same_timestamps(make):
    X = layout_data("wide")[["DEWP", "PRES"]]
    forecaster = make().fit(temp(), X=X)
    with pytest.raises(ValueError, match="must cover the same timestamps"):
        make().fit(temp(), X=X.iloc[:-2])
    future = _beijing().iloc[TRAIN : TRAIN + HORIZON][["DEWP", "PRES"]]
    assert len(forecaster.predict(X=future)) == HORIZON
    with pytest.raises(ValueError, match=r"the forecast covers .* but `X` covers"):
        forecaster.predict(X=future.iloc[1:])


def test_no_warning_on_clean_data(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forecaster = make().fit(temp())
        forecaster.predict_quantiles([0.1, 0.9])
        forecaster.update(temp(TRAIN, TRAIN + 3))
