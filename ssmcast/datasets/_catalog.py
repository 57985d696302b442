"""Metadata of the real datasets shipped with ssmcast (see ``datasets/README.md``).

The descriptions (names, units, spans, sources and licences) are data, kept in
``catalog.toml`` next to this module and read here into frozen :class:`DatasetInfo` and
:class:`Variable` objects. The readers that turn the files into forecast-ready frames are in
``_readers``.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CATALOG", "DatasetInfo", "Variable"]


@dataclass(frozen=True)
class Variable:
    """One variable (column) of a shipped dataset.

    Attributes:
        name: Column name in the loaded frame (for a multi-station dataset such as
            ``nyc_weather`` the per-station name, e.g. ``"temp"``; the pandas columns are
            ``"{station}_{name}"``).
        units: Units in a compact, UDUNITS-like spelling (``"degC"``, ``"hPa"``, ``"m s-1"``).
        description: What the variable measures.
        categories: For a categorical variable, its levels (empty for numeric variables).
    """

    name: str
    units: str
    description: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one shipped dataset, as returned by :func:`ssmcast.datasets.info`.

    Attributes:
        name: The name to pass to :func:`ssmcast.datasets.load`.
        description: One-line description.
        frequency: pandas offset alias of the regular time index (``"h"``, ``"10min"``, ...).
        start: First timestamp of the loaded index (ISO 8601).
        end: Last timestamp of the loaded index (ISO 8601).
        variables: The numeric variables, in column order.
        categorical: Categorical columns of the raw file; dropped by default, one-hot
            encoded with ``load(..., categorical="onehot")``.
        stations: Station codes, for multi-station datasets (``nyc_weather``,
            ``beijing_multisite``).
        timezone: What clock the timestamps are on (the index itself is tz-naive).
        source: Where the data comes from (original source and the package it was taken from).
        licence: Licence of the data.
        citation: Credit to give when using the data.
        file: File name in the ``datasets/`` folder.
        notes: Cleaning steps the loader applies and quirks to know about.
    """

    name: str
    description: str
    frequency: str
    start: str
    end: str
    variables: tuple[Variable, ...]
    source: str
    licence: str
    citation: str
    file: str
    timezone: str
    notes: str = ""
    categorical: tuple[Variable, ...] = ()
    stations: tuple[str, ...] = ()

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the numeric variables, in column order."""
        return tuple(v.name for v in self.variables)

    @property
    def units(self) -> dict[str, str]:
        """Mapping from variable name to units (a fresh dict on each access)."""
        return {v.name: v.units for v in self.variables}


def _variables(rows: list[list]) -> tuple[Variable, ...]:
    """Variables from rows ``[name, units, description]``, plus ``[levels]`` if categorical."""

    def variable(name: str, units: str, description: str, levels: Sequence[str] = ()) -> Variable:
        return Variable(name, units, description, tuple(levels))

    return tuple(variable(*row) for row in rows)


def _read_catalog() -> dict[str, DatasetInfo]:
    """Read ``catalog.toml`` into a mapping from dataset name to :class:`DatasetInfo`."""
    text = (importlib.resources.files(__package__) / "catalog.toml").read_text(encoding="utf-8")
    catalog = {}
    for entry in tomllib.loads(text)["dataset"]:
        variables = _variables(entry.pop("variables"))
        categorical = _variables(entry.pop("categorical", []))
        stations = tuple(entry.pop("stations", []))
        catalog[entry["name"]] = DatasetInfo(
            **entry, variables=variables, categorical=categorical, stations=stations
        )
    return catalog


CATALOG: dict[str, DatasetInfo] = _read_catalog()
