"""The :class:`Panel` of arrays, and the converters from every input layout to it."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr
from pandas.tseries.offsets import BaseOffset

from ssmcast.data._features import CalendarFeatures, calendar_features, time_deltas
from ssmcast.data._frequency import (
    future_index,
    infer_freq,
    next_timestamp,
    parse_freq,
    regular_grid,
)
from ssmcast.data._layout_base import Layout
from ssmcast.data._layouts_pandas import (
    LongLayout,
    SeriesLayout,
    WideLayout,
    extract_long,
    extract_series,
    extract_wide,
    is_long,
)
from ssmcast.data._layouts_xarray import _XarrayLayout, extract_dataarray, extract_dataset
from ssmcast.data._validate import (
    MissingTimestampsWarning,
    check_finite,
    check_min_length,
    check_observed,
    show,
)

__all__ = ["Panel", "align_covariates", "to_panel", "to_update_panel"]

_ACCEPTED = (
    "a pd.Series or wide pd.DataFrame with a DatetimeIndex, a long pd.DataFrame with columns "
    "'unique_id', 'ds' and values, or an xr.DataArray / xr.Dataset with a 'time' dimension"
)


@dataclass(frozen=True, eq=False)
class Panel:
    """Time series as arrays on a regular time grid, with the layout to convert back.

    Attributes:
        values: Float64 array of shape ``(num_series, num_timesteps, num_channels)``; NaN is a
            missing value (including the rows inserted for missing timestamps).
        time: The regular grid of timestamps, with ``freq`` set.
        freq: The frequency, a pandas offset.
        layout: How to rebuild the caller's type (see :class:`~ssmcast.data.Layout`).
        num_gaps: How many timestamps were absent from the input and inserted as NaN rows.

    Examples:
        >>> import pandas as pd
        >>> y = pd.Series([1.0, 2.0, 4.0], pd.date_range("2024-01-01", periods=3, freq="h"))
        >>> panel = to_panel(y)
        >>> panel.values.shape, panel.freq, panel.cutoff
        ((1, 3, 1), <Hour>, Timestamp('2024-01-01 02:00:00'))
        >>> panel.layout.forecast(panel.values[:, -2:], panel.future_index(2))
        2024-01-01 03:00:00    2.0
        2024-01-01 04:00:00    4.0
        Freq: h, dtype: float64
    """

    values: np.ndarray
    time: pd.DatetimeIndex
    freq: BaseOffset
    layout: Layout
    num_gaps: int = 0

    def __post_init__(self):
        expected = (self.layout.num_series, len(self.time), self.layout.num_channels)
        if self.values.shape != expected:
            raise ValueError(
                f"Panel values have shape {self.values.shape}, but the time index and layout "
                f"need {expected}."
            )

    @property
    def num_series(self) -> int:
        """Number of independent series."""
        return self.values.shape[0]

    @property
    def num_timesteps(self) -> int:
        """Number of time steps on the grid."""
        return self.values.shape[1]

    @property
    def num_channels(self) -> int:
        """Number of channels per series."""
        return self.values.shape[2]

    @property
    def cutoff(self) -> pd.Timestamp:
        """The last timestamp."""
        return self.time[-1]

    @property
    def mask(self) -> np.ndarray:
        """Boolean array, True where a value is observed (not NaN)."""
        return ~np.isnan(self.values)

    def dt(self) -> np.ndarray:
        """Time step before each timestamp in units of ``freq`` (see ``time_deltas``)."""
        return time_deltas(self.time, self.freq)

    def calendar_features(self) -> CalendarFeatures:
        """Calendar features of the timestamps (see ``calendar_features``)."""
        return calendar_features(self.time, self.freq)

    def future_index(self, horizon: int) -> pd.DatetimeIndex:
        """The ``horizon`` timestamps after :attr:`cutoff`."""
        return future_index(self.cutoff, self.freq, horizon, name=self.time.name)

    def restore(self) -> Any:
        """The data in the caller's layout, on the regular grid (gaps as NaN rows)."""
        return self.layout.restore(self.values, self.time)


def _is_empty(y: Any, time_dim: Hashable) -> bool:
    if isinstance(y, pd.Series | pd.DataFrame):
        return len(y) == 0
    if isinstance(y, xr.DataArray | xr.Dataset):
        return y.sizes.get(time_dim, 1) == 0
    return False


def _extract(y, *, name, columns, id_col, time_col, time_dim, like) -> tuple:
    if _is_empty(y, getattr(like, "time_dim", time_dim)):
        raise ValueError(f"`{name}` is empty: it has no time steps. Pass observed data.")
    if isinstance(y, pd.Series):
        return extract_series(y, name=name, like=like)
    if isinstance(y, pd.DataFrame):
        if is_long(y, id_col, like):
            return extract_long(y, name=name, id_col=id_col, time_col=time_col, like=like)
        if time_col in y.columns and not isinstance(y.index, pd.DatetimeIndex):
            raise ValueError(
                f"`{name}` looks like a long frame (it has a {time_col!r} column) but has no id "
                f"column {id_col!r}. Add one, e.g. `{name}.assign({id_col}='series_1')`, or make "
                f"it wide with `{name}.set_index({time_col!r})`."
            )
        return extract_wide(y, name=name, columns_are=columns, like=like)
    if isinstance(y, xr.DataArray):
        return extract_dataarray(y, name=name, time_dim=time_dim, like=like)
    if isinstance(y, xr.Dataset):
        return extract_dataset(y, name=name, time_dim=time_dim, like=like)
    hint = ""
    if isinstance(y, list | tuple | np.ndarray | dict):
        hint = (
            f" A {type(y).__name__} has no timestamps; wrap it, e.g. "
            f"`pd.Series(values, index=pd.date_range('2024-01-01', periods=len(values), "
            f"freq='h'))`."
        )
    raise TypeError(f"`{name}` must be {_ACCEPTED}. Got {type(y).__name__}.{hint}")


def _scatter(values: np.ndarray, time: pd.DatetimeIndex, grid: pd.DatetimeIndex):
    """Put ``values`` on ``grid`` (a superset of ``time``), NaN elsewhere."""
    if len(grid) == len(time):
        return values
    out = np.full((values.shape[0], len(grid), values.shape[2]), np.nan)
    out[:, grid.get_indexer(time)] = values
    return out


def _warn_gaps(name: str, grid: pd.DatetimeIndex, time: pd.DatetimeIndex, freq: BaseOffset):
    missing = grid.difference(time)
    warnings.warn(
        f"`{name}` has {len(missing)} missing timestamp(s) on its {freq.freqstr!r} grid "
        f"(first {show(missing, 3)}); they were inserted as NaN rows, which ssmcast treats as "
        "missing values, never imputes.",
        MissingTimestampsWarning,
        stacklevel=4,
    )


def to_panel(
    y: Any,
    *,
    freq: Any = None,
    min_length: int = 1,
    columns: Literal["channels", "series"] = "channels",
    id_col: Hashable = "unique_id",
    time_col: Hashable = "ds",
    time_dim: Hashable = "time",
    name: str = "y",
) -> Panel:
    """Convert any supported input layout to a :class:`Panel` on a regular time grid.

    Supported inputs, and how they map to ``(num_series, num_timesteps, num_channels)``:

    * ``pd.Series`` with a DatetimeIndex: ``(1, T, 1)``.
    * wide ``pd.DataFrame`` with a DatetimeIndex: ``(1, T, columns)``, or ``(columns, T, 1)``
      with ``columns="series"``.
    * long ``pd.DataFrame`` with an ``id_col``, a ``time_col`` and value columns:
      ``(ids, T, value columns)``; series keep the order in which their ids first appear, and
      share the union of their timestamps (NaN outside each one's span).
    * ``xr.DataArray`` with a ``time_dim``: other dimensions are stacked into series,
      ``(prod(other sizes), T, 1)``.
    * ``xr.Dataset``: data variables are channels, ``(prod(other sizes), T, variables)``.

    The frequency is ``freq``, else the index's, else inferred (see
    :func:`~ssmcast.data.infer_freq`). Timestamps absent from the regular grid are inserted as
    NaN rows, counted in ``num_gaps`` and reported with a
    :class:`~ssmcast.data.MissingTimestampsWarning`. NaN values are kept as missing, never
    imputed; nothing is sorted, dropped or reordered.

    Args:
        y: The data.
        freq: A frequency alias or offset, to use instead of inferring one.
        min_length: The fewest time steps (on the grid) to accept.
        columns: Whether the columns of a wide frame are ``"channels"`` of one series or
            independent ``"series"``.
        id_col: Name of the series id column of a long frame.
        time_col: Name of the time column of a long frame.
        time_dim: Name of the time dimension of xarray inputs.
        name: The argument name to use in error messages.

    Returns:
        The panel.

    Raises:
        TypeError: For an unsupported type (a list or an array has no timestamps), a
            non-datetime index or time column, or non-numeric values.
        ValueError: For empty data, fewer than ``min_length`` steps, duplicated or unsorted
            timestamps, infinite values, a series with no observed value, or timestamps that
            fit no regular grid.

    Examples:
        >>> from ssmcast import datasets
        >>> y = datasets.load("beijing").loc["2014-01", ["TEMP", "DEWP"]]
        >>> panel = to_panel(y)
        >>> panel.values.shape, panel.freq.freqstr, panel.layout.kind
        ((1, 744, 2), 'h', 'wide')
        >>> long = y.stack().rename_axis(["ds", "unique_id"]).rename("y").reset_index()
        >>> to_panel(long).values.shape  # two series, TEMP and DEWP
        (2, 744, 1)
    """
    min_length = check_min_length(min_length)
    if columns not in ("channels", "series"):
        raise ValueError(f"The 'columns' argument must be 'channels' or 'series'. Got {columns!r}.")
    options = {"columns": columns, "id_col": id_col, "time_col": time_col, "time_dim": time_dim}
    values, time, layout = _extract(y, name=name, like=None, **options)
    labels = layout.labels()
    check_finite(values, time, labels, name)
    offset = infer_freq(time, freq, name=name)
    grid = regular_grid(time, offset)
    if len(grid) > len(time):
        _warn_gaps(name, grid, time, offset)
    values = _scatter(values, time, grid)
    check_observed(values, labels, name)
    if len(grid) < min_length:
        raise ValueError(
            f"`{name}` has {len(grid)} time step(s), but at least {min_length} are needed. Pass "
            "a longer history."
        )
    return Panel(values, grid, offset, layout, len(grid) - len(time))


def to_update_panel(
    y_new: Any, *, layout: Layout, cutoff: pd.Timestamp, freq: Any, name: str = "y_new"
) -> Panel:
    """Convert new observations that continue fitted data, checking that they match it.

    ``y_new`` must have the layout of the fitted data (same type; same name, columns, series
    ids, dimensions, coordinates or variables; columns, ids and variables may come in another
    order and are matched by name) and only timestamps after ``cutoff`` on the grid of
    ``freq``. The returned panel starts at ``cutoff + freq``: if ``y_new`` starts later, the
    skipped timestamps are a gap of NaN rows (reported with a
    :class:`~ssmcast.data.MissingTimestampsWarning`), as are missing timestamps inside it.
    Rows that are all NaN are allowed (a sensor that was down still moves time on).

    Args:
        y_new: The new observations.
        layout: The layout of the fitted data (``Panel.layout``).
        cutoff: The last fitted timestamp.
        freq: The fitted frequency.
        name: The argument name for messages.

    Returns:
        A panel with the fitted layout, on the grid from ``cutoff + freq`` to the last new
        timestamp.

    Raises:
        TypeError: If ``y_new`` has another type than the fitted data.
        ValueError: If it overlaps the fitted range, lies off the grid, or has other columns,
            series or coordinates; or for any problem :func:`to_panel` refuses.

    Examples:
        >>> import pandas as pd
        >>> time = pd.date_range("2024-01-01", periods=5, freq="h")
        >>> y = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], time, name="temp")
        >>> fitted = to_panel(y[:3])
        >>> new = to_update_panel(y[3:], layout=fitted.layout, cutoff=fitted.cutoff, freq="h")
        >>> new.values[0, :, 0].tolist(), new.time[0]
        ([4.0, 5.0], Timestamp('2024-01-01 03:00:00'))
    """
    offset = parse_freq(freq)
    cutoff = pd.Timestamp(cutoff)
    panel = _next_step(y_new, layout, cutoff, offset)
    if panel is not None:
        return panel
    values, time, _ = _extract(
        y_new, name=name, columns="channels", id_col=None, time_col=None, time_dim=None, like=layout
    )
    check_finite(values, time, layout.labels(), name)
    check_same_zone(time, cutoff.tz, name, "the data passed to fit")
    if time.tz is not None:
        time = time.tz_convert(cutoff.tz)  # the same instants, on the fitted clock
    if time[0] <= cutoff:
        raise ValueError(
            f"`{name}` starts at {time[0]}, which is not after the end of the data already "
            f"seen (cutoff_ = {cutoff}). Pass only new observations, e.g. "
            f"`{name}[{name}.index > f.cutoff_]` (long frames: by the time column)."
        )
    if isinstance(layout, LongLayout):
        _check_even_ends(y_new, layout, time[-1], name)
    start = cutoff + offset
    grid = pd.date_range(start, time[-1], freq=offset, name=time.name).as_unit(time.unit)
    off = time.difference(grid)
    if len(off):
        raise ValueError(
            f"The timestamps of `{name}` must continue the fitted {offset.freqstr!r} grid "
            f"(next expected {start}); {show(off)} lie off it. Resample to "
            f"{offset.freqstr!r} first."
        )
    if len(grid) > len(time):
        _warn_gaps(name, grid, time, offset)
    return Panel(_scatter(values, time, grid), grid, offset, layout, len(grid) - len(time))


def _next_step(y_new: Any, layout: Layout, cutoff: pd.Timestamp, offset: BaseOffset):
    """The panel of the streaming case, checked in microseconds; None for any other input.

    The common update is one row at the next timestamp: a Series of the fitted name, or a
    wide frame with the fitted columns in the fitted order, of plain numbers (NaN allowed,
    not infinity), on the fitted clock. That is checked here without the general path's
    index validation, grid building and reordering. Anything else (several rows, another
    order, a gap, a time zone to convert, a bad value) returns None and takes the general
    path, which accepts or refuses it with its full messages.
    """
    kind = type(y_new)
    if kind is pd.Series:
        if type(layout) is not SeriesLayout or len(y_new) != 1:
            return None
        if y_new.name is not None and y_new.name != layout.name:
            return None
    elif kind is pd.DataFrame:
        if type(layout) is not WideLayout or y_new.shape != (1, len(layout.columns)):
            return None
        if not y_new.columns.equals(layout.columns):
            return None
    else:
        return None
    time = y_new.index
    if type(time) is not pd.DatetimeIndex or time.tz != cutoff.tz:
        return None
    expected = next_timestamp(cutoff, offset)
    if expected is not None and time.unit == cutoff.unit:
        if time.asi8[0] != expected:
            return None
    elif time[0] != cutoff + offset:
        return None
    values = y_new.to_numpy()
    if values.dtype.kind not in "fiu":  # object, bool, complex, text: the general path
        return None
    values = values.astype(np.float64, copy=False)
    if np.isinf(values).any():
        return None
    shape = (layout.num_series, 1, layout.num_channels)
    if kind is pd.DataFrame and layout.columns_are == "series":
        values = values.T
    return Panel(values.reshape(shape), time, offset, layout, 0)


def _check_even_ends(y_new: pd.DataFrame, layout: LongLayout, end: pd.Timestamp, name: str):
    """Refuse a long-frame update in which some series end before the others.

    Time moves on for all series at once (one cutoff), so a series whose new rows stop
    early would be padded with missing values up to the others' end, and its late rows
    refused ever after.
    """
    last = pd.to_datetime(y_new.groupby(layout.id_col, sort=False)[layout.time_col].max())
    short = last[last < end]
    if len(short):
        raise ValueError(
            f"In `{name}` the series {show([str(k) for k in short.index])} end before "
            f"{end}, where the others end; every series must have rows up to the same time "
            "(one cutoff for all). Add rows with NaN for the values not yet known (they "
            "are missing values to the model), or hold back the other series' rows until "
            "these arrive."
        )


def check_same_zone(time: pd.DatetimeIndex, tz, name: str, other: str) -> None:
    """Refuse naive timestamps where the reference's are zone-aware, and the reverse.

    Examples:
        >>> naive = pd.date_range("2024-01-01", periods=2, freq="h")
        >>> check_same_zone(naive.tz_localize("UTC"), None, "y_new", "the data passed to fit")
        Traceback (most recent call last):
        ...
        ValueError: `y_new` has timestamps in the time zone UTC, but the data passed to fit has timestamps without a time zone; ...
    """  # noqa: E501
    if (time.tz is None) == (tz is None):
        return  # both naive, or both instants (read in the reference's zone by the callers)
    if tz is None:
        fix = "drop the zone with `.tz_convert(None)` (UTC) or `.tz_localize(None)` (local)"
    else:
        fix = f"give them its zone with `.tz_localize({str(tz)!r})`"
    mine = "without a time zone" if time.tz is None else f"in the time zone {time.tz}"
    theirs = "without a time zone" if tz is None else f"in the time zone {tz}"
    raise ValueError(f"`{name}` has timestamps {mine}, but {other} has timestamps {theirs}; {fix}.")


def _span(time: pd.DatetimeIndex) -> str:
    return f"{time[0]} to {time[-1]} ({len(time)} steps)"


class Covariates(NamedTuple):
    """Covariates aligned to the target: values and the names of their channels.

    Attributes:
        values: ``(1 or num_series, num_timesteps, num_covariates)`` float64, NaN where
            missing.
        names: The covariates' names (columns, variables), or positions (``"#0"``, ...)
            where they have none.
    """

    values: np.ndarray
    names: tuple[str, ...]


def align_covariates(
    X: Any, *, layout: Layout, time: pd.DatetimeIndex, name: str = "X", target: str = "`y`"
) -> np.ndarray | None:
    """Convert covariates and check them against the target's timestamps and series.

    ``X`` may be any layout :func:`to_panel` accepts. It must cover exactly the timestamps of
    ``time`` (the target's grid, or the future index when forecasting). Covariates without
    series keys (a Series, a wide frame, xarray without the series dimensions) are shared by
    all series; keyed covariates (a long frame, xarray with the series dimensions) must have
    the target's ids or coordinates, and are matched to them by key. :func:`to_covariates`
    also returns their names and matches them to the names seen at fit.

    Args:
        X: The covariates, or None.
        layout: The target's layout.
        time: The timestamps ``X`` must cover, with ``freq`` set.
        name: The argument name for messages.
        target: What ``time`` belongs to, for messages.

    Returns:
        None when ``X`` is None; else a float64 array ``(1 or num_series, len(time),
        num_covariates)`` (NaN where a covariate is missing).

    Raises:
        ValueError: If ``X`` covers other timestamps or other series; or for any problem
            :func:`to_panel` refuses.

    Examples:
        >>> import pandas as pd
        >>> time = pd.date_range("2024-01-01", periods=3, freq="h")
        >>> y = to_panel(pd.Series([1.0, 2.0, 3.0], time))
        >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0]}, index=time)
        >>> align_covariates(X, layout=y.layout, time=y.time).shape
        (1, 3, 1)
    """
    covariates = to_covariates(X, layout=layout, time=time, name=name, target=target)
    return None if covariates is None else covariates.values


def _positional(names) -> bool:
    return all(n.startswith("#") for n in names)


def to_covariates(
    X: Any,
    *,
    layout: Layout,
    time: pd.DatetimeIndex,
    name: str = "X",
    target: str = "`y`",
    names: Sequence[str] | None = None,
) -> Covariates | None:
    """:func:`align_covariates` with the covariates' names, matched to ``names`` if given.

    Covariates are matched by name, never by position: given the ``names`` seen at fit,
    the channels of ``X`` are put in that order, and a missing or unknown name is refused.
    Covariates without names (an unnamed Series or DataArray) match by position, and their
    number must agree.

    Args:
        X: The covariates, or None.
        layout: The target's layout.
        time: The timestamps ``X`` must cover, with ``freq`` set.
        name: The argument name for messages.
        target: What ``time`` belongs to, for messages.
        names: The covariates' names at fit, or None (at fit).

    Returns:
        None when ``X`` is None; else :class:`Covariates`.

    Raises:
        ValueError: For what :func:`align_covariates` refuses, and for names that differ
            from ``names``.

    Examples:
        >>> import pandas as pd
        >>> time = pd.date_range("2024-01-01", periods=2, freq="h")
        >>> y = to_panel(pd.Series([1.0, 2.0], time))
        >>> X = pd.DataFrame({"b": [5.0, 6.0], "a": [0.0, 1.0]}, index=time)
        >>> cov = to_covariates(X, layout=y.layout, time=y.time, names=("a", "b"))
        >>> cov.names, cov.values[0, 0].tolist()  # reordered to the fitted names
        (('a', 'b'), [0.0, 5.0])
    """
    if X is None:
        return None
    options = {}
    if isinstance(layout, LongLayout):
        options = {"id_col": layout.id_col, "time_col": layout.time_col}
    elif isinstance(layout, _XarrayLayout):
        options = {"time_dim": layout.time_dim}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingTimestampsWarning)
        covariates = to_panel(X, freq=time.freq, name=name, **options)
    check_same_zone(covariates.time, time.tz, name, target)
    covariate_time = covariates.time
    if covariate_time.tz is not None:
        covariate_time = covariate_time.tz_convert(time.tz)
    if not covariate_time.equals(time):
        raise ValueError(
            f"{target} covers {_span(time)} but `{name}` covers {_span(covariates.time)}; they "
            f"must cover the same timestamps. Select them, e.g. "
            f"`{name}.loc[{str(time[0])!r}:{str(time[-1])!r}]`."
        )
    keys, target_keys = covariates.layout.series_keys, layout.series_keys
    if keys is None and covariates.num_series == 1:
        values = covariates.values
    elif target_keys is None or set(keys) != set(target_keys) or len(keys) != len(target_keys):
        raise ValueError(
            f"`{name}` has series {show(list(keys))} but {target} has "
            f"{show(list(target_keys)) if target_keys else 'a single unnamed series'}. Pass "
            "covariates for the same series, or shared ones without series ids."
        )
    else:
        values = covariates.values[[keys.index(k) for k in target_keys]]
    own = covariates.layout.channel_names()
    if own is None:
        own = [f"#{i}" for i in range(covariates.num_channels)]
    if names is None:
        return Covariates(values, tuple(own))
    names = tuple(names)
    if _positional(names) or _positional(own):  # no names on one side: match by position
        if len(own) != len(names):
            raise ValueError(
                f"`{name}` must hold the {len(names)} covariate(s) the model was fitted with. "
                f"Got {len(own)}."
            )
        return Covariates(values, names)
    if set(own) != set(names) or len(own) != len(names):
        missing = [n for n in names if n not in own]
        unknown = [n for n in own if n not in names]
        raise ValueError(
            f"`{name}` must hold the covariates the model was fitted with, {show(list(names))}, "
            f"matched by name. Missing: {show(missing) if missing else 'none'}; unknown: "
            f"{show(unknown) if unknown else 'none'}. Pass the same columns (in any order)."
        )
    return Covariates(values[..., [own.index(n) for n in names]], names)
