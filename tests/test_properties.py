"""Property-based tests of the data layer: what goes in comes back, nothing dropped or moved.

Hypothesis draws random layouts (a Series, a wide frame, a long frame, a DataArray), lengths,
frequencies, time zones, dtypes, missing values and missing timestamps. For each, the panel
must rebuild exactly the input on the regular grid (the missing timestamps as NaN rows), and
data with repeated or unsorted timestamps, or complex values, must be refused.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssmcast.data import to_covariates, to_panel

FREQS = ("h", "30min", "D", "10min")
ZONES = (None, "UTC", "Asia/Tokyo")  # no daylight saving: every grid step is one `freq`
# derandomize: the same examples on every run, so a failure is reproducible and CI is stable
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def series_data(draw, *, min_length=3, max_length=40):
    """A regular grid, values with NaN, and the positions of missing timestamps."""
    length = draw(st.integers(min_length, max_length))
    freq = draw(st.sampled_from(FREQS))
    zone = draw(st.sampled_from(ZONES))
    start = pd.Timestamp("2020-01-01") + pd.Timedelta(hours=draw(st.integers(0, 10_000)))
    time = pd.date_range(start, periods=length, freq=freq, tz=zone)
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    values = np.asarray(
        draw(st.lists(st.integers(-1000, 1000), min_size=length, max_size=length)), dtype
    )
    if dtype != np.int64:
        missing = draw(st.lists(st.booleans(), min_size=length, max_size=length))
        missing[0] = False  # an all-NaN series is refused (tested elsewhere)
        values[np.asarray(missing)] = np.nan
    # timestamps dropped from the inside (the first and last stay: they fix the grid)
    dropped = draw(st.sets(st.integers(1, length - 2), max_size=length // 3))
    keep = np.setdiff1d(np.arange(length), sorted(dropped))
    return time, values, keep


def _panel(y, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MissingTimestampsWarning: expected here
        return to_panel(y, **options)


def _expected(time, values, keep):
    full = np.full(len(time), np.nan)
    full[keep] = values[keep].astype(np.float64)
    return full


@SETTINGS
@given(series_data(), st.sampled_from(["temp", None, 3]))
def test_a_series_comes_back_on_its_grid(data, name):
    time, values, keep = data
    y = pd.Series(values[keep], index=time[keep], name=name)
    panel = _panel(y, freq=time.freq)
    back = panel.restore()
    assert isinstance(back, pd.Series) and back.name == name
    assert back.index.equals(time) and back.index.tz == time.tz
    np.testing.assert_array_equal(back.to_numpy(), _expected(time, values, keep))
    assert panel.num_gaps == len(time) - len(keep)


@SETTINGS
@given(
    series_data(),
    st.lists(st.text("abcxyz", min_size=1, max_size=4), min_size=1, max_size=4, unique=True),
)
def test_a_wide_frame_keeps_its_columns_in_order(data, columns):
    time, values, keep = data
    rng = np.random.default_rng(len(columns))
    block = np.stack([values * (i + 1) for i in range(len(columns))], axis=1)
    holes = rng.random(block.shape) < 0.1
    holes[0] = False  # the first row stays observed: an all-NaN column is refused
    block = np.where(holes, np.nan, block.astype(np.float64))
    y = pd.DataFrame(block[keep], index=time[keep], columns=columns)
    back = _panel(y, freq=time.freq).restore()
    assert list(back.columns) == columns and back.index.equals(time)
    expected = np.full(block.shape, np.nan)
    expected[keep] = block[keep]
    np.testing.assert_array_equal(back.to_numpy(), expected)


@SETTINGS
@given(
    series_data(),
    st.lists(st.sampled_from(["s1", "s2", "s3", "s4"]), min_size=1, max_size=3, unique=True),
)
def test_a_long_frame_keeps_every_row_of_every_series(data, ids):
    time, values, keep = data
    rows = []
    for k, sid in enumerate(ids):
        for i in keep:
            rows.append({"unique_id": sid, "ds": time[i], "y": float(values[i]) + 10 * k})
    y = pd.DataFrame(rows)
    back = _panel(y, freq=time.freq).restore()
    # every input row comes back with its value; the rest are the gaps, as NaN
    merged = back.merge(
        y.assign(present=True), on=["unique_id", "ds"], how="left", suffixes=("", "_in")
    )
    present = merged["present"].eq(True)
    assert present.sum() == len(y) and len(merged) == len(back)
    np.testing.assert_array_equal(
        merged.loc[present, "y"].to_numpy(), merged.loc[present, "y_in"].to_numpy()
    )
    assert merged.loc[~present, "y"].isna().all()
    assert list(back["unique_id"].unique()) == ids  # series in the order they came


@SETTINGS
@given(series_data())
def test_a_dataarray_comes_back_with_its_name_and_grid(data):
    time, values, keep = data
    y = xr.DataArray(
        values[keep].astype(np.float64), coords={"time": time[keep]}, dims="time", name="v"
    )
    back = _panel(y, freq=time.freq).restore()
    assert back.name == "v"
    assert pd.DatetimeIndex(back["time"].to_numpy()).equals(time.tz_localize(None)) or (
        pd.DatetimeIndex(back.indexes["time"]).equals(time)
    )
    np.testing.assert_array_equal(back.to_numpy(), _expected(time, values, keep))


@SETTINGS
@given(series_data(min_length=4), st.data())
def test_repeated_or_unsorted_timestamps_are_refused(data, draw):
    time, values, keep = data
    stamps = list(time[keep])
    i = draw.draw(st.integers(1, len(stamps) - 1))
    if draw.draw(st.booleans()):
        stamps[i] = stamps[i - 1]  # a repeat
    else:
        stamps[i - 1], stamps[i] = stamps[i], stamps[i - 1]  # out of order
    y = pd.Series(values[keep].astype(np.float64), index=pd.DatetimeIndex(stamps))
    with pytest.raises(ValueError):
        _panel(y, freq=time.freq)


@SETTINGS
@given(series_data())
def test_complex_values_are_refused(data):
    time, values, keep = data
    y = pd.Series(values[keep] + 1j, index=time[keep])
    with pytest.raises(TypeError, match="complex"):
        _panel(y, freq=time.freq)


@SETTINGS
@given(st.permutations(["a", "b", "c", "d"]))
def test_covariates_are_matched_by_name_in_any_order(order):
    time = pd.date_range("2024-01-01", periods=5, freq="h")
    target = _panel(pd.Series(np.arange(5.0), time))
    X = pd.DataFrame({name: np.full(5, float(ord(name))) for name in order}, index=time)
    aligned = to_covariates(X, layout=target.layout, time=target.time, names=("a", "b", "c", "d"))
    np.testing.assert_array_equal(aligned.values[0, 0], [97.0, 98.0, 99.0, 100.0])


# --- the command line over malformed files: an exit code and a message, never a traceback


@st.composite
def csv_text(draw):
    """A CSV-like file: a header, then rows of times and values, some of them broken."""
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.sampled_from([["time", "T"], ["date", "T", "X"], ["T"], ["time"], []]))
    start = draw(st.sampled_from(["2024-03-01", "2024-03-30 20:00"]))  # the second: a DST switch
    stamps = pd.date_range(start, periods=draw(st.integers(0, 30)), freq="h")
    cell = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["", "NaN", "abc", "1e400", "-", "1,5", "01/02/2024"]),
    )
    lines = [sep.join(header)] if header else []
    for stamp in stamps:
        formats = [str(stamp), stamp.strftime("%d/%m/%Y %H:%M"), "not a time"]
        formats.append(stamp.tz_localize("Europe/Berlin", nonexistent="shift_forward").isoformat())
        time = draw(st.sampled_from(formats))
        values = [draw(cell) for _ in range(max(len(header) - 1, 1))]
        lines.append(sep.join([time, *values]))
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(csv_text().map(str.encode), st.binary(max_size=200)))
def test_the_command_line_never_shows_a_traceback_for_a_malformed_file(tmp_path_factory, content):
    from click.testing import CliRunner

    from ssmcast.cli import cli

    folder = tmp_path_factory.mktemp("cli")
    path = folder / "data.csv"
    path.write_bytes(content)
    result = CliRunner().invoke(
        cli,
        ["backtest", str(path), "--target", "T", "--model", "naive", "--horizon", "1",
         "--compare", "", "--quiet", "--out", str(folder / "out")],
    )  # fmt: skip
    if result.exit_code != 0:
        # a click error (exit 1 or 2) raises SystemExit; anything else is a crash
        assert isinstance(result.exception, SystemExit), (content, result.output)
        assert result.exit_code in (1, 2) and "Error" in result.output
