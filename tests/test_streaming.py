"""The lean streaming path: one new row through ``update`` + ``predict``.

The fast pieces are checked against independent references: calendar features and
climatology positions against pandas' field accessors, the one-row panel against the
general conversion, cached baseline quantiles against a fresh computation, and the cached
jit arguments against the compile cache they must keep sharing.
"""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pandas as pd
import pytest

from ssmcast import SSMForecaster, datasets
from ssmcast.baselines import Climatology, Naive, SeasonalNaive
from ssmcast.baselines._base import _OFFSETS
from ssmcast.baselines._climatology import _positions
from ssmcast.baselines._residuals import residual_quantiles
from ssmcast.data import (
    MissingTimestampsWarning,
    calendar_features,
    future_index,
    to_panel,
    to_update_panel,
)
from ssmcast.data import _frequency as frequency_module
from ssmcast.data import _panel as panel_module
from ssmcast.data._frequency import next_timestamp
from ssmcast.models import _inference

TINY = dict(
    d_model=4,
    num_layers=1,
    max_epochs=1,
    batch_size=2,
    segment_length=32,
    ensemble_size=1,
    random_state=0,
    progress=False,
)


def _random_times(seed: int, tz: str | None, unit: str) -> pd.DatetimeIndex:
    """Timestamps from 1900 to 2100 (before and after 1970), at any second."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(-2_208_988_800, 4_102_444_800, 3000)
    time = pd.DatetimeIndex(seconds.astype("M8[s]")).as_unit(unit)
    return time.tz_localize("UTC").tz_convert(tz) if tz else time


def _pandas_calendar(time: pd.DatetimeIndex) -> np.ndarray:
    """The calendar features from pandas' hour/minute/second/day fields (the reference)."""
    day = (time.hour.to_numpy() + time.minute.to_numpy() / 60 + time.second.to_numpy() / 3600) / 24
    phases = [
        day,
        (time.day_of_week.to_numpy() + day) / 7,
        (time.day_of_year.to_numpy() - 1 + day) / np.where(time.is_leap_year, 366.0, 365.0),
    ]
    columns = []
    for phase in phases:
        columns += [np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase)]
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("tz", [None, "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("unit", ["s", "ns"])
def test_calendar_features_match_pandas_fields(tz, unit):
    time = _random_times(0, tz, unit)
    features = calendar_features(time, "h")
    np.testing.assert_allclose(features.values, _pandas_calendar(time), rtol=0, atol=1e-12)
    one = calendar_features(time[:1], "h").values
    np.testing.assert_array_equal(one, features.values[:1])


@pytest.mark.parametrize("unit", ["s", "ns"])
@pytest.mark.parametrize(
    "slot", [None, pd.Timedelta(hours=1), pd.Timedelta(minutes=30), pd.Timedelta(minutes=10)]
)
def test_climatology_positions_match_pandas_fields(unit, slot):
    time = _random_times(1, None, unit)
    slots, day = _positions(slot, time)
    expected = 0 if slot is None else np.asarray((time - time.normalize()) // slot, dtype=int)
    np.testing.assert_array_equal(slots, np.zeros(len(time), int) + expected)
    np.testing.assert_array_equal(day, time.day_of_year.to_numpy() - 1)


def _frames():
    frame = datasets.load("beijing").loc["2014-01-01":"2014-01-10", ["TEMP", "DEWP", "PRES"]]
    return frame.iloc[:-1], frame.iloc[-1:]


def _general(y_new, layout, cutoff, freq, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(panel_module, "_next_step", lambda *args: None)
        return to_update_panel(y_new, layout=layout, cutoff=cutoff, freq=freq)


@pytest.mark.parametrize(
    "case", ["series", "series int", "series nan", "unnamed", "wide", "wide series", "wide nan"]
)
def test_the_one_row_panel_equals_the_general_conversion(case, monkeypatch):
    history, row = _frames()
    columns = "series" if case == "wide series" else "channels"
    if case.startswith("series") or case == "unnamed":
        history, row = history["TEMP"], row["TEMP"]
        if case == "series int":
            row = row.round().astype(int)
        elif case == "series nan":
            row = row * np.nan
        elif case == "unnamed":
            row = row.rename(None)
    elif case == "wide nan":
        row = row.assign(DEWP=np.nan)
    fitted = to_panel(history, columns=columns)
    fast = to_update_panel(row, layout=fitted.layout, cutoff=fitted.cutoff, freq="h")
    assert panel_module._next_step(row, fitted.layout, fitted.cutoff, fitted.freq) is not None
    slow = _general(row, fitted.layout, fitted.cutoff, "h", monkeypatch)
    np.testing.assert_array_equal(fast.values, slow.values)
    assert fast.time.equals(slow.time) and fast.time.name == slow.time.name
    assert (fast.freq, fast.num_gaps, fast.layout) == (slow.freq, slow.num_gaps, slow.layout)


def test_rows_off_the_streaming_case_take_the_general_path_and_its_checks():
    history, row = _frames()
    fitted = to_panel(history)
    layout, cutoff = fitted.layout, fitted.cutoff

    def fast(y):
        return panel_module._next_step(y, layout, cutoff, fitted.freq)

    later = row.set_axis(row.index + pd.Timedelta(hours=2))
    reordered = row[["DEWP", "TEMP", "PRES"]]
    infinite = row.assign(TEMP=np.inf)
    text = row.astype(str)
    for y in (later, reordered, infinite, text, history.iloc[-1:]):
        assert fast(y) is None
    with pytest.warns(MissingTimestampsWarning, match="2 missing"):
        gap = to_update_panel(later, layout=layout, cutoff=cutoff, freq="h")
    assert gap.num_timesteps == 3 and np.isnan(gap.values[0, :2]).all()
    moved = to_update_panel(reordered, layout=layout, cutoff=cutoff, freq="h")
    np.testing.assert_array_equal(moved.values, row.to_numpy()[None])  # back in fitted order
    with pytest.raises(ValueError, match="infinite value"):
        to_update_panel(infinite, layout=layout, cutoff=cutoff, freq="h")
    with pytest.raises((TypeError, ValueError), match="TEMP"):
        to_update_panel(text, layout=layout, cutoff=cutoff, freq="h")
    with pytest.raises(ValueError, match="not after the end"):
        to_update_panel(history.iloc[-1:], layout=layout, cutoff=cutoff, freq="h")
    zoned = row.tz_localize("Asia/Shanghai")  # zone-aware rows for a naive fit
    assert fast(zoned) is None
    with pytest.raises(ValueError, match="in the time zone Asia/Shanghai"):
        to_update_panel(zoned, layout=layout, cutoff=cutoff, freq="h")


def _date_range_after(cutoff, freq, horizon, name):
    """The future index as pandas builds it (the reference of the cached grid)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    index = pd.date_range(cutoff + offset, periods=horizon, freq=offset, name=name)
    return index.as_unit(cutoff.unit)


@pytest.mark.parametrize(
    "freq, tz, unit",
    [
        ("h", None, "ns"),
        ("h", "Europe/Berlin", "s"),  # across both changes of the clock
        ("15min", "America/New_York", "ns"),
        ("D", "Europe/Berlin", "ns"),
        ("MS", None, "s"),
        ("ME", "Europe/Berlin", "ns"),
        ("W-SUN", None, "ns"),
        ("B", None, "ns"),
    ],
)
def test_the_cached_future_grid_is_pandas_date_range(freq, tz, unit, monkeypatch):
    # a stream walks its cutoff step by step over 2024 and past the end of the cached grid
    # (made short here); every future index and next timestamp must be pandas' own
    monkeypatch.setattr(frequency_module, "_GRID_STEPS", 16)
    monkeypatch.setattr(frequency_module, "_GRIDS", {})
    offset = pd.tseries.frequencies.to_offset(freq)
    start = pd.Timestamp("2024-01-01", tz=tz).as_unit(unit)
    steps = pd.date_range(offset.rollforward(start), periods=400, freq=offset)
    for i, cutoff in enumerate(steps.as_unit(unit)):
        horizon = 1 + i % 30
        got = future_index(cutoff, freq, horizon, name="time")
        expected = _date_range_after(cutoff, freq, horizon, "time")
        pd.testing.assert_index_equal(got, expected, exact=True)
        assert got.freq == expected.freq and got.name == "time"
        assert next_timestamp(cutoff, offset) == expected.asi8[0]
    # a cutoff off an anchored grid rolls forward, as pandas does
    mid = pd.Timestamp("2024-01-15", tz=tz).as_unit(unit)
    pd.testing.assert_index_equal(
        future_index(mid, "MS", 3), _date_range_after(mid, "MS", 3, None), exact=True
    )
    assert next_timestamp(mid, pd.offsets.MonthBegin()) is None


@pytest.mark.parametrize("cls", [Naive, SeasonalNaive, Climatology])
def test_baseline_quantiles_are_computed_once_per_fit_and_stay_right(cls):
    temp = datasets.load("beijing")["TEMP"].loc["2014-01-01":"2014-01-20"]
    f = cls(horizon=6).fit(temp.iloc[:-24])
    levels = [0.1, 0.5, 0.9]
    first = f.predict_quantiles(levels)
    for i in range(24):  # a stream of one-row updates, each followed by a quantile forecast
        f.update(temp.iloc[-24 + i : len(temp) - 23 + i])
        streamed = f.predict_quantiles(levels).to_numpy()
    state = f.fitted_.state
    offsets = residual_quantiles(state.history, f._insample(state), 6, levels)
    expected = f.predict().to_numpy()[:, None] + offsets[0, :, 0]
    np.testing.assert_allclose(streamed, expected, rtol=1e-12)
    assert first.to_numpy().shape == streamed.shape
    key = id(state.history)
    entry = _OFFSETS[key][1]
    assert len(entry) == 1 and not next(iter(entry.values())).flags.writeable
    del f, state, entry
    gc.collect()
    assert key not in _OFFSETS  # a fit that is gone leaves no entry


def test_jit_arguments_are_cached_per_fit_and_share_compiled_programs():
    temp = datasets.load("beijing")["TEMP"].loc["2014-01-01":"2014-01-12"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = SSMForecaster("s5", 6, **TINY).fit(temp.iloc[:-2])
        b = SSMForecaster("s5", 6, **{**TINY, "random_state": 1}).fit(temp.iloc[:-2])
    a.update(temp.iloc[-2:-1])
    compiled = _inference._ensemble_advance._cache_size()
    b.update(temp.iloc[-2:-1])  # another fit of the same shape: no new program
    assert _inference._ensemble_advance._cache_size() == compiled
    params = a.fitted_.state.params
    static, leaves = _inference._flat(a.fitted_.state.graphdef, params)
    assert _inference._flat(a.fitted_.state.graphdef, params)[0] is static  # cached
    assert static == _inference._flat(b.fitted_.state.graphdef, b.fitted_.state.params)[0]
    key = id(params)
    del a, params, static, leaves
    gc.collect()
    assert key not in _inference._FLAT  # dropped with its parameters
