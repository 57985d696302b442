"""Readers of the shipped dataset files: raw file to regular, float64, documented frame.

Used by :mod:`ssmcast.datasets`, whose :func:`~ssmcast.datasets.load` documents the
cleaning steps applied here.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ssmcast.datasets._catalog import CATALOG, DatasetInfo, Variable

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import xarray as xr


# --- reading the files --------------------------------------------------------------------


def _data_dir() -> Traversable:
    """Find the data folder: inside the installed package first, then the source checkout."""
    packaged = importlib.resources.files("ssmcast") / "_datasets"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "datasets"  # ssmcast/datasets/_readers.py
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        "ssmcast's dataset files were not found: looked in the installed package "
        f"({packaged}) and in a source checkout ({checkout}). Reinstall ssmcast from a wheel "
        "or sdist, which ship them."
    )


def _read_csv(dataset: DatasetInfo, **kwargs) -> pd.DataFrame:
    with importlib.resources.as_file(_data_dir() / dataset.file) as path:
        return pd.read_csv(path, **kwargs)


def _read_beijing(dataset: DatasetInfo) -> pd.DataFrame:
    raw = _read_csv(dataset)
    parts = ["year", "month", "day", "hour"]
    frame = raw.drop(columns=["No", *parts])
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw[parts]), name="time")
    return frame


def _wide_by_station(raw: pd.DataFrame, dataset: DatasetInfo, station: str) -> pd.DataFrame:
    """A long frame (``time``, ``station`` columns) as one column per station and variable."""
    stations = sorted(raw[station].unique())
    if tuple(stations) != dataset.stations:
        raise RuntimeError(
            f"{dataset.name}: expected stations {dataset.stations}, found {stations}."
        )
    _check_unique(raw.set_index([station, "time"]).index, dataset.name)
    names = dataset.variable_names
    wide = raw.pivot(index="time", columns=station, values=[*names])
    columns = [(var, code) for code in dataset.stations for var in names]
    wide = wide[columns]
    wide.columns = [f"{code}_{var}" for var, code in columns]
    return wide


def _read_nyc(dataset: DatasetInfo) -> pd.DataFrame:
    raw = _read_csv(dataset)
    raw["time"] = pd.to_datetime(raw["time_hour"], utc=True).dt.tz_localize(None)
    return _wide_by_station(raw, dataset, "origin")


def _indexed(frame: pd.DataFrame, column: str, *, utc: bool = False, **kwargs) -> pd.DataFrame:
    """``frame`` indexed by its parsed ``column`` (removed), named ``time``, time-zone naive."""
    time = pd.to_datetime(frame.pop(column), utc=utc, **kwargs)
    if utc:
        time = time.dt.tz_localize(None)
    frame.index = pd.DatetimeIndex(time, name="time")
    return frame


def _read_appliances(dataset: DatasetInfo) -> pd.DataFrame:
    return _indexed(_read_csv(dataset), "date")


def _read_seattle(dataset: DatasetInfo) -> pd.DataFrame:
    return _indexed(_read_csv(dataset), "date", format="%Y/%m/%d")


def _read_sea_temperature(dataset: DatasetInfo) -> pd.DataFrame:
    frame = _indexed(_read_csv(dataset), "time (UTC)", utc=True)
    return frame.rename(columns={"temperature (celsius)": "temperature"})


def _read_co2(dataset: DatasetInfo) -> pd.DataFrame:
    return _indexed(_read_csv(dataset, dtype={"date": str}), "date", format="%Y%m%d")


def _read_electricity_demand(dataset: DatasetInfo) -> pd.DataFrame:
    return _indexed(_read_csv(dataset), "time", format="%Y-%m-%d %H:%M")


def _read_metro_traffic(dataset: DatasetInfo) -> pd.DataFrame:
    frame = _read_csv(dataset).drop(columns=["holiday", "weather_main", "weather_description"])
    return _indexed(frame, "date_time", format="%Y-%m-%d %H:%M:%S")


def _read_beijing_multisite(dataset: DatasetInfo) -> pd.DataFrame:
    raw = _read_csv(dataset)
    raw["time"] = pd.to_datetime(raw.pop("date"), format="%Y-%m-%d")
    return _wide_by_station(raw, dataset, "station")


def _read_schwingbach(dataset: DatasetInfo) -> pd.DataFrame:
    frame = _read_csv(dataset, comment="#")
    text = frame.pop("time")
    # The file swaps month and day when the day of the month is 12 or less: a stamp whose
    # last date field is 12 or less is year-day-month, any other is year-month-day.
    day_first = text.str.slice(8, 10).astype(int) <= 12
    time = pd.to_datetime(text.where(~day_first), format="%Y-%m-%d %H:%M:%S")
    swapped = pd.to_datetime(text.where(day_first), format="%Y-%d-%m %H:%M:%S")
    frame.index = pd.DatetimeIndex(time.fillna(swapped), name="time")
    return frame


_READERS = {
    "beijing": _read_beijing,
    "nyc_weather": _read_nyc,
    "appliances_energy": _read_appliances,
    "seattle_weather": _read_seattle,
    "sea_temperature": _read_sea_temperature,
    "co2": _read_co2,
    "electricity_demand": _read_electricity_demand,
    "metro_traffic": _read_metro_traffic,
    "beijing_multisite": _read_beijing_multisite,
    "schwingbach": _read_schwingbach,
}
# Datasets whose duplicated timestamps are averaged (documented in `load`); any other
# duplicate is an error.
_AVERAGE_DUPLICATES = frozenset({"sea_temperature", "metro_traffic"})


# --- making the frame regular -------------------------------------------------------------


def _check_unique(index: pd.Index, name: str) -> None:
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise RuntimeError(
            f"The {name!r} dataset file has duplicated timestamps {duplicated[:5].tolist()}; "
            "the loader has no documented rule for them."
        )


def _regularise(frame: pd.DataFrame, dataset: DatasetInfo) -> pd.DataFrame:
    """Sort, resolve duplicates as documented, and reindex onto the regular grid."""
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    if dataset.name in _AVERAGE_DUPLICATES:
        frame = frame.groupby(level="time", sort=False).mean()
    _check_unique(frame.index, dataset.name)
    grid = pd.date_range(frame.index[0], frame.index[-1], freq=dataset.frequency, name="time")
    off_grid = frame.index.difference(grid)
    if len(off_grid):
        raise RuntimeError(
            f"The {dataset.name!r} dataset file has timestamps off its {dataset.frequency!r} "
            f"grid: {off_grid[:5].tolist()}."
        )
    return frame.reindex(grid)


def _encode(frame: pd.DataFrame, dataset: DatasetInfo, categorical: str) -> pd.DataFrame:
    """Drop or one-hot encode the categorical columns; make everything float64."""
    for var in dataset.categorical:
        column = frame.pop(var.name)
        if categorical == "drop":
            continue
        unknown = set(column.dropna().unique()) - set(var.categories)
        if unknown:
            raise RuntimeError(f"{dataset.name}: unexpected {var.name} levels {sorted(unknown)}.")
        missing = column.isna().to_numpy()
        for level in var.categories:
            indicator = (column == level).to_numpy(dtype=float)
            frame[f"{var.name}_{level}"] = np.where(missing, np.nan, indicator)
    return frame.astype("float64")


def _column_variables(dataset: DatasetInfo, categorical: str) -> dict[str, Variable]:
    """Metadata of every column of the loaded pandas frame, in column order."""
    if dataset.stations:
        return {f"{station}_{v.name}": v for station in dataset.stations for v in dataset.variables}
    columns = {v.name: v for v in dataset.variables}
    if categorical == "onehot":
        for var in dataset.categorical:
            for level in var.categories:
                columns[f"{var.name}_{level}"] = Variable(
                    f"{var.name}_{level}", "1", f"1 where {var.name} is {level!r}, else 0"
                )
    return columns


@functools.lru_cache(maxsize=32)  # 10 datasets x 2 `categorical` options
def _load_frame(name: str, categorical: str) -> pd.DataFrame:
    dataset = CATALOG[name]
    frame = _regularise(_READERS[name](dataset), dataset)
    frame = _encode(frame, dataset, categorical)
    columns = _column_variables(dataset, categorical)
    if sorted(frame.columns) != sorted(columns):
        raise RuntimeError(
            f"{name}: the file's columns {sorted(frame.columns)} do not match the catalogue "
            f"{sorted(columns)}."
        )
    frame = frame[[*columns]]
    frame.attrs = {"dataset": name, "units": {c: v.units for c, v in columns.items()}}
    return frame


def _to_xarray(frame: pd.DataFrame, dataset: DatasetInfo, categorical: str) -> xr.Dataset:
    import xarray as xr

    attrs = {
        "title": dataset.description,
        "source": dataset.source,
        "licence": dataset.licence,
        "citation": dataset.citation,
        "frequency": dataset.frequency,
        "timezone": dataset.timezone,
        "notes": dataset.notes,
    }
    coords = {"time": frame.index}
    data_vars = {}
    if dataset.stations:
        coords["station"] = [*dataset.stations]
        for var in dataset.variables:
            columns = [f"{station}_{var.name}" for station in dataset.stations]
            values = frame[columns].to_numpy()
            data_vars[var.name] = (("time", "station"), values, _var_attrs(var))
    else:
        for column, var in _column_variables(dataset, categorical).items():
            data_vars[column] = ("time", frame[column].to_numpy(), _var_attrs(var))
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _var_attrs(var: Variable) -> dict[str, str]:
    return {"units": var.units, "long_name": var.description}
