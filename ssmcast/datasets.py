"""Real weather and sensor datasets shipped with ssmcast, loaded ready to forecast.

Every dataset loads offline from the compressed files in the top-level ``datasets/`` folder
(inside an installed wheel: ``ssmcast/_datasets``). :func:`list` describes them all,
:func:`info` describes one, :func:`load` returns one as a pandas DataFrame or an xarray
Dataset on a regular time index. Sources, licences and credits are in ``datasets/README.md``
and on the docs page ``docs/datasets.md``; please credit the sources when you publish results.

Examples:
    >>> from ssmcast import datasets
    >>> y = datasets.load("beijing")
    >>> y.index.freqstr, y.shape
    ('h', (43824, 7))
    >>> datasets.info("co2").frequency
    'W-SAT'
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ssmcast._dataset_catalog import CATALOG, DatasetInfo, Variable

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import xarray as xr

# `list` is public (``datasets.list()``) but left out of __all__, so that
# ``from ssmcast.datasets import *`` cannot shadow the builtin.
__all__ = ["DatasetInfo", "Variable", "info", "load"]

_OUTPUTS = ("pandas", "xarray")
_CATEGORICAL = ("drop", "onehot")


def info(name: str) -> DatasetInfo:
    """Describe one shipped dataset.

    Args:
        name: Dataset name, one of the names in :func:`list`.

    Returns:
        A frozen :class:`DatasetInfo` with the frequency, span, variables (with units),
        source, licence, citation and the cleaning notes of the dataset.

    Raises:
        TypeError: If ``name`` is not a string.
        ValueError: If there is no dataset of that name; the message lists the available
            names and the closest match.

    Examples:
        >>> from ssmcast import datasets
        >>> d = datasets.info("sea_temperature")
        >>> d.frequency, d.units
        ('30min', {'temperature': 'degC'})
    """
    if not isinstance(name, str):
        raise TypeError(
            f"The dataset 'name' must be a str. Got {type(name).__name__} instead; "
            f"use one of: {', '.join(sorted(CATALOG))}."
        )
    if name in CATALOG:
        return CATALOG[name]
    names = sorted(CATALOG)
    close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown dataset {name!r}.{hint} Available: {', '.join(names)}.")


def list() -> pd.DataFrame:
    """Describe all shipped datasets, one row each.

    Returns:
        A DataFrame with columns ``name``, ``description``, ``frequency`` (pandas offset
        alias), ``start`` and ``end`` (Timestamps of the loaded index), ``variables``
        (comma-separated numeric variables), ``source`` and ``licence``.

    Examples:
        >>> from ssmcast import datasets
        >>> table = datasets.list()
        >>> table["name"].tolist()
        ['appliances_energy', 'beijing', 'co2', 'nyc_weather', 'sea_temperature', 'seattle_weather']
        >>> table.set_index("name").loc["co2", "licence"]
        'Public domain'
    """
    rows = [
        {
            "name": d.name,
            "description": d.description,
            "frequency": d.frequency,
            "start": pd.Timestamp(d.start),
            "end": pd.Timestamp(d.end),
            "variables": ", ".join(d.variable_names),
            "source": d.source,
            "licence": d.licence,
        }
        for d in sorted(CATALOG.values(), key=lambda d: d.name)
    ]
    return pd.DataFrame(rows)


def load(
    name: str,
    as_: Literal["pandas", "xarray"] = "pandas",
    *,
    categorical: Literal["drop", "onehot"] = "drop",
) -> pd.DataFrame | xr.Dataset:
    """Load a shipped dataset on a regular time index, ready to forecast.

    The time index is a regular ``DatetimeIndex`` named ``time`` with an explicit ``freq``
    (``info(name).frequency``) and tz-naive timestamps (``info(name).timezone`` says on which
    clock). Timestamps absent from the file become rows of NaN: nothing is dropped or
    imputed. Every column is float64; units are in ``frame.attrs["units"]`` (pandas), in each
    variable's ``attrs["units"]`` (xarray), in :func:`info` and on the docs page.

    Cleaning steps, per dataset:

    * ``beijing``: the index is built from the ``year``/``month``/``day``/``hour`` columns,
      which are dropped with the row number ``No``; the categorical wind direction ``cbwd``
      is handled by ``categorical``.
    * ``nyc_weather``: the index is the UTC ``time_hour`` column made tz-naive. As pandas,
      one column per station and variable named ``"{station}_{variable}"`` (``"JFK_temp"``;
      get a MultiIndex with ``frame.columns.str.split("_", n=1, expand=True)``); as xarray,
      variables ``temp``, ``dewp``, ... on dimensions ``(time, station)``.
    * ``sea_temperature``: the file has one duplicated timestamp (2017-03-21 16:30, values
      4.276 and 4.289); the loader keeps one row with the mean of the two (4.2825).
    * ``seattle_weather``: the categorical ``weather`` label is handled by ``categorical``.
    * ``co2``: weekly on Saturdays (``W-SAT``); the 59 missing weeks stay NaN.

    Rows are sorted by time if a file is not (none is, today). Any other duplicated
    timestamp, or a timestamp off the regular grid, raises ``RuntimeError``.

    Results are cached; each call returns a fresh copy, so modifying it is safe.

    Args:
        name: Dataset name (see :func:`list`).
        as_: ``"pandas"`` for a DataFrame, ``"xarray"`` for an ``xr.Dataset`` with a
            ``time`` dimension (and ``station`` for ``nyc_weather``).
        categorical: What to do with categorical columns (``beijing`` ``cbwd``,
            ``seattle_weather`` ``weather``): ``"drop"`` them (default) or ``"onehot"``
            encode them as float indicator columns ``"{column}_{level}"`` (1.0 or 0.0, NaN in
            gap rows), one per level listed in ``info(name).categorical``.

    Returns:
        The dataset as a DataFrame (``as_="pandas"``) or an ``xr.Dataset``
        (``as_="xarray"``).

    Raises:
        TypeError: If ``name`` is not a string.
        ValueError: For an unknown ``name`` (the message lists the names and the closest
            match), or a bad ``as_`` or ``categorical``.

    Examples:
        >>> from ssmcast import datasets
        >>> sst = datasets.load("sea_temperature")
        >>> sst.index.freqstr, int(sst["temperature"].isna().sum())
        ('30min', 24)
        >>> ds = datasets.load("nyc_weather", as_="xarray")
        >>> ds["temp"].dims, ds["temp"].attrs["units"]
        (('time', 'station'), 'degF')
    """
    dataset = info(name)
    if as_ not in _OUTPUTS:
        raise ValueError(f"The 'as_' argument of load must be 'pandas' or 'xarray'. Got {as_!r}.")
    if categorical not in _CATEGORICAL:
        raise ValueError(
            f"The 'categorical' argument of load must be 'drop' or 'onehot'. Got {categorical!r}."
        )
    frame = _load_frame(dataset.name, categorical).copy(deep=True)
    if as_ == "pandas":
        return frame
    return _to_xarray(frame, dataset, categorical)


# --- reading the files --------------------------------------------------------------------


def _data_dir() -> Traversable:
    """Find the data folder: inside the installed package first, then the source checkout."""
    packaged = importlib.resources.files("ssmcast") / "_datasets"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "datasets"
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


def _read_nyc(dataset: DatasetInfo) -> pd.DataFrame:
    raw = _read_csv(dataset)
    raw["time"] = pd.to_datetime(raw["time_hour"], utc=True).dt.tz_localize(None)
    stations = sorted(raw["origin"].unique())
    if tuple(stations) != dataset.stations:
        raise RuntimeError(f"nyc_weather: expected stations {dataset.stations}, found {stations}.")
    _check_unique(raw.set_index(["origin", "time"]).index, dataset.name)
    names = dataset.variable_names
    wide = raw.pivot(index="time", columns="origin", values=[*names])
    columns = [(var, station) for station in dataset.stations for var in names]
    wide = wide[columns]
    wide.columns = [f"{station}_{var}" for var, station in columns]
    return wide


def _read_appliances(dataset: DatasetInfo) -> pd.DataFrame:
    frame = _read_csv(dataset)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="time")
    return frame


def _read_seattle(dataset: DatasetInfo) -> pd.DataFrame:
    frame = _read_csv(dataset)
    time = pd.to_datetime(frame.pop("date"), format="%Y/%m/%d")
    frame.index = pd.DatetimeIndex(time, name="time")
    return frame


def _read_sea_temperature(dataset: DatasetInfo) -> pd.DataFrame:
    frame = _read_csv(dataset)
    time = pd.to_datetime(frame.pop("time (UTC)"), utc=True).dt.tz_localize(None)
    frame.index = pd.DatetimeIndex(time, name="time")
    return frame.rename(columns={"temperature (celsius)": "temperature"})


def _read_co2(dataset: DatasetInfo) -> pd.DataFrame:
    frame = _read_csv(dataset, dtype={"date": str})
    time = pd.to_datetime(frame.pop("date"), format="%Y%m%d")
    frame.index = pd.DatetimeIndex(time, name="time")
    return frame


_READERS = {
    "beijing": _read_beijing,
    "nyc_weather": _read_nyc,
    "appliances_energy": _read_appliances,
    "seattle_weather": _read_seattle,
    "sea_temperature": _read_sea_temperature,
    "co2": _read_co2,
}
# Datasets whose duplicated timestamps are averaged (documented in `load`); any other
# duplicate is an error.
_AVERAGE_DUPLICATES = frozenset({"sea_temperature"})


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


@functools.lru_cache(maxsize=16)  # 6 datasets x 2 `categorical` options
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
