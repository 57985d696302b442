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
from typing import TYPE_CHECKING, Literal

import pandas as pd

from ssmcast.datasets._catalog import CATALOG, DatasetInfo, Variable
from ssmcast.datasets._readers import _data_dir as _data_dir  # where the files were found
from ssmcast.datasets._readers import _load_frame, _to_xarray

if TYPE_CHECKING:
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
        >>> len(table), table["name"].tolist()[:3]
        (10, ['appliances_energy', 'beijing', 'beijing_multisite'])
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
    * ``electricity_demand``: half-hourly; no gaps.
    * ``metro_traffic``: the text columns ``holiday``, ``weather_main`` and
      ``weather_description`` are dropped; an hour that appears on several rows (one per
      weather description, 1,756 hours) becomes one row with the mean of each column
      (``traffic_volume`` is the same on all of them). The recorder's 10-month outage
      (2014-08-08 to 2015-06-11) and the other absent hours are NaN rows.
    * ``beijing_multisite``: daily means of 12 sites; as pandas, one column per station and
      variable named ``"{station}_{variable}"`` (``"Dongsi_PM2.5"``); as xarray, variables
      ``PM2.5``, ``TEMP``, ... on dimensions ``(time, station)``.
    * ``schwingbach``: the file's time stamps swap month and day when the day of the month is
      12 or less; the loader reads a stamp whose last date field is 12 or less as
      year-day-month (``"2014-02-01 00:00:00"`` is 2 January 2014), any other as
      year-month-day.

    Rows are sorted by time if a file is not (none is, today). Any other duplicated
    timestamp, or a timestamp off the regular grid, raises ``RuntimeError``.

    Results are cached; each call returns a fresh copy, so modifying it is safe.

    Args:
        name: Dataset name (see :func:`list`).
        as_: ``"pandas"`` for a DataFrame, ``"xarray"`` for an ``xr.Dataset`` with a
            ``time`` dimension (and ``station`` for ``nyc_weather`` and
            ``beijing_multisite``).
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
