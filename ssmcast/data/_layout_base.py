"""The :class:`Layout` interface and the JSON encoding of labels, indexes and attributes."""

from __future__ import annotations

import abc
import datetime
import json
import numbers
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

__all__ = ["Layout", "text_label"]

_REGISTRY: dict[str, type[Layout]] = {}


def text_label(label: Any) -> str:
    """A label as text; the parts of a tuple joined by ``"/"``."""
    if isinstance(label, tuple):
        return "/".join(str(part) for part in label)
    return str(label)


class Layout(abc.ABC):
    """How an input object maps to arrays, and how to rebuild that type of object.

    A layout is made by :func:`~ssmcast.data.to_panel` from the caller's data. It knows the
    names, columns, series identifiers and coordinates of the input, so that arrays of shape
    ``(num_series, num_timesteps, num_channels)`` can go back into the caller's type:

    * :meth:`restore` rebuilds data with the original names (a round trip);
    * :meth:`forecast` builds a point forecast (only long frames name it differently,
      ``yhat``);
    * :meth:`quantiles` builds a quantile forecast from ``(..., num_levels)`` arrays.

    ``to_dict`` gives plain JSON types and :meth:`from_dict` reads them back, so that a saved
    model can rebuild its outputs. Subclasses: ``SeriesLayout``, ``WideLayout``,
    ``LongLayout``, ``DataArrayLayout``, ``DatasetLayout``.
    """

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    @property
    @abc.abstractmethod
    def num_series(self) -> int:
        """Number of independent series."""

    @property
    @abc.abstractmethod
    def num_channels(self) -> int:
        """Number of channels (variables) per series."""

    @property
    def series_keys(self) -> tuple[Hashable, ...] | None:
        """Keys identifying each series (ids, columns, coordinates); None for one unnamed series.

        Covariates ``X`` without keys are shared by all series; with keys they must have the
        same keys as the target.
        """
        return None

    @abc.abstractmethod
    def labels(self) -> list[str]:
        """Readable names of every (series, channel) pair, series-major, for messages."""

    def series_labels(self) -> list[str]:
        """Short, distinct names of every (series, channel) pair, series-major, as strings.

        These label backtest results: a Series gives its name; a wide frame its column
        names; a long frame its ids (with ``"/column"`` when it has several value columns);
        xarray data the coordinates of the series dimensions joined by ``"/"`` (with
        ``"/variable"`` for a Dataset). Where the short names repeat, :meth:`labels`.
        """
        short = self._short_labels()
        return short if len(set(short)) == len(short) else self.labels()

    def _short_labels(self) -> list[str]:
        return self.labels()

    def column_names(self) -> list[str] | None:
        """The value columns that a table of this layout holds, or None.

        None where there is no fixed set: a long frame, xarray data, an unnamed Series.
        """
        return None

    def channel_names(self) -> list[str] | None:
        """The names of the channels (columns, variables) as strings, or None if unnamed.

        Covariates are matched to those seen at fit by these names.
        """
        return None

    def flat_values(self, output: Any) -> np.ndarray:
        """The numeric values of an output of this layout (a forecast, quantiles), flattened.

        The order is fixed: the same for the same kind of output and shape.
        """
        if isinstance(output, pd.DataFrame | pd.Series):
            return output.to_numpy(dtype=np.float64, na_value=np.nan).ravel()
        if hasattr(output, "data_vars"):  # xr.Dataset
            return np.stack(
                [np.asarray(output[v].values, np.float64) for v in output.data_vars]
            ).ravel()
        return np.asarray(getattr(output, "values", output), dtype=np.float64).ravel()

    @property
    @abc.abstractmethod
    def type_name(self) -> str:
        """The caller's type, for messages (``"pd.Series"``, ``"long pd.DataFrame"``, ...)."""

    @abc.abstractmethod
    def restore(self, values: np.ndarray, time: pd.DatetimeIndex) -> Any:
        """Rebuild the caller's type from ``values (num_series, num_timesteps, num_channels)``."""

    @abc.abstractmethod
    def forecast(self, values: np.ndarray, time: pd.DatetimeIndex) -> Any:
        """Build a point forecast from ``values (num_series, horizon, num_channels)``."""

    @abc.abstractmethod
    def quantiles(self, values: np.ndarray, time: pd.DatetimeIndex, levels: Sequence[float]) -> Any:
        """Build a quantile forecast from ``values (num_series, horizon, num_channels, levels)``."""

    @abc.abstractmethod
    def _fields(self) -> dict[str, Any]:
        """The layout's fields as JSON types."""

    def to_dict(self) -> dict[str, Any]:
        """The layout as plain JSON types (``json.dumps`` works on it)."""
        return {"kind": self.kind, **self._fields()}

    @classmethod
    @abc.abstractmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Layout:
        """Rebuild from :meth:`_fields` output."""

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Layout:
        """Rebuild a layout from :meth:`to_dict` output.

        Raises:
            ValueError: If ``data`` is not the output of ``to_dict`` of a known layout.
        """
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind not in _REGISTRY:
            raise ValueError(
                f"Layout.from_dict expects the output of Layout.to_dict, with 'kind' one of "
                f"{sorted(_REGISTRY)}. Got {data!r:.200}."
            )
        fields = {k: v for k, v in data.items() if k != "kind"}
        try:
            return _REGISTRY[kind]._from_fields(fields)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"Layout.from_dict: a corrupted {kind!r} layout ({err!r}).") from err

    def _check_shape(self, values: np.ndarray, time: pd.DatetimeIndex, extra: int = 0):
        values = np.asarray(values)
        expected = (self.num_series, len(time), self.num_channels)
        if values.ndim != 3 + extra or values.shape[:3] != expected:
            raise ValueError(
                f"{type(self).__name__} expects values of shape (num_series, num_timesteps, "
                f"num_channels{', num_levels' if extra else ''}) = {expected}"
                f"{' + (num_levels,)' if extra else ''}. Got {values.shape}."
            )
        return values


def rename_time(time: pd.DatetimeIndex, name: Hashable) -> pd.DatetimeIndex:
    """``time`` named ``name`` (indexes are immutable: the values are shared, not copied)."""
    return time if time.name is name else time.rename(name)


# --- JSON encoding ------------------------------------------------------------------------


def encode_label(value: Any) -> Any:
    """A label (column name, id, coordinate value) as JSON types; tagged when ambiguous."""
    if isinstance(value, np.datetime64 | datetime.datetime | pd.Timestamp):
        return {"timestamp": pd.Timestamp(value).isoformat()}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, tuple):
        return {"tuple": [encode_label(v) for v in value]}
    raise TypeError(
        f"cannot save the label {value!r} of type {type(value).__name__}; use str, int, float, "
        "bool, tuples of those, or timestamps as names"
    )


def decode_label(value: Any) -> Any:
    """Inverse of :func:`encode_label`."""
    if isinstance(value, dict):
        if "timestamp" in value:
            return pd.Timestamp(value["timestamp"])
        return tuple(decode_label(v) for v in value["tuple"])
    return value


def encode_index(index: pd.Index) -> dict[str, Any]:
    """A pandas Index (or MultiIndex) as JSON types, keeping its dtype and names."""
    if isinstance(index, pd.MultiIndex):
        return {
            "multi": True,
            "values": [encode_label(tuple(v)) for v in index],
            "names": [encode_label(n) for n in index.names],
        }
    return {
        "multi": False,
        "values": [encode_label(v) for v in index],
        "name": encode_label(index.name),
        "dtype": str(index.dtype),
    }


def decode_index(data: dict[str, Any]) -> pd.Index:
    """Inverse of :func:`encode_index`."""
    values = [decode_label(v) for v in data["values"]]
    if data["multi"]:
        names = [decode_label(n) for n in data["names"]]
        return pd.MultiIndex.from_tuples(values, names=names)
    return pd.Index(values, dtype=data["dtype"], name=decode_label(data["name"]))


def encode_array(values: np.ndarray) -> dict[str, Any]:
    """A NumPy array (coordinate values) as JSON types, keeping dtype and shape."""
    values = np.asarray(values)
    if values.dtype.kind == "M":
        flat = [str(v) for v in np.datetime_as_string(values.ravel())]
    elif values.dtype.kind == "m":
        flat = values.astype("int64").ravel().tolist()
    elif values.dtype.kind == "O":
        flat = [encode_label(v) for v in values.ravel()]
    else:
        flat = values.ravel().tolist()
    return {"dtype": values.dtype.str, "shape": list(values.shape), "values": flat}


def decode_array(data: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    dtype = np.dtype(data["dtype"])
    if dtype.kind == "O":
        flat = np.empty(len(data["values"]), dtype=object)
        flat[:] = [decode_label(v) for v in data["values"]]
    else:
        flat = np.array(data["values"], dtype=dtype)
    return flat.reshape(data["shape"])


def encode_attrs(attrs: dict) -> dict[str, Any]:
    """Attributes as JSON types: values that JSON cannot hold are saved as their ``str``."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray | np.generic):
            value = value.tolist()
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = str(value)
        out[str(key)] = value
    return out
