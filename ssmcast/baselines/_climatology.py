"""The :class:`Climatology` baseline: the mean at the same time of day and time of year."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from ssmcast._checks import check_int
from ssmcast.base import Fitted
from ssmcast.baselines._base import _Baseline, history_fields
from ssmcast.data import Panel, future_index, nominal_step

__all__ = ["Climatology", "ClimatologyState"]

_DAY = pd.Timedelta(days=1)
_DAYS_IN_YEAR = 366  # day-of-year positions 0..365


class ClimatologyState(NamedTuple):
    """The fitted state of :class:`Climatology`.

    Attributes:
        history: The values passed to ``fit``, ``(num_series, num_timesteps, num_channels)``.
        history_time: Their timestamps.
        num_steps: Time steps seen (``fit`` and ``update``).
        slot: The length of a time-of-day slot, or None for a single slot per day.
        table: The climatology, ``(num_series, num_slots, 366, num_channels)``: the value at
            each time-of-day slot and day of year (0 for 1 January).
    """

    history: np.ndarray
    history_time: pd.DatetimeIndex
    num_steps: int
    slot: pd.Timedelta | None
    table: np.ndarray


def _positions(slot: pd.Timedelta | None, time: pd.DatetimeIndex) -> tuple[np.ndarray, ...]:
    """The time-of-day slot and the day of year (from 0) of each timestamp.

    For a naive index, NumPy datetime arithmetic in the index's unit (exact, and microseconds
    for the few timestamps of a forecast, where pandas' field accessors take hundreds).
    """
    if time.tz is not None:  # elapsed time since local midnight (DST days have 23 or 25 h)
        slots = 0 if slot is None else np.asarray((time - time.normalize()) // slot, dtype=int)
        return np.zeros(len(time), dtype=int) + slots, time.day_of_year.to_numpy() - 1
    stamps = np.asarray(time.values)
    days = stamps.astype("datetime64[D]")
    day = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(int)
    if slot is None:
        return np.zeros(len(time), dtype=int), day
    return ((stamps - days) // slot.to_timedelta64()).astype(int), day


def _lookup(state: ClimatologyState, time: pd.DatetimeIndex) -> np.ndarray:
    """The climatology at ``time``: ``(num_series, len(time), num_channels)``."""
    slot, day = _positions(state.slot, time)
    return state.table[:, slot, day]


def _table(panel: Panel, slot: pd.Timedelta | None, num_slots: int, window: int) -> np.ndarray:
    """Windowed means per slot and day of year, with the slot and overall means as fallbacks."""
    slots, day = _positions(slot, panel.time)
    values = panel.values
    observed = ~np.isnan(values)
    shape = (panel.num_series, num_slots, _DAYS_IN_YEAR, panel.num_channels)
    sums, counts = np.zeros(shape), np.zeros(shape)
    index = (slice(None), slots, day, slice(None))
    np.add.at(sums, index, np.where(observed, values, 0.0))
    np.add.at(counts, index, observed.astype(float))
    window_sums, window_counts = sums.copy(), counts.copy()
    for shift in range(1, window + 1):
        for direction in (shift, -shift):
            window_sums += np.roll(sums, direction, axis=2)
            window_counts += np.roll(counts, direction, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = window_sums / window_counts
        by_slot = sums.sum(axis=2) / counts.sum(axis=2)  # (S, slots, C)
        overall = sums.sum(axis=(1, 2)) / counts.sum(axis=(1, 2))  # (S, C)
    by_slot = np.where(np.isnan(by_slot), overall[:, None], by_slot)
    return np.where(np.isnan(table), by_slot[:, :, None], table)


class Climatology(_Baseline):
    """Climatology: the mean of past values at the same time of day and time of year.

    The season position of a timestamp is its time-of-day slot (for steps under a day: one
    slot per step when the step divides a day, such as 24 for hourly data, else one per hour;
    a single slot for daily and longer steps) and its day of year. The forecast is the mean
    over all fitted values in the same slot whose day of year is within ``window`` days
    (circularly, across years), so each slot and date pools about ``2 * window + 1`` days
    of every year. Positions with no such value (little data, many gaps) fall back to the
    mean of the slot over the whole year, then to the overall mean. ``update`` moves the
    cutoff only; the climatology stays the one fitted.

    Args:
        horizon: Default number of steps to forecast.
        window: Half-width of the day-of-year window in days, ``0 <= window <= 182``.
        freq: Frequency of the data; inferred when None.

    Examples:
        >>> from ssmcast import datasets
        >>> temp = datasets.load("beijing")["TEMP"]
        >>> f = Climatology(horizon=2).fit(temp)
        >>> f.predict().round(2).tolist()  # 1 January, 00:00 and 01:00
        [-6.75, -7.11]
    """

    def __init__(self, horizon: int = 24, window: int = 15, freq: str | None = None):
        self.horizon = horizon
        self.window = window
        self.freq = freq

    def _check_params(self) -> None:
        check_int(self.window, "window", "Climatology", minimum=0, maximum=182, example="window=15")

    def _init_state(self, panel: Panel) -> ClimatologyState:
        step = nominal_step(panel.freq)
        if step >= _DAY:
            slot, num_slots = None, 1
        elif _DAY % step == pd.Timedelta(0):
            slot, num_slots = step, int(_DAY / step)
        else:
            slot, num_slots = pd.Timedelta(hours=1), 24
        table = _table(panel, slot, num_slots, int(self.window))
        return ClimatologyState(**history_fields(panel), slot=slot, table=table)

    def _advance(self, state: ClimatologyState, values: np.ndarray) -> ClimatologyState:
        return state  # a climatology has no state to advance

    def _forecast(self, fitted: Fitted, horizon: int) -> np.ndarray:
        time = future_index(fitted.meta.cutoff, fitted.meta.freq, horizon)
        return _lookup(fitted.state, time)

    def _insample(self, state: ClimatologyState) -> Callable[[int], np.ndarray]:
        climate = _lookup(state, state.history_time)
        return lambda lead: climate[:, lead:]
