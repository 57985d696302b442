"""Features that are pure functions of the time index: calendar cycles and time steps."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from ssmcast.data._frequency import nominal_step, parse_freq, regular_grid

__all__ = ["CalendarFeatures", "calendar_feature_names", "calendar_features", "time_deltas"]

_DAY = pd.Timedelta(days=1)


class CalendarFeatures(NamedTuple):
    """Calendar features of a time index.

    Attributes:
        values: Array of shape ``(num_timesteps, num_features)``, each in [-1, 1].
        names: Feature names, such as ``("hour_sin", "hour_cos", ...)``.
    """

    values: np.ndarray
    names: tuple[str, ...]


def _time_and_offset(time, freq, function: str) -> tuple[pd.DatetimeIndex, pd.DateOffset]:
    """The index and its frequency as an offset (``freq``, else the index's own)."""
    if type(time) is not pd.DatetimeIndex:
        time = pd.DatetimeIndex(time)
    if freq is None:
        freq = time.freq
    if freq is None:
        raise ValueError(
            f"The 'freq' argument of {function} is needed when the index has no freq; pass "
            "e.g. freq='h'."
        )
    return time, parse_freq(freq)


def calendar_feature_names(freq: object) -> tuple[str, ...]:
    """The calendar features that suit a frequency, in the order of :func:`calendar_features`.

    A cycle is used when a step is shorter than it, so that it varies from step to step:
    time of day (``hour_*``) for steps under a day, day of week (``dow_*``) for steps under a
    week, day of year (``doy_*``) for steps under a year. Yearly data gets none.

    Examples:
        >>> calendar_feature_names("h")
        ('hour_sin', 'hour_cos', 'dow_sin', 'dow_cos', 'doy_sin', 'doy_cos')
        >>> calendar_feature_names("D")
        ('dow_sin', 'dow_cos', 'doy_sin', 'doy_cos')
        >>> calendar_feature_names("MS")
        ('doy_sin', 'doy_cos')
    """
    step = nominal_step(freq)
    cycles = []
    if step < _DAY:
        cycles.append("hour")
    if step < 7 * _DAY:
        cycles.append("dow")
    if step < 365 * _DAY:
        cycles.append("doy")
    return tuple(f"{cycle}_{part}" for cycle in cycles for part in ("sin", "cos"))


@lru_cache(maxsize=64)
def _feature_names(offset) -> tuple[str, ...]:
    return calendar_feature_names(offset)


def _phases(time: pd.DatetimeIndex, cycles: set[str]) -> dict[str, np.ndarray]:
    """The phase in [0, 1) of each calendar cycle at each timestamp, on the wall clock.

    Computed with integer arithmetic on the timestamps (whole seconds, as an hour, minute and
    second reading gives), so one timestamp costs microseconds, not the pandas field accessors'
    hundreds of them: the streaming path calls this once per new observation.
    """
    wall = time.tz_localize(None) if time.tz is not None else time  # read on its own clock
    seconds = np.asarray(wall.values).astype("datetime64[s]").view(np.int64)
    days = seconds // 86_400  # floor: right for dates before 1970 too
    day_fraction = (seconds - days * 86_400) / 86_400
    phases = {"hour": day_fraction}
    if "dow" in cycles:
        phases["dow"] = ((days + 3) % 7 + day_fraction) / 7  # 1970-01-01 was a Thursday (3)
    if "doy" in cycles:
        years = days.astype("datetime64[D]").astype("datetime64[Y]")
        day_of_year = days - years.astype("datetime64[D]").view(np.int64)  # from 0
        year = years.view(np.int64) + 1970
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        phases["doy"] = (day_of_year + day_fraction) / np.where(leap, 366.0, 365.0)
    return phases


def calendar_features(time: pd.DatetimeIndex, freq: object = None) -> CalendarFeatures:
    r"""Sine and cosine of the calendar cycles at each timestamp.

    For a cycle with phase :math:`\phi \in [0, 1)` the pair is
    :math:`(\sin 2\pi\phi, \cos 2\pi\phi)`, so the end of a cycle meets its start. Phases:
    time of day ``(hour + minute / 60 + second / 3600) / 24``; day of week
    ``(weekday + time of day) / 7`` with Monday 0; day of year
    ``(day of year - 1 + time of day) / days in that year``. Which cycles are used depends on
    the frequency (see :func:`calendar_feature_names`). Timestamps are read on their own clock
    (local time for a tz-aware index).

    Args:
        time: The timestamps.
        freq: The frequency; ``time.freq`` when None.

    Returns:
        The features and their names.

    Raises:
        ValueError: If there is no frequency to choose the cycles by.

    Examples:
        >>> time = pd.date_range("2024-01-01", periods=3, freq="6h")
        >>> feats = calendar_features(time)
        >>> feats.names[:2], feats.values.shape
        (('hour_sin', 'hour_cos'), (3, 6))
        >>> feats.values[:, 0].round(3).tolist()  # sin of the time of day: 0h, 6h, 12h
        [0.0, 1.0, 0.0]
    """
    time, offset = _time_and_offset(time, freq, "calendar_features")
    names = _feature_names(offset)
    phases = _phases(time, {name.split("_")[0] for name in names})
    columns = []
    for feature in names:
        cycle, part = feature.split("_")
        angle = 2 * np.pi * phases[cycle]
        columns.append(np.sin(angle) if part == "sin" else np.cos(angle))
    values = np.stack(columns, axis=1) if columns else np.zeros((len(time), 0))
    return CalendarFeatures(values.astype(np.float64), names)


def time_deltas(time: pd.DatetimeIndex, freq: object = None) -> np.ndarray:
    """The time step before each timestamp, in units of the frequency.

    ``dt[0]`` is 1 by convention (the step before the first observation is unknown). When the
    timestamps lie on the regular grid of ``freq``, ``dt[i]`` is the number of grid steps from
    ``time[i - 1]`` to ``time[i]`` (exact for months and years too); otherwise it is the
    elapsed time divided by the nominal step (see :func:`nominal_step`). On a regular grid
    without gaps every ``dt`` is 1.

    Args:
        time: Sorted timestamps.
        freq: The frequency; ``time.freq`` when None.

    Returns:
        Float64 array of shape ``(num_timesteps,)``.

    Raises:
        ValueError: If there is no frequency.

    Examples:
        >>> time = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 04:00"])
        >>> time_deltas(time, "h").tolist()
        [1.0, 1.0, 3.0]
        >>> time_deltas(pd.DatetimeIndex(["2024-01-01", "2024-03-01"]), "MS").tolist()
        [1.0, 2.0]
    """
    time, offset = _time_and_offset(time, freq, "time_deltas")
    dt = np.ones(len(time), dtype=np.float64)
    if len(time) < 2:
        return dt
    grid = regular_grid(time, offset)
    position = grid.get_indexer(time)
    if grid[0] == time[0] and (position >= 0).all():
        dt[1:] = np.diff(position)
    else:
        dt[1:] = np.diff(time.to_numpy()) / nominal_step(offset).to_timedelta64()
    return dt
