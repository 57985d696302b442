"""xarray layouts: a DataArray or Dataset with a time dimension; other dimensions are series."""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ssmcast.data._layout_base import (
    Layout,
    decode_array,
    decode_label,
    encode_array,
    encode_attrs,
    encode_label,
    text_label,
)
from ssmcast.data._validate import check_numeric, check_time_index

__all__ = ["DataArrayLayout", "DatasetLayout"]

QUANTILE_DIM = "quantile"


@dataclass(frozen=True, eq=False)
class _XarrayLayout(Layout):
    """Shared part: the time dimension, the series dimensions and the kept coordinates.

    Dimensions other than ``time_dim`` are independent series, stacked in C order of
    ``series_dims``. Coordinates that do not depend on time (``station``, ``lat``, scalar
    coordinates) are kept; those along time are dropped from outputs (they cannot be known
    for future timestamps).
    """

    time_dim: Hashable
    series_dims: tuple
    sizes: tuple
    coords: dict = field(default_factory=dict)  # name -> (dims, values, attrs)
    time_attrs: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    @property
    def num_series(self) -> int:
        return int(np.prod(self.sizes, dtype=int))

    @property
    def series_keys(self):
        if not self.series_dims:
            return None
        axes = [
            self.coords[d][1].tolist() if d in self.coords else range(size)
            for d, size in zip(self.series_dims, self.sizes, strict=True)
        ]
        return tuple(itertools.product(*axes))

    def restore(self, values, time):
        return self._build(self._check_shape(values, time), time)

    def forecast(self, values, time):
        return self.restore(values, time)

    def quantiles(self, values, time, levels):
        values = self._check_shape(values, time, extra=1)
        levels = np.asarray(levels, dtype=np.float64)
        return self._build(values, time, (QUANTILE_DIM,), {QUANTILE_DIM: levels})

    def _series_texts(self) -> list[str] | None:
        """Each series' coordinates joined by ``"/"``, or None for a single unnamed series."""
        keys = self.series_keys
        return None if keys is None else [text_label(tuple(k)) for k in keys]

    def _series_names(self) -> list[str]:
        keys = self.series_keys
        if keys is None:
            return [""]
        return [
            " at " + ", ".join(f"{d}={v!r}" for d, v in zip(self.series_dims, k, strict=True))
            for k in keys
        ]

    def _coords(self, time: pd.DatetimeIndex) -> dict:
        coords = {
            k: (dims, values, dict(attrs)) for k, (dims, values, attrs) in self.coords.items()
        }
        coords[self.time_dim] = ((self.time_dim,), pd.DatetimeIndex(time), dict(self.time_attrs))
        return coords

    def _unstack(self, values: np.ndarray, dims: tuple, extra: tuple = ()) -> xr.DataArray:
        """``(S, T, ...) -> DataArray`` on ``(*series_dims, time, *extra)``, ordered as ``dims``."""
        data = values.reshape(*self.sizes, *values.shape[1:])
        array = xr.DataArray(data, dims=(*self.series_dims, self.time_dim, *extra))
        return array.transpose(*dims, *extra)

    def _common_fields(self) -> dict[str, Any]:
        return {
            "time_dim": encode_label(self.time_dim),
            "series_dims": [encode_label(d) for d in self.series_dims],
            "sizes": list(self.sizes),
            "coords": [
                [encode_label(k), [encode_label(d) for d in dims], encode_array(v), encode_attrs(a)]
                for k, (dims, v, a) in self.coords.items()
            ],
            "time_attrs": encode_attrs(self.time_attrs),
            "attrs": encode_attrs(self.attrs),
        }

    @staticmethod
    def _decode_common(fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "time_dim": decode_label(fields["time_dim"]),
            "series_dims": tuple(decode_label(d) for d in fields["series_dims"]),
            "sizes": tuple(int(s) for s in fields["sizes"]),
            "coords": {
                decode_label(k): (tuple(decode_label(d) for d in dims), decode_array(v), dict(a))
                for k, dims, v, a in fields["coords"]
            },
            "time_attrs": dict(fields["time_attrs"]),
            "attrs": dict(fields["attrs"]),
        }


@dataclass(frozen=True, eq=False)
class DataArrayLayout(_XarrayLayout):
    """An ``xr.DataArray`` with a time dimension: one channel; other dimensions are series.

    Outputs have the same name, attributes, dimension order and non-time coordinates, with
    the future ``time``; quantile forecasts add a last dimension ``quantile`` whose
    coordinate holds the levels (floats, as in ``DataArray.quantile``).
    """

    name: Hashable = None
    dims: tuple = ()
    kind = "dataarray"

    num_channels = property(lambda self: 1)
    type_name = property(lambda self: "xr.DataArray")

    def labels(self) -> list[str]:
        return [f"DataArray {self.name!r}{s}" for s in self._series_names()]

    def channel_names(self) -> list[str] | None:
        return None if self.name is None else [text_label(self.name)]

    def _short_labels(self) -> list[str]:
        series = self._series_texts()
        if series is not None:
            return series
        return [text_label(self.name) if self.name is not None else "y"]

    def _build(self, values, time, extra=(), extra_coords=None):
        array = self._unstack(values[:, :, 0], self.dims, extra)
        coords = {**self._coords(time), **(extra_coords or {})}
        return array.assign_coords(coords).rename(self.name).assign_attrs(dict(self.attrs))

    def _fields(self):
        return {
            **self._common_fields(),
            "name": encode_label(self.name),
            "dims": [encode_label(d) for d in self.dims],
        }

    @classmethod
    def _from_fields(cls, fields):
        return cls(
            **cls._decode_common(fields),
            name=decode_label(fields["name"]),
            dims=tuple(decode_label(d) for d in fields["dims"]),
        )


@dataclass(frozen=True, eq=False)
class DatasetLayout(_XarrayLayout):
    """An ``xr.Dataset`` with a time dimension: data variables are the channels.

    Every data variable must have the time dimension and the same other dimensions (in any
    order). Outputs are Datasets with the same variables, attributes and non-time
    coordinates; quantile forecasts add the ``quantile`` dimension to every variable.
    """

    variables: tuple = ()
    var_dims: tuple = ()
    var_attrs: tuple = ()
    kind = "dataset"

    num_channels = property(lambda self: len(self.variables))
    type_name = property(lambda self: "xr.Dataset")

    def labels(self) -> list[str]:
        return [f"variable {v!r}{s}" for s in self._series_names() for v in self.variables]

    def channel_names(self) -> list[str] | None:
        return [text_label(v) for v in self.variables]

    def _short_labels(self) -> list[str]:
        channels = [text_label(v) for v in self.variables]
        series = self._series_texts()
        if series is None:
            return channels
        return [f"{s}/{c}" for s in series for c in channels]

    def _build(self, values, time, extra=(), extra_coords=None):
        data_vars = {}
        for j, (var, dims, attrs) in enumerate(
            zip(self.variables, self.var_dims, self.var_attrs, strict=True)
        ):
            data_vars[var] = self._unstack(values[:, :, j], dims, extra).assign_attrs(dict(attrs))
        coords = {**self._coords(time), **(extra_coords or {})}
        return xr.Dataset(data_vars, coords=coords, attrs=dict(self.attrs))

    def _fields(self):
        return {
            **self._common_fields(),
            "variables": [encode_label(v) for v in self.variables],
            "var_dims": [[encode_label(d) for d in dims] for dims in self.var_dims],
            "var_attrs": [encode_attrs(a) for a in self.var_attrs],
        }

    @classmethod
    def _from_fields(cls, fields):
        return cls(
            **cls._decode_common(fields),
            variables=tuple(decode_label(v) for v in fields["variables"]),
            var_dims=tuple(tuple(decode_label(d) for d in dims) for dims in fields["var_dims"]),
            var_attrs=tuple(dict(a) for a in fields["var_attrs"]),
        )


# --- extraction ---------------------------------------------------------------------------


def _time_of(y: xr.DataArray | xr.Dataset, time_dim: Hashable, name: str) -> pd.DatetimeIndex:
    if time_dim not in y.dims:
        raise ValueError(
            f"`{name}` must have a {time_dim!r} dimension. Got dimensions {tuple(y.dims)}; "
            f"rename yours, e.g. `{name}.rename({{'t': {time_dim!r}}})`, or pass "
            "time_dim='t'."
        )
    if time_dim not in y.indexes:
        raise TypeError(
            f"`{name}` has a {time_dim!r} dimension without timestamps (no coordinate). Assign "
            f"them, e.g. `{name}.assign_coords({time_dim}=pd.date_range(start, periods=n, "
            "freq='h'))`."
        )
    return check_time_index(y.indexes[time_dim], name, where=f"{time_dim!r} coordinate")


def _series_dims(
    y: xr.DataArray | xr.Dataset, dims: tuple, time_dim: Hashable, name: str, like: Any
) -> tuple[tuple, tuple]:
    """Series dimensions and sizes; checked against ``like`` when given."""
    series_dims = tuple(d for d in dims if d != time_dim)
    if like is None:
        return series_dims, tuple(int(y.sizes[d]) for d in series_dims)
    if set(series_dims) != set(like.series_dims):
        raise ValueError(
            f"`{name}` has dimensions {tuple(dims)}, but the data passed to fit had "
            f"{(*like.series_dims, like.time_dim)}. Pass data on the same dimensions."
        )
    for dim, size in zip(like.series_dims, like.sizes, strict=True):
        fitted = like.coords[dim][1] if dim in like.coords else None
        got = y[dim].to_numpy() if dim in y.coords else None
        same = int(y.sizes[dim]) == size and (
            (fitted is None) == (got is None) and (fitted is None or np.array_equal(fitted, got))
        )
        if not same:
            raise ValueError(
                f"`{name}` has other {dim!r} coordinates than the data passed to fit: got "
                f"{got.tolist() if got is not None else y.sizes[dim]}, expected "
                f"{fitted.tolist() if fitted is not None else size}. Pass the same {dim!r} "
                f"values in the same order (e.g. `{name}.sel({dim}=...)`), or fit again."
            )
    return like.series_dims, like.sizes


def _layout_fields(y, time_dim, series_dims, sizes) -> tuple:
    """The positional fields of an xarray layout, read from the object ``y``."""
    return (
        time_dim,
        series_dims,
        sizes,
        _kept_coords(y, time_dim),
        dict(y[time_dim].attrs),
        dict(y.attrs),
    )


def _kept_coords(y: xr.DataArray | xr.Dataset, time_dim: Hashable) -> dict:
    return {
        k: (tuple(c.dims), c.to_numpy(), dict(c.attrs))
        for k, c in y.coords.items()
        if time_dim not in c.dims
    }


def _stack(array: xr.DataArray, series_dims: tuple, time_dim: Hashable) -> np.ndarray:
    """``(series..., time) -> (S, T)`` float64."""
    data = array.transpose(*series_dims, time_dim).to_numpy().astype(np.float64)
    return data.reshape(-1, data.shape[-1])


def extract_dataarray(
    y: xr.DataArray, *, name: str, time_dim: Hashable, like: Layout | None
) -> tuple:
    """``(values (S, T, 1), time, layout)`` from a DataArray."""
    if like is not None and not isinstance(like, DataArrayLayout):
        raise TypeError(
            f"`{name}` must be a {like.type_name}, like the data passed to fit. "
            "Got an xr.DataArray."
        )
    time_dim = like.time_dim if like is not None else time_dim
    time = _time_of(y, time_dim, name)
    series_dims, sizes = _series_dims(y, tuple(y.dims), time_dim, name, like)
    check_numeric(y.dtype, f"DataArray {y.name!r}", name)
    layout = like or DataArrayLayout(
        *_layout_fields(y, time_dim, series_dims, sizes),
        name=y.name,
        dims=tuple(y.dims),
    )
    return _stack(y, series_dims, time_dim)[:, :, None], time, layout


def extract_dataset(y: xr.Dataset, *, name: str, time_dim: Hashable, like: Layout | None) -> tuple:
    """``(values (S, T, C), time, layout)`` from a Dataset; variables are channels."""
    if like is not None and not isinstance(like, DatasetLayout):
        raise TypeError(
            f"`{name}` must be a {like.type_name}, like the data passed to fit. Got an xr.Dataset."
        )
    time_dim = like.time_dim if like is not None else time_dim
    if not y.data_vars:
        raise ValueError(f"`{name}` has no data variables. Pass a Dataset with observations.")
    time = _time_of(y, time_dim, name)
    variables = list(y.data_vars)
    first = y[variables[0]]
    for var in variables:
        dims = y[var].dims
        if time_dim not in dims or set(dims) != set(first.dims):
            raise ValueError(
                f"Every data variable of `{name}` must have the dimensions {first.dims} (in any "
                f"order); {var!r} has {dims}. Forecast it separately, or broadcast it with "
                f"`{name}[{var!r}].broadcast_like({name}[{variables[0]!r}])`."
            )
        check_numeric(y[var].dtype, f"variable {var!r}", name)
    series_dims, sizes = _series_dims(y, tuple(first.dims), time_dim, name, like)
    if like is not None:
        if set(variables) != set(like.variables) or len(variables) != len(like.variables):
            raise ValueError(
                f"`{name}` must have the same data variables as the data passed to fit, "
                f"{list(like.variables)}. Got {variables}; pass the same variables."
            )
        variables = list(like.variables)
        layout = like
    else:
        layout = DatasetLayout(
            *_layout_fields(y, time_dim, series_dims, sizes),
            variables=tuple(variables),
            var_dims=tuple(tuple(y[v].dims) for v in variables),
            var_attrs=tuple(dict(y[v].attrs) for v in variables),
        )
    values = np.stack([_stack(y[v], series_dims, time_dim) for v in variables], axis=-1)
    return values, time, layout
