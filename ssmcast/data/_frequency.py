"""Frequencies: inference from timestamps, the regular grid, the future index, season lengths.

A frequency is a pandas offset (``pd.offsets.Hour()``, ``MonthBegin()``, ...). Timestamps
lie on a *regular grid* ``start, start + freq, start + 2 freq, ...``; timestamps absent from
the grid are *gaps*, which the converters insert as NaN rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

from ssmcast.data._validate import check_horizon, show

__all__ = ["future_index", "infer_freq", "nominal_step", "regular_grid", "season_length"]

_DAY = pd.Timedelta(days=1)
# Nominal lengths of the calendar offsets that have no fixed duration.
_CALENDAR_DAYS = {
    "Day": 1.0,  # a calendar day in pandas 3.0, which pd.Timedelta refuses (3.1 accepts it)
    "BusinessDay": 1.0,
    "Week": 7.0,
    "MonthBegin": 365.25 / 12,
    "MonthEnd": 365.25 / 12,
    "SemiMonthBegin": 365.25 / 24,
    "SemiMonthEnd": 365.25 / 24,
    "QuarterBegin": 365.25 / 4,
    "QuarterEnd": 365.25 / 4,
    "YearBegin": 365.25,
    "YearEnd": 365.25,
}


def parse_freq(freq: object, name: str = "freq") -> BaseOffset:
    """Turn a frequency alias (``"h"``, ``"30min"``, ``"MS"``) or offset into an offset.

    Examples:
        >>> parse_freq("30min")
        <30 * Minutes>
    """
    if isinstance(freq, BaseOffset):
        return freq
    try:
        return to_offset(freq)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"The '{name}' argument must be a pandas frequency alias such as 'h', '30min', 'D' "
            f"or 'MS', or a pd.DateOffset. Got {freq!r} ({err})."
        ) from None


def nominal_step(freq: object) -> pd.Timedelta:
    """The typical duration of one step of ``freq``.

    Fixed offsets (hours, minutes, days) have an exact duration; calendar offsets have a
    nominal one: a week is 7 days, a month 365.25/12 days, a year 365.25 days, a business
    day 1 day.

    Args:
        freq: A frequency alias or offset.

    Returns:
        The duration of one step.

    Raises:
        ValueError: For an offset whose duration is not known.

    Examples:
        >>> nominal_step("30min")
        Timedelta('0 days 00:30:00')
        >>> nominal_step("MS").days
        30
        >>> nominal_step("D")  # a calendar offset in pandas 3.0
        Timedelta('1 days 00:00:00')
    """
    offset = parse_freq(freq)
    try:
        return pd.Timedelta(offset)
    except (TypeError, ValueError):
        pass
    days = _CALENDAR_DAYS.get(type(offset).__name__)
    if days is None:
        raise ValueError(
            f"ssmcast does not know the duration of one step of frequency {offset.freqstr!r}; "
            "resample the data to a fixed or monthly/weekly/yearly frequency."
        )
    return pd.Timedelta(days=days * offset.n)


def regular_grid(time: pd.DatetimeIndex, freq: object) -> pd.DatetimeIndex:
    """The regular grid from ``time[0]`` to ``time[-1]`` with step ``freq``.

    Examples:
        >>> time = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 03:00"])
        >>> regular_grid(time, "h").strftime("%H").tolist()
        ['00', '01', '02', '03']
    """
    offset = parse_freq(freq)
    grid = pd.date_range(time[0], time[-1], freq=offset, name=time.name)
    return grid.as_unit(time.unit)


def _on_grid(time: pd.DatetimeIndex, offset: BaseOffset) -> bool:
    grid = regular_grid(time, offset)
    return len(grid) > 0 and grid[0] == time[0] and bool(time.isin(grid).all())


def _candidates(time: pd.DatetimeIndex, step: pd.Timedelta) -> list[BaseOffset]:
    """Offsets that a most common step ``step`` could stand for, most specific first."""
    days = step / _DAY
    first = time[0]
    found: list[BaseOffset] = []
    if days == 7:
        found.append(pd.offsets.Week(weekday=first.weekday()))
    elif 28 <= days <= 31:
        found += [pd.offsets.MonthBegin(), pd.offsets.MonthEnd()]
    elif 89 <= days <= 92:
        found += [pd.offsets.MonthBegin(3), pd.offsets.MonthEnd(3)]
    elif 365 <= days <= 366:
        found += [pd.offsets.YearBegin(month=first.month), pd.offsets.YearEnd(month=first.month)]
    found.append(to_offset(step))
    return found


def infer_freq(time: pd.DatetimeIndex, freq: object = None, *, name: str = "y") -> BaseOffset:
    """Find the frequency of sorted, unique timestamps, allowing gaps.

    In order: the ``freq`` argument if given (the timestamps must lie on its grid); the
    index's own ``freq``; the frequency pandas infers from a gap-free index; otherwise the most
    common step between timestamps, if every timestamp lies on the regular grid it spans (the
    missing ones are then gaps). Steps of about a week, month, quarter or year are matched to
    the calendar offsets (``W-SAT``, ``MS``, ``ME``, ...).

    Args:
        time: Sorted, unique timestamps.
        freq: A frequency alias or offset to use instead of inferring one.
        name: The argument the timestamps came from, for messages.

    Returns:
        The frequency as a pandas offset.

    Raises:
        ValueError: If ``freq`` is not a frequency, the timestamps are not on its grid, there
            is a single timestamp and no ``freq``, or the steps fit no regular grid.

    Examples:
        >>> time = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00"])
        >>> infer_freq(time)
        <Hour>
        >>> infer_freq(pd.DatetimeIndex(["2024-01-01", "2024-03-01", "2024-04-01"]))
        <MonthBegin>
    """
    if freq is not None:
        offset = parse_freq(freq)
        if not _on_grid(time, offset):
            off = time.difference(regular_grid(time, offset))
            where = f"{show(off)}" if len(off) else f"the first one, {time[0]}"
            raise ValueError(
                f"The timestamps of `{name}` do not lie on the {offset.freqstr!r} grid that "
                f"starts at {time[0]}: {where} is off it. Pass the right freq, or resample "
                f"first, e.g. `{name}.resample({offset.freqstr!r}).mean()`."
            )
        return offset
    if time.freq is not None:
        return time.freq
    if len(time) < 2:
        raise ValueError(
            f"Cannot infer the frequency of `{name}` from a single timestamp ({time[0]}). "
            "Pass more data or the frequency, e.g. freq='h'."
        )
    if len(time) >= 3:
        inferred = pd.DatetimeIndex(time, freq="infer").freq
        if inferred is not None:
            return inferred
    steps, counts = np.unique(np.diff(time.to_numpy()), return_counts=True)
    step = pd.Timedelta(steps[np.argmax(counts)])
    for offset in _candidates(time, step):
        if _on_grid(time, offset):
            return offset
    order = np.argsort(-counts)[:3]
    common = ", ".join(f"{pd.Timedelta(steps[i])} ({counts[i]} times)" for i in order)
    raise ValueError(
        f"The timestamps of `{name}` are irregular: the most common steps are {common}, and "
        "they fit no regular grid. If they lie on one, pass it, e.g. freq='h'; otherwise "
        f"resample first, e.g. `{name}.resample('h').mean()`."
    )


def future_index(
    cutoff: pd.Timestamp, freq: object, horizon: int, name: str | None = None
) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps after ``cutoff``: ``cutoff + freq, cutoff + 2 freq, ...``.

    Args:
        cutoff: The last timestamp of the data.
        freq: The frequency.
        horizon: Number of future steps, a positive int.
        name: Name of the returned index.

    Returns:
        A regular ``DatetimeIndex`` with ``freq`` set, in the unit and time zone of ``cutoff``.

    Examples:
        >>> future_index(pd.Timestamp("2024-01-31"), "MS", 2).strftime("%Y-%m-%d").tolist()
        ['2024-02-01', '2024-03-01']
    """
    horizon = check_horizon(horizon, "future_index", "argument")
    offset = parse_freq(freq)
    cutoff = pd.Timestamp(cutoff)
    grid, position = _grid_after(cutoff, offset, horizon, name)
    if grid is not None:
        return grid[position : position + horizon]
    index = pd.date_range(cutoff + offset, periods=horizon, freq=offset, name=name)
    return index.as_unit(cutoff.unit)


def next_timestamp(cutoff: pd.Timestamp, offset: BaseOffset) -> np.int64 | None:
    """``cutoff + offset`` as an integer in ``cutoff``'s unit, from the cached grid.

    None when ``cutoff`` lies off the grid of ``offset`` (the caller computes it then).
    """
    grid, position = _grid_after(cutoff, offset, 1, None)
    return None if grid is None else grid.asi8[position]


# (offset, time zone, unit, name) -> a DatetimeIndex of the grid from some past cutoff on.
# A stream moves its cutoff one step at a time: the future index of each forecast is then a
# slice of this grid (microseconds) instead of a new ``pd.date_range`` (tens of them).
_GRIDS: dict[tuple, pd.DatetimeIndex] = {}
_GRID_STEPS = 1024


def _grid_after(cutoff: pd.Timestamp, offset: BaseOffset, steps: int, name):
    """``(grid, i)`` with ``grid[i : i + steps]`` the ``steps`` timestamps after ``cutoff``.

    ``(None, 0)`` when ``cutoff`` is not on the grid of ``offset`` (an anchored offset such
    as month starts with a cutoff mid-month): ``pd.date_range`` would roll it forward.
    """
    key = (offset, cutoff.tz, cutoff.unit, name)
    try:
        grid = _GRIDS.get(key)
    except TypeError:  # an unhashable name
        return None, 0
    value = cutoff.asm8.view(np.int64)
    if grid is not None:
        where = int(np.searchsorted(grid.asi8, value))
        if where + steps < len(grid) and grid.asi8[where] == value:
            return grid, where + 1
    grid = pd.date_range(cutoff, periods=max(_GRID_STEPS, 2 * steps) + 1, freq=offset, name=name)
    grid = grid.as_unit(cutoff.unit)
    if grid[0] != cutoff:
        return None, 0
    if len(_GRIDS) >= 64:  # many series' clocks: keep the cache small
        _GRIDS.clear()
    _GRIDS[key] = grid
    return grid, 1


def season_length(freq: object) -> int:
    """The number of steps in one seasonal cycle, from the frequency.

    ======================================  ==============  ===============
    frequency                               cycle           season length
    ======================================  ==============  ===============
    step below a day that divides a day     daily           steps per day:
                                                            24 hourly, 48
                                                            half-hourly,
                                                            144 10-minute
    other steps below a day (e.g. ``7h``)   none            1
    business day (``B``)                    weekly          5
    day (``D``)                             weekly          7
    other multi-day steps (``2D``)          none            1
    week (``W``, ``7D``)                    yearly          52
    month (``MS``, ``ME``)                  yearly          12
    quarter (``QS``, ``3MS``)               yearly          4
    year and longer                         none            1
    ======================================  ==============  ===============

    Args:
        freq: A frequency alias or offset.

    Returns:
        The season length, 1 when the frequency has no natural cycle.

    Examples:
        >>> [season_length(f) for f in ["h", "30min", "10min", "D", "W-SAT", "MS", "YS"]]
        [24, 48, 144, 7, 52, 12, 1]
    """
    offset = parse_freq(freq)
    kind = type(offset).__name__
    if kind == "BusinessDay" and offset.n == 1:
        return 5
    if kind in ("MonthBegin", "MonthEnd"):
        return {1: 12, 3: 4}.get(offset.n, 1)
    if kind in ("QuarterBegin", "QuarterEnd"):
        return 4 if offset.n == 1 else 1
    if kind in ("YearBegin", "YearEnd"):
        return 1
    step = nominal_step(offset)
    if step < _DAY:
        steps_per_day = _DAY / step
        return int(steps_per_day) if steps_per_day == int(steps_per_day) else 1
    if step == _DAY:
        return 7
    if step == 7 * _DAY:
        return 52
    return 1
