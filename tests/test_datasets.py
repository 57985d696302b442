"""Tests for ssmcast.datasets, the shipped data files and the `ssmcast datasets` command."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from ssmcast import datasets
from ssmcast.cli import cli
from ssmcast.datasets._catalog import CATALOG

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(CATALOG)


def raw(name: str, **kwargs) -> pd.DataFrame:
    """Read a shipped file directly, independently of the loader."""
    if name == "schwingbach":
        kwargs.setdefault("comment", "#")  # the file's header has '#' comment lines
    return pd.read_csv(ROOT / "datasets" / CATALOG[name].file, **kwargs)


# --- the pandas frame ---------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_load_gives_a_regular_float_frame(name):
    d = datasets.info(name)
    frame = datasets.load(name)
    assert isinstance(frame, pd.DataFrame)
    index = frame.index
    assert isinstance(index, pd.DatetimeIndex)
    assert index.name == "time"
    assert index.tz is None
    assert index.freqstr == d.frequency
    expected = pd.date_range(d.start, d.end, freq=d.frequency)
    np.testing.assert_array_equal(index.to_numpy(), expected.to_numpy())
    assert (frame.dtypes == np.float64).all()
    assert frame.columns.is_unique
    assert set(frame.attrs["units"]) == set(frame.columns)


@pytest.mark.parametrize(
    ("name", "shape", "missing"),
    [
        ("beijing", (43824, 7), {"pm2.5": 2067, "TEMP": 0}),
        ("nyc_weather", (8730, 27), {"EWR_temp": 28, "JFK_temp": 24, "LGA_pressure": 987}),
        ("appliances_energy", (19735, 28), {"Appliances": 0, "rv2": 0}),
        ("seattle_weather", (1461, 4), {"precipitation": 0}),
        ("sea_temperature", (19249, 1), {"temperature": 24}),
        ("co2", (2284, 1), {"co2": 59}),
        ("electricity_demand", (4032, 1), {"demand": 0}),
        ("metro_traffic", (26247, 5), {"traffic_volume": 10078, "temp": 10078}),
        (
            "beijing_multisite",
            (1461, 120),
            {"Dongsi_PM2.5": 33, "Wanliu_PM2.5": 12, "Huairou_TEMP": 0},
        ),
        ("schwingbach", (26304, 7), {"solarrad_Wm2": 0, "windspeed_ms": 0, "gwhead_m": 3012}),
    ],
)
def test_shapes_and_missing_counts(name, shape, missing):
    frame = datasets.load(name)
    assert frame.shape == shape
    for column, count in missing.items():
        assert frame[column].isna().sum() == count


# Rows of the file that repeat a timestamp, and timestamps absent from the file.
DUPLICATES_AND_GAPS = {"sea_temperature": (1, 24), "metro_traffic": (2533, 10078)}


@pytest.mark.parametrize(
    ("name", "duplicates", "gaps"),
    [(n, *DUPLICATES_AND_GAPS.get(n, (0, 0))) for n in NAMES],
)
def test_rows_are_the_file_rows_plus_the_gaps(name, duplicates, gaps):
    # Nothing dropped: every timestamp of the file is a row, and the only added rows are gaps.
    frame = datasets.load(name)
    if name == "nyc_weather":
        per_station = raw(name).groupby("origin").size()
        assert (len(frame) - per_station == pd.Series({"EWR": 27, "JFK": 24, "LGA": 24})).all()
    elif name == "beijing_multisite":
        assert (raw(name).groupby("station").size() == len(frame)).all()  # every day, each
    else:
        assert len(frame) == len(raw(name)) - duplicates + gaps


def test_beijing_matches_the_file():
    file = raw("beijing")
    frame = datasets.load("beijing")
    assert [*frame.columns] == ["pm2.5", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir"]
    for column in frame.columns:
        np.testing.assert_array_equal(frame[column].to_numpy(), file[column].to_numpy(float))
    first = file.iloc[5]
    stamp = pd.Timestamp(year=first.year, month=first.month, day=first.day, hour=first.hour)
    assert frame.index[5] == stamp


def test_nyc_weather_matches_the_file():
    file = raw("nyc_weather")
    file["time"] = pd.to_datetime(file["time_hour"]).dt.tz_convert(None)
    frame = datasets.load("nyc_weather")
    assert frame.columns[:2].tolist() == ["EWR_temp", "EWR_dewp"]
    assert frame.columns[-1] == "LGA_visib"
    for var in datasets.info("nyc_weather").variable_names:
        expected = file.pivot(index="time", columns="origin", values=var)
        for station in ("EWR", "JFK", "LGA"):
            got = frame.loc[expected.index, f"{station}_{var}"].to_numpy()
            np.testing.assert_array_equal(got, expected[station].to_numpy())
    # 2013-01-01 06:00 UTC is 01:00 in New York, the first local hour of the file.
    assert frame.index[0] == pd.Timestamp("2013-01-01 06:00")
    assert frame.loc["2013-01-01 06:00", "EWR_temp"] == 39.02


def test_sea_temperature_averages_its_duplicated_timestamp():
    frame = datasets.load("sea_temperature")
    assert frame.index.is_unique
    assert frame.loc["2017-03-21 16:30", "temperature"] == pytest.approx((4.276 + 4.289) / 2)
    file = raw("sea_temperature")
    times = pd.to_datetime(file["time (UTC)"]).dt.tz_convert(None)
    single = ~times.duplicated(keep=False)
    np.testing.assert_array_equal(
        frame.loc[times[single], "temperature"].to_numpy(),
        file.loc[single, "temperature (celsius)"].to_numpy(),
    )
    gap = frame.loc["2016-01-01":"2018-01-01", "temperature"].isna()
    assert gap.sum() == 24


def test_co2_is_weekly_on_saturdays_with_nan_kept():
    frame = datasets.load("co2")
    assert frame.index.freqstr == "W-SAT"
    assert (frame.index.day_of_week == 5).all()
    assert frame["co2"].isna().sum() == raw("co2")["co2"].isna().sum() == 59


def test_electricity_demand_is_twelve_weeks_of_half_hours():
    frame = datasets.load("electricity_demand")
    assert frame.index[0] == pd.Timestamp("2000-06-05 00:00")  # a Monday
    assert frame.index[0].day_name() == "Monday"
    assert len(frame) == 12 * 7 * 48
    # the first values of pmdarima's load_taylor() and R's forecast::taylor
    np.testing.assert_array_equal(frame["demand"].to_numpy()[:4], [22262, 21756, 22247, 22759])
    np.testing.assert_array_equal(frame["demand"].to_numpy(), raw("electricity_demand")["demand"])


def test_metro_traffic_has_a_long_outage_over_most_of_its_last_fifth():
    frame = datasets.load("metro_traffic")
    volume = frame["traffic_volume"]
    last = volume.iloc[int(0.8 * len(volume)) :]
    assert last.isna().mean() > 0.5  # more than half of the test part is missing...
    assert last.notna().sum() > 2000  # ...but not all of it: about 95 days are observed
    outage = volume.loc["2014-08-08 02:00":"2015-06-11 19:00"]
    assert len(outage) == 7386
    assert outage.isna().all()
    assert volume.loc["2014-08-08 01:00"] == 516.0  # the last count before the outage
    assert volume.loc["2015-06-11 20:00"] == 2886.0  # the first after it
    # Duplicated hours: traffic_volume is the same on every row; the other columns averaged.
    file = raw("metro_traffic")
    times = pd.to_datetime(file["date_time"])
    np.testing.assert_array_equal(
        frame.loc[times, "traffic_volume"].to_numpy(), file["traffic_volume"].to_numpy(float)
    )
    expected = file.groupby(times)["temp"].mean()
    np.testing.assert_allclose(frame.loc[expected.index, "temp"].to_numpy(), expected.to_numpy())


def test_beijing_multisite_is_a_panel_of_eight_to_twelve_stations():
    d = datasets.info("beijing_multisite")
    frame = datasets.load("beijing_multisite")
    assert 8 <= len(d.stations) <= 12
    assert frame.columns[:2].tolist() == ["Aotizhongxin_PM2.5", "Aotizhongxin_PM10"]
    pm25 = frame[[f"{station}_PM2.5" for station in d.stations]]
    missing = pm25.isna().sum()
    assert (missing > 0).all() and (missing < 0.05 * len(frame)).all()  # some gaps, each
    file = raw("beijing_multisite")
    dongsi = file[file["station"] == "Dongsi"]
    assert (pd.to_datetime(dongsi["date"]).to_numpy() == frame.index.to_numpy()).all()
    np.testing.assert_array_equal(frame["Dongsi_O3"].to_numpy(), dongsi["O3"].to_numpy())
    ds = datasets.load("beijing_multisite", as_="xarray")
    assert ds["PM2.5"].dims == ("time", "station")
    assert ds["station"].to_numpy().tolist() == [*d.stations]
    np.testing.assert_array_equal(
        ds["TEMP"].sel(station="Huairou").to_numpy(), frame["Huairou_TEMP"].to_numpy()
    )


def test_schwingbach_reads_the_swapped_day_and_month():
    frame = datasets.load("schwingbach")
    file = raw("schwingbach")
    assert file["time"].iloc[24] == "2014-02-01 00:00:00"  # the 25th hour: 2 January
    assert frame.index[24] == pd.Timestamp("2014-01-02 00:00")
    assert file["time"].iloc[31 * 24] == "2014-01-02 00:00:00"  # 1 February
    assert frame.index[31 * 24] == pd.Timestamp("2014-02-01 00:00")
    # the rows are the file's rows, in order
    for column in frame.columns:
        np.testing.assert_array_equal(frame[column].to_numpy(), file[column].to_numpy(float))


def test_onehot_encoding_of_categorical_columns():
    frame = datasets.load("beijing", categorical="onehot")
    levels = ["cbwd_NE", "cbwd_NW", "cbwd_SE", "cbwd_cv"]
    assert frame.columns[-4:].tolist() == levels
    np.testing.assert_array_equal(frame[levels].sum(axis=1).to_numpy(), 1.0)
    cbwd = raw("beijing")["cbwd"]
    np.testing.assert_array_equal(frame["cbwd_cv"].to_numpy(), (cbwd == "cv").to_numpy(float))
    seattle = datasets.load("seattle_weather", categorical="onehot")
    assert "weather_sun" in seattle.columns
    assert seattle["weather_sun"].sum() == (raw("seattle_weather")["weather"] == "sun").sum()
    ds = datasets.load("seattle_weather", as_="xarray", categorical="onehot")
    assert ds["weather_fog"].attrs["units"] == "1"


def test_load_returns_copies_the_cache_is_safe():
    first = datasets.load("co2")
    first.iloc[0, 0] = -1.0
    first.attrs["units"]["co2"] = "broken"
    second = datasets.load("co2")
    assert second.iloc[0, 0] == 316.1
    assert second.attrs["units"]["co2"] == "ppm"


# --- xarray ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_xarray_matches_pandas(name):
    ds = datasets.load(name, as_="xarray")
    frame = datasets.load(name)
    assert isinstance(ds, xr.Dataset)
    assert "time" in ds.dims
    np.testing.assert_array_equal(ds["time"].to_numpy(), frame.index.to_numpy())
    assert ds.attrs["frequency"] == datasets.info(name).frequency
    assert ds.attrs["licence"] == datasets.info(name).licence
    for var in ds.data_vars.values():
        assert var.attrs["units"]
        assert var.dtype == np.float64
    if not datasets.info(name).stations:
        for column in frame.columns:
            np.testing.assert_array_equal(ds[column].to_numpy(), frame[column].to_numpy())


def test_nyc_weather_xarray_has_a_station_dimension():
    ds = datasets.load("nyc_weather", as_="xarray")
    assert ds["station"].to_numpy().tolist() == ["EWR", "JFK", "LGA"]
    assert set(ds.data_vars) == set(datasets.info("nyc_weather").variable_names)
    assert ds["temp"].dims == ("time", "station")
    assert ds["temp"].attrs["units"] == "degF"
    frame = datasets.load("nyc_weather")
    np.testing.assert_array_equal(
        ds["pressure"].sel(station="JFK").to_numpy(), frame["JFK_pressure"].to_numpy()
    )


# --- descriptions and errors ------------------------------------------------------------------


def test_list_describes_every_dataset():
    table = datasets.list()
    assert table.columns.tolist() == [
        "name",
        "description",
        "frequency",
        "start",
        "end",
        "variables",
        "source",
        "licence",
    ]
    assert table["name"].tolist() == NAMES
    row = table.set_index("name").loc["beijing"]
    assert row["variables"].startswith("pm2.5, DEWP, TEMP")
    assert row["start"] == datasets.load("beijing").index[0]


def test_info_is_a_frozen_hashable_dataclass():
    d = datasets.info("beijing")
    assert dataclasses.is_dataclass(d)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "other"
    assert hash(d) == hash(datasets.info("beijing"))
    assert d.units["TEMP"] == "degC"
    assert d.categorical[0].categories == ("NE", "NW", "SE", "cv")


@pytest.mark.parametrize(("typo", "suggestion"), [("bejing", "beijing"), ("CO2", "co2")])
def test_unknown_name_suggests_the_closest(typo, suggestion):
    with pytest.raises(ValueError, match=f"Did you mean '{suggestion}'") as err:
        datasets.load(typo)
    assert "appliances_energy" in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Available: appliances_energy"):
        datasets.info("m4_hourly")
    with pytest.raises(TypeError, match="must be a str"):
        datasets.load(3)
    with pytest.raises(ValueError, match=r"'pandas' or 'xarray'\. Got 'polars'"):
        datasets.load("co2", as_="polars")
    with pytest.raises(ValueError, match="'drop' or 'onehot'"):
        datasets.load("co2", categorical="codes")


# --- the files, the docs and the wheel ----------------------------------------------------------


def test_files_are_shipped_small_and_documented():
    folder = ROOT / "datasets"
    sizes = {d.file: (folder / d.file).stat().st_size for d in CATALOG.values()}
    assert sum(sizes.values()) < 4_000_000
    for path in (folder / "README.md", ROOT / "docs" / "datasets.md"):
        text = path.read_text(encoding="utf-8")
        for d in CATALOG.values():
            assert f"`{d.name}`" in text
            assert d.file in text
        for licence in ("CC BY 4.0", "CC0 1.0", "public domain"):
            assert licence in text


def test_data_folder_is_the_package_first_then_the_checkout():
    packaged = Path(datasets.__file__).parent.parent / "_datasets"  # ssmcast/_datasets
    expected = packaged if packaged.is_dir() else ROOT / "datasets"
    assert Path(str(datasets._data_dir())).resolve() == expected.resolve()


@pytest.mark.slow
def test_wheel_ships_the_data_and_loads_from_it(tmp_path):
    try:
        import hatchling  # noqa: F401

        build = [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)]
    except ImportError:
        build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), "."]
    subprocess.run(build, cwd=ROOT, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("ssmcast-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for d in CATALOG.values():
        assert f"ssmcast/_datasets/{d.file}" in names
    assert "ssmcast/_datasets/README.md" in names

    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*install, "--target", str(target), str(wheel)], check=True)
    code = (
        "import ssmcast, ssmcast.datasets as d; "
        "print(ssmcast.__file__); print(d._data_dir()); print(d.load('co2').shape)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True
    ).stdout.decode()
    module, data_dir, shape = out.splitlines()
    assert Path(module).is_relative_to(target)
    assert Path(data_dir).is_relative_to(target / "ssmcast" / "_datasets")
    assert shape == "(2284, 1)"


# --- the command line ---------------------------------------------------------------------------


def test_cli_lists_the_datasets():
    result = CliRunner().invoke(cli, ["datasets"])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert name in result.output
    assert CliRunner().invoke(cli, ["datasets", "list"]).output == result.output


def test_cli_shows_one_dataset():
    result = CliRunner().invoke(cli, ["datasets", "show", "beijing"])
    assert result.exit_code == 0, result.output
    for text in ("pm2.5", "ug m-3", "2,067", "43,824", "CC BY 4.0", "Liang", "cbwd"):
        assert text in result.output
    nyc = CliRunner().invoke(cli, ["datasets", "show", "nyc_weather"]).output
    assert "missing JFK" in nyc


def test_cli_unknown_dataset_is_a_one_line_error():
    result = CliRunner().invoke(cli, ["datasets", "show", "bejing"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "Did you mean 'beijing'" in result.output
    assert "Traceback" not in result.output
