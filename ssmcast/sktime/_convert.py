"""sktime's containers to ssmcast's long frames and back: time indexes, instances, columns.

sktime hands a forecaster a ``pd.DataFrame`` (one series, a column per variable) or a frame
with a row MultiIndex ``(instance..., time)`` (panel and hierarchical data), on a
``DatetimeIndex``, a ``PeriodIndex`` or an integer index. ssmcast reads long frames
(``unique_id``, ``ds``, value columns) on a regular ``DatetimeIndex``. This module converts one
into the other, and remembers how (a :class:`Frames`), so that new data and forecast
timestamps are converted the same way.

Integer indexes carry no calendar: step ``k`` becomes ``2000-01-01 + k`` microseconds (on the
grid of the fitted index's spacing), so the calendar features that ssmcast computes from the
time of day, week and year stay constant (they change by less than 1/86,400 of a day per
million steps) and tell the network nothing; there is no season unless one is given.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["Frames", "TimeAxis"]

ID, TIME = "unique_id", "ds"
_ANCHOR = pd.Timestamp("2000-01-01")
_MICRO = pd.offsets.Micro()


class TimeAxis(NamedTuple):
    """How an sktime time index maps onto a regular ``DatetimeIndex``.

    Attributes:
        kind: ``"datetime"``, ``"period"`` or ``"integer"``.
        freq: The ``DatetimeIndex`` frequency that ssmcast works on.
        origin: For integer indexes, the value mapped to the anchor timestamp.
        step: For integer indexes, the spacing of the index (one step of ``freq``).
    """

    kind: str
    freq: pd.DateOffset
    origin: int = 0
    step: int = 1

    @classmethod
    def from_index(cls, time: pd.Index, freq: Any, name: str) -> TimeAxis:
        """The axis of the (sorted, unique) time values of the data passed to fit."""
        if isinstance(time, pd.PeriodIndex):
            stamps = time.to_timestamp(how="start")
            offset = stamps.freq or _infer(stamps) or _period_start_offset(time.freq)
            return cls("period", offset)
        if isinstance(time, pd.DatetimeIndex):
            offset = freq if freq is not None else (time.freq or _infer(time))
            if offset is None:
                raise ValueError(
                    f"The time index of `{name}` has no regular frequency, and none could be "
                    f"inferred from its {len(time)} timestamps. Put the data on a regular grid "
                    f"(e.g. `{name}.asfreq('D')`), or pass freq='D' to SSMCastForecaster."
                )
            return cls("datetime", pd.tseries.frequencies.to_offset(offset))
        if pd.api.types.is_integer_dtype(time.dtype):
            values = np.asarray(time, dtype=np.int64)
            if isinstance(time, pd.RangeIndex) and len(time) > 1:
                step = abs(int(time.step))
            else:
                gaps = np.diff(np.unique(values))
                step = int(np.gcd.reduce(gaps)) if len(gaps) else 1
            return cls("integer", _MICRO, int(values.min()), max(step, 1))
        raise TypeError(
            f"The time index of `{name}` must be a DatetimeIndex, a PeriodIndex or an integer "
            f"index. Got {type(time).__name__} of dtype {time.dtype}."
        )

    def to_datetime(self, time: pd.Index, name: str) -> pd.DatetimeIndex:
        """The timestamps that ssmcast sees for sktime time values of this axis."""
        if self.kind == "period":
            if not isinstance(time, pd.PeriodIndex):
                raise TypeError(
                    f"The time index of `{name}` must be a PeriodIndex, like the data passed "
                    f"to fit. Got {type(time).__name__}."
                )
            return pd.DatetimeIndex(time.to_timestamp(how="start"))
        if self.kind == "datetime":
            if not isinstance(time, pd.DatetimeIndex):
                raise TypeError(
                    f"The time index of `{name}` must be a DatetimeIndex, like the data passed "
                    f"to fit. Got {type(time).__name__}."
                )
            return pd.DatetimeIndex(time)
        if not pd.api.types.is_integer_dtype(time.dtype):
            raise TypeError(
                f"The time index of `{name}` must be an integer index, like the data passed "
                f"to fit. Got {type(time).__name__} of dtype {time.dtype}."
            )
        offset = np.asarray(time, dtype=np.int64) - self.origin
        steps, rest = np.divmod(offset, self.step)
        if rest.any():
            bad = np.asarray(time)[np.flatnonzero(rest)[0]]
            raise ValueError(
                f"The time index of `{name}` has the value {bad}, which is off the grid of the "
                f"data passed to fit (from {self.origin} in steps of {self.step})."
            )
        return pd.DatetimeIndex(_ANCHOR + pd.to_timedelta(steps, unit="us"))


def _infer(stamps: pd.DatetimeIndex) -> pd.DateOffset | None:
    if len(stamps) < 3:
        return None
    alias = pd.infer_freq(stamps)
    return None if alias is None else pd.tseries.frequencies.to_offset(alias)


def _period_start_offset(freq: pd.DateOffset) -> pd.DateOffset:
    """The offset between the starts of consecutive periods (a short PeriodIndex)."""
    start = pd.Period("2001-01-01", freq=freq)
    stamps = pd.period_range(start, periods=3, freq=freq).to_timestamp(how="start")
    return pd.tseries.frequencies.to_offset(pd.infer_freq(stamps))


def _split(frame: pd.DataFrame) -> tuple[pd.Index | None, pd.Index]:
    """The instance keys (None for one series) and the time values of each row."""
    if isinstance(frame.index, pd.MultiIndex):
        keys = frame.index.droplevel(-1)
        if isinstance(keys, pd.MultiIndex):
            keys = keys.to_flat_index()
        return keys, frame.index.get_level_values(-1)
    return None, frame.index


class Frames:
    """The conversions fixed at fit: instances, value columns and the time axis.

    Args:
        y: The ``y`` that sktime passed to ``_fit`` (a DataFrame, maybe with a row
            MultiIndex whose last level is time).
        freq: A frequency for a DatetimeIndex without one; inferred when None.
    """

    def __init__(self, y: pd.DataFrame, freq: Any = None):
        keys, time = _split(y)
        self.panel = keys is not None
        if self.panel:
            _, instances = pd.factorize(keys, sort=False)
            self.instances = list(instances)
            self.instance_names = list(y.index.names[:-1])
        else:
            self.instances, self.instance_names = [0], []
        self.time_name = y.index.names[-1]
        self.columns = y.columns
        unique = time.unique().sort_values() if self.panel else time
        self.axis = TimeAxis.from_index(unique, freq, "y")

    @property
    def num_series(self) -> int:
        """The number of series (instances)."""
        return len(self.instances)

    def _codes(self, frame: pd.DataFrame, keys: pd.Index | None, name: str) -> np.ndarray:
        if keys is None:
            if self.panel:
                raise ValueError(
                    f"`{name}` must have a row MultiIndex (instance, ..., time), like the "
                    f"panel data passed to fit. Got a {type(frame.index).__name__}."
                )
            return np.zeros(len(frame), dtype=np.int64)
        codes = pd.Index(self.instances).get_indexer(keys) if self.panel else None
        if codes is None or (codes < 0).any():
            unknown = [] if codes is None else list(pd.Index(keys)[codes < 0].unique()[:5])
            raise ValueError(
                f"`{name}` holds instances that the data passed to fit did not have "
                f"{unknown or ''}. ssmcast forecasts the series it was fitted on; refit to add "
                "series."
            )
        return codes

    def to_long(
        self, frame: pd.DataFrame, name: str, columns: list[str], after: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """The long frame (``unique_id``, ``ds``, ``columns``) of an sktime frame.

        Args:
            frame: A frame in the container of the data passed to fit.
            name: The argument's name, for messages.
            columns: Names for the value columns, in order.
            after: Keep only the rows after this timestamp (ssmcast time).
        """
        keys, time = _split(frame)
        codes = self._codes(frame, keys, name)
        stamps = self.axis.to_datetime(pd.Index(time), name)
        values = frame.to_numpy()
        long = pd.DataFrame(values, columns=columns)
        long.insert(0, TIME, stamps)
        long.insert(0, ID, codes)
        if after is not None:
            long = long[long[TIME] > after]
        return long.sort_values([ID, TIME], kind="stable").reset_index(drop=True)

    def covariate_names(self, X: pd.DataFrame) -> list[str]:
        """Names of the covariates as ssmcast sees them (the column names as text)."""
        names = [str(c) for c in X.columns]
        if len(set(names)) != len(names) or {ID, TIME} & set(names):
            raise ValueError(
                f"The columns of `X` must have distinct names, none of them {ID!r} or {TIME!r} "
                f"(as text). Got {list(X.columns)}; rename them."
            )
        return names

    def value_names(self) -> list[str]:
        """Value-column names for ``y`` in the long frame: ``y0``, ``y1``, ..."""
        return [f"y{j}" for j in range(len(self.columns))]

    def complete(self, long: pd.DataFrame) -> pd.DataFrame:
        """Add a row of NaN for each fitted series that ``long`` lacks (an update)."""
        missing = np.setdiff1d(np.arange(self.num_series), long[ID].unique())
        if not len(missing) or long.empty:
            return long
        first = long[TIME].min()
        pad = pd.DataFrame({ID: missing, TIME: first})
        return (
            pd.concat([long, pad], ignore_index=True)
            .sort_values([ID, TIME], kind="stable")
            .reset_index(drop=True)
        )

    def output_index(self, absolute: pd.Index) -> pd.Index:
        """The row index of an output: the forecast times, per instance for panels."""
        if not self.panel:
            index = absolute.copy()
            index.name = self.time_name
            return index
        steps = len(absolute)
        arrays = []
        width = len(self.instance_names)
        for level in range(width):
            values = [key[level] if width > 1 else key for key in self.instances]
            arrays.append(np.repeat(np.asarray(values, dtype=object), steps))
        arrays.append(absolute[np.tile(np.arange(steps), self.num_series)])
        return pd.MultiIndex.from_arrays(arrays, names=[*self.instance_names, self.time_name])


def stack(values: np.ndarray, num_series: int) -> np.ndarray:
    """``(num_series * steps, k)`` rows of a long output to ``(num_series, steps, k)``."""
    return values.reshape(num_series, -1, values.shape[-1])
