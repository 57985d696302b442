"""Tests for ssmcast.data: layouts in and out, validation, frequency and gaps, features, scaling."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ssmcast import datasets
from ssmcast.data import (
    Layout,
    MissingTimestampsWarning,
    Scaler,
    align_covariates,
    calendar_feature_names,
    calendar_features,
    check_horizon,
    check_levels,
    fit_scaler,
    future_index,
    infer_freq,
    season_length,
    time_deltas,
    to_panel,
    to_update_panel,
)

# --- real data, small slices ------------------------------------------------------------


@pytest.fixture(scope="module")
def beijing() -> pd.DataFrame:
    return datasets.load("beijing").loc["2014-01-01":"2014-01-14", ["TEMP", "DEWP", "PRES"]]


@pytest.fixture(scope="module")
def nyc() -> xr.Dataset:
    return datasets.load("nyc_weather", as_="xarray")[["temp", "dewp"]].isel(time=slice(0, 200))


def to_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Wide -> long with columns unique_id, ds, y (series in column order)."""
    long = frame.melt(ignore_index=False, var_name="unique_id", value_name="y")
    return long.rename_axis("ds").reset_index()[["unique_id", "ds", "y"]]


def json_round_trip(layout: Layout) -> Layout:
    return Layout.from_dict(json.loads(json.dumps(layout.to_dict())))


# --- round trips ------------------------------------------------------------------------


def test_series_round_trip(beijing):
    y = beijing["TEMP"]
    panel = to_panel(y)
    assert panel.values.shape == (1, len(y), 1)
    assert panel.freq == pd.offsets.Hour() and panel.num_gaps == 0
    pd.testing.assert_series_equal(panel.restore(), y)
    pd.testing.assert_series_equal(
        json_round_trip(panel.layout).restore(panel.values, panel.time), y
    )


@pytest.mark.parametrize("columns", ["channels", "series"])
def test_wide_round_trip(beijing, columns):
    panel = to_panel(beijing, columns=columns)
    expected = (1, len(beijing), 3) if columns == "channels" else (3, len(beijing), 1)
    assert panel.values.shape == expected
    pd.testing.assert_frame_equal(panel.restore(), beijing)
    restored = json_round_trip(panel.layout).restore(panel.values, panel.time)
    pd.testing.assert_frame_equal(restored, beijing)


def test_wide_multiindex_columns_round_trip():
    frame = datasets.load("nyc_weather").iloc[:100, :4]
    frame.columns = frame.columns.str.split("_", n=1, expand=True).rename(["station", "var"])
    panel = to_panel(frame)
    pd.testing.assert_frame_equal(panel.restore(), frame)
    pd.testing.assert_frame_equal(
        json_round_trip(panel.layout).restore(panel.values, panel.time), frame
    )
    quantiles = panel.layout.quantiles(np.zeros((1, 2, 4, 2)), panel.future_index(2), [0.1, 0.9])
    assert quantiles.columns.names == ["station", "var", "quantile"]
    assert quantiles.columns[0] == ("EWR", "temp", "q0.1")


def test_long_round_trip(beijing):
    long = to_long(beijing)
    panel = to_panel(long)
    assert panel.values.shape == (3, len(beijing), 1)
    assert panel.layout.ids.tolist() == ["TEMP", "DEWP", "PRES"]  # order of appearance
    np.testing.assert_array_equal(panel.values[:, :, 0], beijing.to_numpy().T)
    pd.testing.assert_frame_equal(panel.restore(), long)
    pd.testing.assert_frame_equal(
        json_round_trip(panel.layout).restore(panel.values, panel.time), long
    )


def test_long_interleaved_rows_and_integer_ids(beijing):
    long = to_long(beijing).sort_values("ds", kind="stable")  # rows interleaved across series
    long["unique_id"] = long["unique_id"].map({"TEMP": 10, "DEWP": 20, "PRES": 30})
    panel = to_panel(long)
    np.testing.assert_array_equal(panel.values[:, :, 0], beijing.to_numpy().T)
    forecast = panel.layout.forecast(panel.values[:, :2], panel.future_index(2))
    assert forecast["unique_id"].tolist() == [10, 10, 20, 20, 30, 30]
    assert forecast["unique_id"].dtype == long["unique_id"].dtype


def test_long_time_zone_round_trip():
    time = pd.date_range("2024-03-31", periods=4, freq="h", tz="Europe/Berlin")  # DST change
    long = pd.DataFrame({"unique_id": ["a"] * 4 + ["b"] * 4, "ds": [*time, *time], "y": 1.0})
    panel = to_panel(long)
    pd.testing.assert_frame_equal(panel.restore(), long)
    forecast = panel.layout.forecast(np.zeros((2, 2, 1)), panel.future_index(2))
    assert str(forecast["ds"].dt.tz) == "Europe/Berlin"
    assert forecast["ds"].iloc[0] == time[-1] + pd.Timedelta("1h")


def test_long_different_spans_align_on_union(beijing):
    long = to_long(beijing)
    short = long[(long.unique_id != "DEWP") | (long.ds >= "2014-01-05")]
    panel = to_panel(short)
    dewp = panel.values[1, :, 0]
    assert panel.time.equals(beijing.index.rename("ds"))
    assert np.isnan(dewp[:96]).all()
    np.testing.assert_array_equal(dewp[96:], beijing["DEWP"].to_numpy()[96:])


def test_dataarray_round_trip(nyc):
    da = nyc["temp"].transpose("station", "time")
    panel = to_panel(da)
    assert panel.values.shape == (3, 200, 1)
    np.testing.assert_array_equal(panel.values[1, :, 0], da.sel(station="JFK").to_numpy())
    xr.testing.assert_identical(panel.restore(), da)
    xr.testing.assert_identical(json_round_trip(panel.layout).restore(panel.values, panel.time), da)
    assert panel.layout.series_keys == (("EWR",), ("JFK",), ("LGA",))


def test_dataarray_without_series_dims(beijing):
    da = beijing["TEMP"].to_xarray()
    panel = to_panel(da)
    assert panel.values.shape == (1, len(beijing), 1) and panel.layout.series_keys is None
    xr.testing.assert_identical(panel.restore(), da)


def test_dataset_round_trip(nyc):
    panel = to_panel(nyc)
    assert panel.values.shape == (3, 200, 2)
    np.testing.assert_array_equal(panel.values[2, :, 1], nyc["dewp"].sel(station="LGA").to_numpy())
    xr.testing.assert_identical(panel.restore(), nyc)
    xr.testing.assert_identical(
        json_round_trip(panel.layout).restore(panel.values, panel.time), nyc
    )


def test_forecast_outputs_per_layout(beijing, nyc):
    levels = [0.1, 0.5, 0.9]
    cases = {
        "series": beijing["TEMP"],
        "wide": beijing,
        "long": to_long(beijing),
        "dataarray": nyc["temp"],
        "dataset": nyc,
    }
    for kind, y in cases.items():
        panel = to_panel(y)
        future = panel.future_index(4)
        point = panel.layout.forecast(np.zeros((panel.num_series, 4, panel.num_channels)), future)
        quantiles = panel.layout.quantiles(
            np.zeros((panel.num_series, 4, panel.num_channels, 3)), future, levels
        )
        assert type(point) is type(y), kind
        if kind == "series":
            assert point.name == "TEMP" and point.index.equals(future)
            assert list(quantiles.columns) == ["q0.1", "q0.5", "q0.9"]
        elif kind == "wide":
            assert point.columns.equals(beijing.columns)
            assert quantiles.columns.get_level_values("quantile")[:3].tolist() == [
                "q0.1",
                "q0.5",
                "q0.9",
            ]
        elif kind == "long":
            assert list(point.columns) == ["unique_id", "ds", "yhat"]
            assert list(quantiles.columns) == ["unique_id", "ds", "q0.1", "q0.5", "q0.9"]
        else:
            assert pd.DatetimeIndex(point["time"].to_numpy()).equals(pd.DatetimeIndex(future))
            assert quantiles["quantile"].to_numpy().tolist() == levels
            assert dict(quantiles.sizes) == {"time": 4, "station": 3, "quantile": 3}


# --- bad input ----------------------------------------------------------------------------


def _series(values, start="2024-01-01", freq="h", name="temp"):
    return pd.Series(values, pd.date_range(start, periods=len(values), freq=freq), name=name)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: _series([]), ValueError, "`y` is empty"),
        (lambda: [1.0, 2.0], TypeError, "has no timestamps; wrap it"),
        (lambda: np.ones(5), TypeError, "ndarray has no timestamps"),
        (lambda: pd.Series([1.0, 2.0]), TypeError, "must have a DatetimeIndex.*RangeIndex"),
        (
            lambda: pd.Series([1.0, 2.0], pd.period_range("2024", periods=2, freq="D")),
            TypeError,
            "to_timestamp",
        ),
        (lambda: _series(["a", "b", "c"]), TypeError, "series 'temp' has dtype .*pd.to_numeric"),
        (lambda: _series([True, False, True]), TypeError, "must hold numbers"),
        (lambda: _series([1.0, np.inf, 2.0]), ValueError, "1 infinite value.*01:00:00"),
        (lambda: _series([np.nan, np.nan]), ValueError, r"no observed value \(all NaN\)"),
        (
            lambda: pd.Series(
                [1.0, 2.0, 3.0], pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-02"])
            ),
            ValueError,
            "duplicated timestamps.*2024-01-02",
        ),
        (
            lambda: pd.Series(
                [1.0, 2.0, 3.0], pd.DatetimeIndex(["2024-01-01", "2024-01-03", "2024-01-02"])
            ),
            ValueError,
            r"must be sorted by time.*sort_index\(\)",
        ),
        (
            lambda: pd.Series([1.0, 2.0], pd.DatetimeIndex(["2024-01-01", None])),
            ValueError,
            "NaT",
        ),
        (
            lambda: pd.Series(
                [1.0, 2.0, 3.0, 4.0],
                pd.DatetimeIndex(
                    ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:20", "2024-01-01 03:17"]
                ),
            ),
            ValueError,
            "irregular.*pass it, e.g. freq=",
        ),
        (
            lambda: pd.Series([1.0], pd.DatetimeIndex(["2024-01-01"])),
            ValueError,
            "single timestamp.*freq='h'",
        ),
        (lambda: pd.DataFrame(index=pd.date_range("2024", periods=3)), ValueError, "no columns"),
    ],
)
def test_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        to_panel(make())


def test_non_numeric_column_is_named(beijing):
    frame = beijing.assign(wind=["NE"] * len(beijing))
    with pytest.raises(TypeError, match="column 'wind' has dtype"):
        to_panel(frame)


def test_all_nan_column_is_named(beijing):
    with pytest.raises(ValueError, match="column 'DEWP'"):
        to_panel(beijing.assign(DEWP=np.nan))


def test_too_short():
    with pytest.raises(ValueError, match=r"has 3 time step.*at least 10"):
        to_panel(_series([1.0, 2.0, 3.0]), min_length=10)


def test_freq_argument(beijing):
    assert to_panel(beijing["TEMP"].iloc[:1], freq="h").freq == pd.offsets.Hour()
    with pytest.raises(ValueError, match="do not lie on the '2h' grid"):
        to_panel(beijing["TEMP"].iloc[:5], freq="2h")
    with pytest.raises(ValueError, match="frequency alias"):
        to_panel(beijing["TEMP"], freq="every hour")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.assign(ds=f["ds"].astype(str)), "must hold timestamps.*pd.to_datetime"),
        (lambda f: f.drop(columns="ds"), "no time column 'ds'"),
        (lambda f: f.drop(columns="unique_id"), "has no id column 'unique_id'"),
        (
            lambda f: f.iloc[[0, 2, 1, *range(3, len(f))]],
            r"out of order within series 'TEMP'.*sort_values",
        ),
        (
            lambda f: pd.concat([f.iloc[:2], f.iloc[1:]]),
            "duplicated timestamps within series 'TEMP'",
        ),
        (lambda f: f[["unique_id", "ds"]], "no value column"),
    ],
)
def test_bad_long_frames(beijing, change, match):
    with pytest.raises((TypeError, ValueError), match=match):
        to_panel(change(to_long(beijing)))


def test_bad_xarray(nyc):
    with pytest.raises(ValueError, match="must have a 'time' dimension"):
        to_panel(nyc["temp"].rename(time="t"))
    with pytest.raises(TypeError, match="without timestamps"):
        to_panel(nyc["temp"].drop_vars("time"))
    mixed = nyc.assign(height=nyc["temp"].isel(station=0, drop=True))
    with pytest.raises(ValueError, match="'height' has"):
        to_panel(mixed)
    assert to_panel(nyc["temp"].rename(time="t"), time_dim="t").num_timesteps == 200


@pytest.mark.parametrize(
    ("horizon", "error"),
    [
        (0, ValueError),
        (-3, ValueError),
        (2.5, TypeError),
        (24.0, TypeError),
        (True, TypeError),
        ("24", TypeError),
    ],
)
def test_check_horizon(horizon, error):
    with pytest.raises(error, match="'horizon' parameter of Naive must be a positive int"):
        check_horizon(horizon, "Naive")


@pytest.mark.parametrize(
    ("levels", "error", "match"),
    [
        ([0.1, 1.0], ValueError, r"strictly between 0 and 1.*\[1.0\]"),
        ([0.0, 0.5], ValueError, "strictly between 0 and 1"),
        ([10, 50, 90], ValueError, "use fractions"),
        (0.5, TypeError, "must be a list of floats"),
        ("0.5", TypeError, "must be a list of floats"),
        (["a"], TypeError, "non-numbers"),
        ([], ValueError, "non-empty"),
        ([0.5, 0.5], ValueError, "distinct"),
    ],
)
def test_check_levels(levels, error, match):
    with pytest.raises(error, match=match):
        check_levels(levels)


def test_check_levels_keeps_order():
    assert check_levels(np.array([0.9, 0.1])) == (0.9, 0.1)


# --- update -------------------------------------------------------------------------------


def test_update_panel(beijing):
    fitted = to_panel(beijing.iloc[:100])
    kwargs = {"layout": fitted.layout, "cutoff": fitted.cutoff, "freq": fitted.freq}
    new = to_update_panel(beijing.iloc[100:110][["PRES", "TEMP", "DEWP"]], **kwargs)
    np.testing.assert_array_equal(new.values[0], beijing.iloc[100:110].to_numpy())
    with pytest.warns(MissingTimestampsWarning, match="3 missing timestamp"):
        gap = to_update_panel(beijing.iloc[103:110], **kwargs)
    assert gap.time[0] == fitted.cutoff + pd.Timedelta("1h") and gap.num_gaps == 3
    assert np.isnan(gap.values[0, :3]).all()


@pytest.mark.parametrize(
    ("new", "error", "match"),
    [
        (lambda b: b.iloc[99:110], ValueError, "not after the end of the data already seen"),
        (lambda b: b.iloc[100:110, :2], ValueError, "same columns.*missing \\['PRES'\\]"),
        (lambda b: b.iloc[100:110].assign(RH=1.0), ValueError, "same columns.*new \\['RH'\\]"),
        (lambda b: b.iloc[100:110]["TEMP"], TypeError, "must be a wide pd.DataFrame"),
        (
            lambda b: b.iloc[100:110].set_axis(b.index[100:110] + pd.Timedelta("30min")),
            ValueError,
            "lie off it",
        ),
    ],
)
def test_bad_update(beijing, new, error, match):
    fitted = to_panel(beijing.iloc[:100])
    with pytest.raises(error, match=match):
        to_update_panel(new(beijing), layout=fitted.layout, cutoff=fitted.cutoff, freq=fitted.freq)


def test_bad_update_long_and_xarray(beijing, nyc):
    long = to_long(beijing)
    fitted = to_panel(long[long.ds < "2014-01-10"])
    later = long[long.ds >= "2014-01-10"]
    with pytest.raises(ValueError, match=r"same series ids.*missing \['PRES'\]"):
        to_update_panel(
            later[later.unique_id != "PRES"], layout=fitted.layout, cutoff=fitted.cutoff, freq="h"
        )
    # one series ends earlier than the others: refused, not padded with NaN
    ragged = later[(later.unique_id != "DEWP") | (later.ds < "2014-01-11")]
    with pytest.raises(ValueError, match=r"the series \['DEWP'\] end before"):
        to_update_panel(ragged, layout=fitted.layout, cutoff=fitted.cutoff, freq="h")
    # rows with NaN for the values not yet known are the fix, and they are missing values
    held = later.assign(y=later.y.where((later.unique_id != "DEWP") | (later.ds < "2014-01-11")))
    panel = to_update_panel(held, layout=fitted.layout, cutoff=fitted.cutoff, freq="h")
    assert np.isnan(panel.values[list(fitted.layout.ids).index("DEWP"), -1]).all()
    full = datasets.load("nyc_weather", as_="xarray")[["temp", "dewp"]].isel(time=slice(0, 210))
    fitted = to_panel(nyc)
    kwargs = {"layout": fitted.layout, "cutoff": fitted.cutoff, "freq": "h"}
    renamed = full.isel(time=slice(200, 210)).assign_coords(station=["A", "B", "C"])
    with pytest.raises(ValueError, match="other 'station' coordinates"):
        to_update_panel(renamed, **kwargs)
    with pytest.raises(ValueError, match="same data variables"):
        to_update_panel(full[["temp"]].isel(time=slice(200, 210)), **kwargs)


def test_update_series_name():
    y = _series(np.arange(10.0))
    fitted = to_panel(y[:5])
    kwargs = {"layout": fitted.layout, "cutoff": fitted.cutoff, "freq": "h"}
    assert to_update_panel(y[5:].rename(None), **kwargs).num_timesteps == 5
    with pytest.raises(ValueError, match=r"is the series 'rain'.*'temp'"):
        to_update_panel(y[5:].rename("rain"), **kwargs)


# --- covariates ---------------------------------------------------------------------------


def test_align_covariates(beijing):
    y = to_panel(beijing[["TEMP"]])
    X = beijing[["DEWP", "PRES"]]
    assert align_covariates(X, layout=y.layout, time=y.time).shape == (1, len(beijing), 2)
    with pytest.raises(
        ValueError, match=r"`y` covers .*\(336 steps\) but `X` covers .*\(334 steps\)"
    ):
        align_covariates(X.iloc[2:], layout=y.layout, time=y.time)
    long = to_panel(to_long(beijing))
    X_long = to_long(beijing).iloc[::-1].sort_values(["unique_id", "ds"])  # other series order
    X_long = X_long.rename(columns={"y": "x"})
    aligned = align_covariates(X_long, layout=long.layout, time=long.time)
    np.testing.assert_array_equal(aligned, long.values)
    with pytest.raises(ValueError, match="has series"):
        align_covariates(X_long[X_long.unique_id != "PRES"], layout=long.layout, time=long.time)


# --- frequency and gaps -------------------------------------------------------------------


def test_gaps_become_nan_rows(beijing):
    y = beijing["TEMP"].drop(beijing.index[[5, 6, 50]])
    with pytest.warns(MissingTimestampsWarning, match="3 missing timestamp"):
        panel = to_panel(y)
    assert panel.num_gaps == 3 and panel.time.equals(beijing.index)
    assert np.isnan(panel.values[0, [5, 6, 50], 0]).all()
    np.testing.assert_array_equal(np.delete(panel.values[0, :, 0], [5, 6, 50]), y.to_numpy())


def test_gaps_on_calendar_grids():
    co2 = datasets.load("co2")["co2"]
    assert to_panel(co2).freq.freqstr == "W-SAT"
    with pytest.warns(MissingTimestampsWarning, match="59 missing"):
        assert to_panel(co2.dropna()).num_gaps == 59
    monthly = pd.Series(
        1.0, pd.DatetimeIndex(["2020-01-31", "2020-02-29", "2020-04-30", "2020-05-31"])
    )
    with pytest.warns(MissingTimestampsWarning):
        panel = to_panel(monthly)
    assert panel.freq.freqstr == "ME" and panel.num_gaps == 1


def test_infer_freq_real_data():
    sst = datasets.load("sea_temperature")["temperature"].dropna()
    time = pd.DatetimeIndex(sst.index.to_numpy())  # no freq attribute, 24 gaps
    assert infer_freq(time) == pd.offsets.Minute(30)
    assert infer_freq(datasets.load("seattle_weather").index) == pd.offsets.Day()


def test_season_length_table():
    expected = {
        "h": 24,
        "30min": 48,
        "10min": 144,
        "15min": 96,
        "2h": 12,
        "7h": 1,
        "D": 7,
        "B": 5,
        "2D": 1,
        "W-SAT": 52,
        "7D": 52,
        "MS": 12,
        "ME": 12,
        "QS": 4,
        "3MS": 4,
        "YS": 1,
    }
    assert {freq: season_length(freq) for freq in expected} == expected


def test_future_index():
    assert future_index(pd.Timestamp("2024-01-31"), "ME", 2).tolist() == [
        pd.Timestamp("2024-02-29"),
        pd.Timestamp("2024-03-31"),
    ]
    tz = future_index(pd.Timestamp("2024-03-31 00:00", tz="Europe/Berlin"), "h", 3)
    assert str(tz.tz) == "Europe/Berlin" and tz.freq == pd.offsets.Hour()
    with pytest.raises(ValueError, match="positive int"):
        future_index(pd.Timestamp("2024-01-01"), "h", 0)


# --- features -----------------------------------------------------------------------------


def test_calendar_features_on_real_timestamps():
    time = datasets.load("beijing").index[: 24 * 400]
    feats = calendar_features(time)
    assert feats.names == calendar_feature_names("h") and feats.values.shape == (len(time), 6)
    assert np.abs(feats.values).max() <= 1.0
    hour = time.hour.to_numpy()
    np.testing.assert_allclose(feats.values[:, 0], np.sin(2 * np.pi * hour / 24), atol=1e-12)
    np.testing.assert_allclose(feats.values[:, 1], np.cos(2 * np.pi * hour / 24), atol=1e-12)
    # day of week: same phase one week apart, different one day apart
    np.testing.assert_allclose(feats.values[168:, 2:4], feats.values[:-168, 2:4], atol=1e-12)
    assert not np.allclose(feats.values[24:48, 2], feats.values[:24, 2])
    # day of year: 2010 is not a leap year, so one year later the phase is the same
    np.testing.assert_allclose(feats.values[24 * 365, 4:], feats.values[0, 4:], atol=1e-12)
    daily = calendar_features(datasets.load("seattle_weather").index)
    assert daily.names == ("dow_sin", "dow_cos", "doy_sin", "doy_cos")
    assert calendar_feature_names("W-SAT") == ("doy_sin", "doy_cos")
    assert calendar_feature_names("YS") == ()
    assert calendar_features(pd.date_range("2000", periods=3, freq="YS")).values.shape == (3, 0)


def test_time_deltas_on_real_timestamps():
    sst = datasets.load("sea_temperature")["temperature"].dropna()
    time = pd.DatetimeIndex(sst.index.to_numpy())
    dt = time_deltas(time, "30min")
    assert dt[0] == 1.0 and dt.sum() == len(time) + 24  # 24 missing half-hours
    expected = np.diff(time.to_numpy()) / np.timedelta64(30, "m")
    np.testing.assert_array_equal(dt[1:], expected)
    assert (to_panel(datasets.load("beijing")["TEMP"]).dt() == 1).all()
    months = pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-05-01"])
    assert time_deltas(months, "MS").tolist() == [1.0, 1.0, 3.0]
    off_grid = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:30"])
    assert time_deltas(off_grid, "h").tolist() == [1.0, 1.5]


# --- scaling ------------------------------------------------------------------------------


def test_scaler(beijing):
    frame = beijing.assign(DEWP=beijing["DEWP"].where(beijing.index.day > 2))
    panel = to_panel(frame)
    scaler = fit_scaler(panel.values)
    np.testing.assert_allclose(scaler.mean[0], frame.mean().to_numpy())
    np.testing.assert_allclose(scaler.std[0], frame.std(ddof=0).to_numpy())
    scaled = scaler.transform(panel.values)
    np.testing.assert_allclose(np.nanmean(scaled, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(scaled, axis=1), 1.0)
    assert np.isnan(scaled[0, :48, 1]).all()
    loaded = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_allclose(loaded.inverse_transform(scaled), panel.values, atol=1e-12)
    quantiles = np.stack([scaled, scaled + 1.0], axis=-1)
    np.testing.assert_allclose(
        loaded.inverse_transform(quantiles)[..., 0], panel.values, atol=1e-12
    )


def test_scaler_constant_and_bad_input():
    constant = fit_scaler(np.full((2, 5, 1), [[[0.0]], [[250.0]]]))
    assert constant.std.ravel().tolist() == [1.0, 250.0]
    assert np.isfinite(constant.transform(np.ones((2, 3, 1)))).all()
    single = fit_scaler(np.array([[[np.nan], [3.0]]]))
    assert single.std.item() == 3.0
    with pytest.raises(ValueError, match="no"):
        fit_scaler(np.full((1, 3, 1), np.nan))
    with pytest.raises(ValueError, match="expects a dict with the keys"):
        Scaler.from_dict({"mean": [[1.0]]})
    with pytest.raises(ValueError, match="lower <= upper"):
        Scaler.from_dict({"mean": [[1.0]], "std": [[1.0]], "lower": [[2.0]], "upper": [[1.0]]})
    with pytest.raises(ValueError, match="positive 'std'"):
        Scaler.from_dict({"mean": [[1.0]], "std": [[0.0]]})


def test_robust_scaler_matches_a_per_series_reference_and_resists_one_outlier(beijing):
    temp = beijing[["TEMP", "DEWP"]].to_numpy(float).T[..., None].copy()  # 2 series
    temp[1, ::7] = np.nan
    clean = fit_scaler(temp, clip=20.0)
    # no value is that far out: exactly the plain statistics, no value clipped
    plain = fit_scaler(temp)
    np.testing.assert_array_equal(clean.mean, plain.mean)
    np.testing.assert_array_equal(clean.std, plain.std)
    assert clean.num_clipped(temp).sum() == 0
    spiky = temp.copy()
    spiky[0, 100, 0], spiky[1, 201, 0] = 1e9, -1e7
    robust = fit_scaler(spiky, clip=20.0)
    for s in range(2):  # the reference: median and IQR/1.349 per series, a winsorised mean/std
        v = spiky[s, :, 0][~np.isnan(spiky[s, :, 0])]
        q1, median, q3 = np.percentile(v, [25, 50, 75])
        reach = 20.0 * (q3 - q1) / 1.3489795
        w = v[(v >= median - reach) & (v <= median + reach)]
        np.testing.assert_allclose([robust.lower[s, 0], robust.upper[s, 0]],
                                   [median - reach, median + reach])  # fmt: skip
        np.testing.assert_allclose([robust.mean[s, 0], robust.std[s, 0]], [w.mean(), w.std()])
        # the outlier barely moves the statistics
        np.testing.assert_allclose(robust.std[s, 0], plain.std[s, 0], rtol=1e-3)
    assert robust.num_clipped(spiky).ravel().tolist() == [1, 1]
    scaled = robust.transform(spiky)
    assert np.nanmax(np.abs(scaled)) < 40 and np.isnan(scaled[1, ::7]).all()
    back = Scaler.from_dict(json.loads(json.dumps(robust.to_dict())))
    np.testing.assert_array_equal(back.transform(spiky), scaled)
    # a series that is mostly one value (rain) falls back on wider quantile ranges
    rain = np.zeros((1, 1000, 1))
    rain[0, ::10, 0] = np.arange(100.0)
    assert np.isfinite(fit_scaler(rain, clip=20.0).upper).all()
    # all one value but a glitch: no spread to judge by, so nothing is clipped
    flat = np.full((1, 500, 1), 3.0)
    flat[0, 7, 0] = 1e6
    assert not fit_scaler(flat, clip=20.0).clips


def test_layout_from_dict_refuses_garbage():
    with pytest.raises(ValueError, match=r"Layout.from_dict expects"):
        Layout.from_dict({"kind": "pickle"})
    with pytest.raises(ValueError, match="corrupted 'wide' layout"):
        Layout.from_dict({"kind": "wide", "columns": 3})


def test_no_warning_without_gaps(beijing):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_panel(beijing)


def test_complex_values_are_refused_not_cut_to_their_real_part():
    time = pd.date_range("2024-01-01", periods=6, freq="h")
    values = np.arange(6) + 1j * np.arange(6)
    cases = [
        pd.Series(values, time, name="z"),
        pd.DataFrame({"a": np.arange(6.0), "z": values}, index=time),
        xr.DataArray(values, coords={"time": time}, dims="time", name="z"),
    ]
    for y in cases:
        with pytest.raises(TypeError, match=r"real numbers.*complex dtype.*\.real"):
            to_panel(y)
    y = to_panel(pd.Series(np.arange(6.0), time))
    with pytest.raises(TypeError, match=r"`X` must hold real numbers"):
        align_covariates(pd.DataFrame({"x": values}, index=time), layout=y.layout, time=y.time)


def test_time_zone_mismatches_are_refused_and_other_zones_read_as_instants():
    time = pd.date_range("2024-01-01", periods=48, freq="h")
    naive = to_panel(pd.Series(np.arange(48.0), time))
    aware = to_panel(pd.Series(np.arange(48.0), time.tz_localize("UTC")))
    later = pd.date_range("2024-01-03", periods=2, freq="h")
    with pytest.raises(ValueError, match=r"`y_new` has timestamps in the time zone UTC, but"):
        to_update_panel(
            pd.Series([1.0, 2.0], later.tz_localize("UTC")),
            layout=naive.layout,
            cutoff=naive.cutoff,
            freq="h",
        )
    with pytest.raises(ValueError, match=r"without a time zone, but .*tz_localize\('UTC'\)"):
        to_update_panel(
            pd.Series([1.0, 2.0], later), layout=aware.layout, cutoff=aware.cutoff, freq="h"
        )
    # another zone names the same instants: read on the fitted clock
    tokyo = later.tz_localize("UTC").tz_convert("Asia/Tokyo")
    panel = to_update_panel(
        pd.Series([1.0, 2.0], tokyo), layout=aware.layout, cutoff=aware.cutoff, freq="h"
    )
    assert str(panel.time.tz) == "UTC" and panel.time[0] == pd.Timestamp("2024-01-03", tz="UTC")
    X = pd.DataFrame({"a": np.arange(48.0)}, index=time.tz_localize("UTC"))
    with pytest.raises(ValueError, match=r"`X` has timestamps in the time zone UTC"):
        align_covariates(X, layout=naive.layout, time=naive.time)
