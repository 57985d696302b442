"""pandas layouts: a Series, a wide DataFrame and a long DataFrame (``unique_id, ds, y``)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssmcast.data._layout_base import (
    Layout,
    decode_index,
    decode_label,
    encode_index,
    encode_label,
    rename_time,
    text_label,
)
from ssmcast.data._validate import check_numeric, check_time_index, format_levels, show

__all__ = ["LongLayout", "SeriesLayout", "WideLayout"]

_FORECAST_COLUMN = "yhat"


def _mismatch(name: str, what: str, got: Sequence, fitted: Sequence) -> ValueError:
    extra = [v for v in got if v not in set(fitted)]
    missing = [v for v in fitted if v not in set(got)]
    details = []
    if extra:
        details.append(f"new {show(extra)}")
    if missing:
        details.append(f"missing {show(missing)}")
    return ValueError(
        f"`{name}` must have the same {what} as the data passed to fit, {show(fitted)}. Got "
        f"{show(got)} ({'; '.join(details) or 'repeated'}). Pass the same {what}; fit again "
        "to change them."
    )


def _check_kind(like: Layout | None, cls: type, name: str, got: str) -> None:
    if like is not None and not isinstance(like, cls):
        raise TypeError(
            f"`{name}` must be a {like.type_name}, like the data passed to fit. Got a {got}."
        )


def _float_values(frame: pd.DataFrame, labels: Sequence[str], name: str) -> np.ndarray:
    for column, label in zip(frame.columns, labels, strict=True):
        check_numeric(frame[column].dtype, label, name)
    return frame.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass(frozen=True, eq=False)
class SeriesLayout(Layout):
    """A ``pd.Series`` with a DatetimeIndex: one series, one channel.

    Forecasts are Series with the same name; quantile forecasts are DataFrames with columns
    ``q0.1``, ``q0.5``, ... The index of each output has the input's index name.
    """

    name: Hashable
    index_name: Hashable
    kind = "series"

    num_series = property(lambda self: 1)
    num_channels = property(lambda self: 1)
    type_name = property(lambda self: "pd.Series")

    def labels(self) -> list[str]:
        return [f"series {self.name!r}"]

    def _short_labels(self) -> list[str]:
        return [text_label(self.name) if self.name is not None else "y"]

    def column_names(self) -> list[str] | None:
        return None if self.name is None else [str(self.name)]

    def channel_names(self) -> list[str] | None:
        return None if self.name is None else [text_label(self.name)]

    def restore(self, values, time):
        values = self._check_shape(values, time)
        return pd.Series(values[0, :, 0], index=rename_time(time, self.index_name), name=self.name)

    forecast = restore

    def quantiles(self, values, time, levels):
        values = self._check_shape(values, time, extra=1)
        index = rename_time(time, self.index_name)
        return pd.DataFrame(values[0, :, 0, :], index=index, columns=format_levels(levels))

    def _fields(self):
        return {"name": encode_label(self.name), "index_name": encode_label(self.index_name)}

    @classmethod
    def _from_fields(cls, fields):
        return cls(decode_label(fields["name"]), decode_label(fields["index_name"]))


@dataclass(frozen=True, eq=False)
class WideLayout(Layout):
    """A wide ``pd.DataFrame``: a DatetimeIndex and one column per channel (or per series).

    With ``columns_are="channels"`` (the default) the frame is one multivariate series whose
    channels are the columns; with ``"series"`` each column is an independent univariate
    series. Either way outputs have the same columns (a MultiIndex stays one); quantile
    forecasts add a last column level named ``quantile`` with labels ``q0.1``, ...
    """

    columns: pd.Index
    index_name: Hashable
    columns_are: str = "channels"
    kind = "wide"

    @property
    def num_series(self) -> int:
        return len(self.columns) if self.columns_are == "series" else 1

    @property
    def num_channels(self) -> int:
        return 1 if self.columns_are == "series" else len(self.columns)

    @property
    def series_keys(self):
        return tuple(self.columns) if self.columns_are == "series" else None

    type_name = property(lambda self: "wide pd.DataFrame")

    def labels(self) -> list[str]:
        return [f"column {c!r}" for c in self.columns]

    def _short_labels(self) -> list[str]:
        return [text_label(c) for c in self.columns]

    def column_names(self) -> list[str] | None:
        return [str(c) for c in self.columns]

    def channel_names(self) -> list[str] | None:
        return [text_label(c) for c in self.columns] if self.columns_are == "channels" else None

    def _to_wide(self, values: np.ndarray) -> np.ndarray:
        """``(S, T, C, ...) -> (T, columns, ...)``."""
        if self.columns_are == "series":
            return np.moveaxis(values[:, :, 0], 0, 1)
        return values[0]

    def restore(self, values, time):
        values = self._check_shape(values, time)
        index = rename_time(time, self.index_name)
        return pd.DataFrame(self._to_wide(values), index=index, columns=self.columns.copy())

    forecast = restore

    def quantiles(self, values, time, levels):
        values = self._check_shape(values, time, extra=1)
        wide = self._to_wide(values)  # (T, columns, levels)
        labels = format_levels(levels)
        if isinstance(self.columns, pd.MultiIndex):
            tuples = [(*col, q) for col in self.columns for q in labels]
        else:
            tuples = [(col, q) for col in self.columns for q in labels]
        columns = pd.MultiIndex.from_tuples(tuples, names=[*self.columns.names, "quantile"])
        data = wide.reshape(len(time), -1)
        return pd.DataFrame(data, index=rename_time(time, self.index_name), columns=columns)

    def _fields(self):
        return {
            "columns": encode_index(self.columns),
            "index_name": encode_label(self.index_name),
            "columns_are": self.columns_are,
        }

    @classmethod
    def _from_fields(cls, fields):
        return cls(
            decode_index(fields["columns"]),
            decode_label(fields["index_name"]),
            fields["columns_are"],
        )


@dataclass(frozen=True, eq=False)
class LongLayout(Layout):
    """A long ``pd.DataFrame``: an id column, a time column and value columns.

    Series are kept in the order in which their ids first appear. All series share one time
    axis, the union of their timestamps on the regular grid; a series that starts later or
    ends earlier is NaN (missing) outside its span. Point forecasts have columns
    ``[id_col, time_col, "yhat"]`` for one value column, or the value columns' own names for
    several; quantile forecasts have ``q0.1``, ... (one value column) or ``"{column}_q0.1"``.
    Outputs (and ``restore``) have a fresh RangeIndex and the columns
    ``[id_col, time_col, ...]``, with rows grouped by series in that order, each on the full
    time grid.
    """

    ids: pd.Index
    value_columns: tuple
    id_col: Hashable = "unique_id"
    time_col: Hashable = "ds"
    kind = "long"

    num_series = property(lambda self: len(self.ids))
    num_channels = property(lambda self: len(self.value_columns))
    series_keys = property(lambda self: tuple(self.ids))
    type_name = property(lambda self: "long pd.DataFrame")

    def labels(self) -> list[str]:
        return [
            f"series {i!r} column {c!r}" if len(self.value_columns) > 1 else f"series {i!r}"
            for i in self.ids
            for c in self.value_columns
        ]

    def channel_names(self) -> list[str] | None:
        return [text_label(c) for c in self.value_columns]

    def _short_labels(self) -> list[str]:
        several = len(self.value_columns) > 1
        return [
            f"{text_label(i)}/{text_label(c)}" if several else text_label(i)
            for i in self.ids
            for c in self.value_columns
        ]

    def flat_values(self, output):
        if isinstance(output, pd.DataFrame):
            output = output.drop(columns=[self.id_col, self.time_col])
        return super().flat_values(output)

    def _frame(self, values: np.ndarray, time: pd.DatetimeIndex, columns: list) -> pd.DataFrame:
        num_series, num_timesteps = values.shape[:2]
        data = {
            self.id_col: self.ids.repeat(num_timesteps),
            self.time_col: time[np.tile(np.arange(num_timesteps), num_series)],
        }
        flat = values.reshape(num_series * num_timesteps, -1)
        for j, column in enumerate(columns):
            data[column] = flat[:, j]
        return pd.DataFrame(data)

    def restore(self, values, time):
        values = self._check_shape(values, time)
        return self._frame(values, time, list(self.value_columns))

    def forecast(self, values, time):
        values = self._check_shape(values, time)
        single = len(self.value_columns) == 1
        return self._frame(values, time, [_FORECAST_COLUMN] if single else list(self.value_columns))

    def quantiles(self, values, time, levels):
        values = self._check_shape(values, time, extra=1)
        labels = format_levels(levels)
        if len(self.value_columns) == 1:
            columns = labels
        else:
            columns = [f"{c}_{q}" for c in self.value_columns for q in labels]
        return self._frame(values, time, columns)

    def _fields(self):
        return {
            "ids": encode_index(self.ids),
            "value_columns": [encode_label(c) for c in self.value_columns],
            "id_col": encode_label(self.id_col),
            "time_col": encode_label(self.time_col),
        }

    @classmethod
    def _from_fields(cls, fields):
        return cls(
            decode_index(fields["ids"]),
            tuple(decode_label(c) for c in fields["value_columns"]),
            decode_label(fields["id_col"]),
            decode_label(fields["time_col"]),
        )


# --- extraction ---------------------------------------------------------------------------


def extract_series(y: pd.Series, *, name: str, like: Layout | None) -> tuple:
    """``(values (1, T, 1), time, layout)`` from a Series."""
    _check_kind(like, SeriesLayout, name, "pd.Series")
    if isinstance(y.index, pd.MultiIndex):
        raise TypeError(
            f"`{name}` is a Series with a MultiIndex {tuple(y.index.names)}. For several series "
            f"pass a long frame, e.g. `{name}.reset_index()` with columns unique_id, ds, y, or "
            f"a wide frame, e.g. `{name}.unstack(0)`."
        )
    time = check_time_index(y.index, name)
    if like is not None and y.name is not None and y.name != like.name:
        raise ValueError(
            f"`{name}` is the series {y.name!r}, but the data passed to fit was {like.name!r}. "
            f"Pass the same series (rename it with `{name}.rename({like.name!r})`), or fit again."
        )
    layout = like or SeriesLayout(y.name, y.index.name)
    check_numeric(y.dtype, f"series {y.name!r}", name)
    values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[None, :, None], time, layout


def extract_wide(y: pd.DataFrame, *, name: str, columns_are: str, like: Layout | None) -> tuple:
    """``(values, time, layout)`` from a wide DataFrame."""
    _check_kind(like, WideLayout, name, "wide pd.DataFrame")
    if y.shape[1] == 0:
        raise ValueError(f"`{name}` has no columns. Pass a frame with at least one value column.")
    repeated = y.columns[y.columns.duplicated()].unique()
    if len(repeated):
        raise ValueError(
            f"`{name}` has repeated column names {show(repeated)}. Give each column a unique name."
        )
    time = check_time_index(y.index, name)
    if like is not None:
        positions = y.columns.get_indexer(like.columns)
        if len(y.columns) != len(like.columns) or (positions < 0).any():
            raise _mismatch(name, "columns", list(y.columns), list(like.columns))
        y = y.iloc[:, positions]
        layout = like
    else:
        layout = WideLayout(y.columns.copy(), y.index.name, columns_are)
    values = _float_values(y, layout.labels(), name)  # (T, columns)
    if layout.columns_are == "series":
        return np.moveaxis(values, 1, 0)[:, :, None], time, layout
    return values[None], time, layout


def extract_long(
    y: pd.DataFrame, *, name: str, id_col: Hashable, time_col: Hashable, like: Layout | None
) -> tuple:
    """``(values (S, T_union, C), union of timestamps, layout)`` from a long DataFrame."""
    _check_kind(like, LongLayout, name, "long pd.DataFrame")
    if like is not None:
        id_col, time_col = like.id_col, like.time_col
        if id_col not in y.columns:
            raise ValueError(
                f"`{name}` must be a long frame with an id column {id_col!r}, like the data "
                f"passed to fit. Got columns {show(list(y.columns), 10)}."
            )
    if time_col not in y.columns:
        raise ValueError(
            f"`{name}` has an id column {id_col!r} but no time column {time_col!r}; a long frame "
            f"needs both. Got columns {show(list(y.columns), 10)}; rename the time column to "
            f"{time_col!r}."
        )
    value_columns = [c for c in y.columns if c not in (id_col, time_col)]
    if not value_columns:
        raise ValueError(
            f"`{name}` has no value column besides {id_col!r} and {time_col!r}. Add the "
            "observations, e.g. a column 'y'."
        )
    if not pd.api.types.is_datetime64_any_dtype(y[time_col].dtype):
        raise TypeError(
            f"The time column {time_col!r} of `{name}` must hold timestamps (datetime64). Got "
            f"dtype {y[time_col].dtype}; convert it with "
            f"`{name}[{time_col!r}] = pd.to_datetime({name}[{time_col!r}])`."
        )
    if y[id_col].isna().any():
        raise ValueError(
            f"The id column {id_col!r} of `{name}` has missing ids in "
            f"{int(y[id_col].isna().sum())} rows. Give every row a series id."
        )
    codes, ids = pd.factorize(y[id_col], sort=False)
    ids = pd.Index(ids, name=None)
    time = pd.DatetimeIndex(y[time_col])
    if time.hasnans:
        raise ValueError(
            f"The time column {time_col!r} of `{name}` has missing timestamps (NaT). Drop "
            "those rows or fill in their timestamps."
        )
    order = np.argsort(codes, kind="stable")
    stamps, groups = time.asi8[order], codes[order]
    same = groups[1:] == groups[:-1]
    step = np.diff(stamps)
    for bad, problem, fix in (
        (same & (step == 0), "duplicated timestamps", "keep one row per series and timestamp"),
        (
            same & (step < 0),
            "timestamps out of order",
            f"sort it first with `{name}."
            f"sort_values([{id_col!r}, {time_col!r}])`; ssmcast never reorders data silently",
        ),
    ):
        if bad.any():
            first = order[int(np.flatnonzero(bad)[0]) + 1]
            raise ValueError(
                f"`{name}` has {problem} within series {ids[codes[first]]!r}, at "
                f"{time[first]} (row {first}). Each series must be sorted by {time_col!r} "
                f"without repeats: {fix}."
            )
    union = time.unique().sort_values()
    union.name = time_col
    labels = [f"column {c!r}" for c in value_columns]
    flat = _float_values(y[value_columns], labels, name)
    if like is not None:
        if set(value_columns) != set(like.value_columns):
            raise _mismatch(name, "value columns", value_columns, list(like.value_columns))
        series = like.ids.get_indexer(ids)
        if len(ids) != len(like.ids) or (series < 0).any():
            raise _mismatch(name, "series ids", list(ids), list(like.ids))
        flat = flat[:, [value_columns.index(c) for c in like.value_columns]]
        layout = like
    else:
        series = np.arange(len(ids))
        layout = LongLayout(ids, tuple(value_columns), id_col, time_col)
    values = np.full((len(ids), len(union), len(value_columns)), np.nan)
    values[series[codes], union.get_indexer(time)] = flat
    return values, union, layout


def is_long(y: pd.DataFrame, id_col: Hashable, like: Layout | None) -> bool:
    """Whether a DataFrame is in the long layout (it has the id column)."""
    if isinstance(like, LongLayout):
        return True
    if like is not None:
        return False
    return id_col in y.columns
