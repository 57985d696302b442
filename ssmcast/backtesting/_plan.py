"""The plan of a backtest: its checked arguments, as positions on the data's time grid."""

from __future__ import annotations

import dataclasses
import datetime
import numbers
from typing import Any

import numpy as np
import pandas as pd

from ssmcast._checks import check_int
from ssmcast.data import check_levels

__all__ = ["Plan", "make_plan", "start_position"]

_WINDOWS = ("expanding", "sliding")


@dataclasses.dataclass(frozen=True)
class Plan:
    """The validated arguments of a backtest, in positions on the panel's time grid.

    Attributes:
        horizon: Steps forecast from each origin.
        start: Position of the first forecast step; the initial fit sees ``[:start]``.
        cutoffs: Positions of the last observation of each origin,
            ``start - 1, start - 1 + stride, ...`` (int64 array).
        refit_every: 0 to fit once; ``k`` to refit at origins ``0, k, 2k, ...``.
        window: ``"expanding"`` or ``"sliding"``.
        train_size: Steps of each (re)fit for the sliding window; None when expanding.
        levels: Sorted quantile levels, or None.
    """

    horizon: int
    start: int
    cutoffs: np.ndarray
    refit_every: int
    window: str
    train_size: int | None
    levels: tuple[float, ...] | None

    def window_start(self, cutoff: int) -> int:
        """First position of the training window that ends at ``cutoff``."""
        if self.window == "sliding":
            return int(cutoff) - self.train_size + 1
        return 0


def _count(value: Any, name: str, example: str) -> int:
    return check_int(value, name, "backtest", kind="argument", example=example)


def start_position(start: Any, time: pd.DatetimeIndex) -> int:
    """Position of the first forecast step on the grid ``time``.

    Args:
        start: A timestamp (str, date or ``pd.Timestamp``; the first grid step at or after
            it), a fraction in (0, 1) of the steps, or an int position (negative counts from
            the end).
        time: The data's regular time grid.

    Returns:
        The position: at least 1 (there is data to fit) and at most ``len(time) - 1``.

    Raises:
        TypeError, ValueError: For a start of another type or outside the data.

    Examples:
        >>> import pandas as pd
        >>> time = pd.date_range("2024-01-01", periods=10, freq="h")
        >>> start_position("2024-01-01 08:00", time), start_position(0.5, time)
        (8, 5)
        >>> start_position(-2, time)
        8
    """
    num_timesteps = len(time)
    span = f"the data span {time[0]} to {time[-1]} ({num_timesteps} steps)"
    if isinstance(start, str | datetime.date | np.datetime64):
        try:
            stamp = pd.Timestamp(start)
            if stamp.tz is None and time.tz is not None:
                stamp = stamp.tz_localize(time.tz)  # a wall time in the data's time zone
            position = int(time.searchsorted(stamp, side="left"))
            inside = bool(time[0] < stamp <= time[-1])
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"The 'start' argument of backtest must be a timestamp comparable with the "
                f"data's index, a fraction in (0, 1) or an int position. Got {start!r} ({err})."
            ) from None
        if not inside:
            raise ValueError(
                f"The 'start' argument of backtest, {stamp}, lies outside {span}; it must be "
                "after the first timestamp (there must be data to fit) and at most the last."
            )
        return position
    if isinstance(start, bool) or not isinstance(start, numbers.Real):
        raise TypeError(
            "The 'start' argument of backtest must be a timestamp (str or pd.Timestamp), a "
            f"fraction in (0, 1) or an int position. Got {type(start).__name__}."
        )
    if isinstance(start, numbers.Integral):
        position = int(start) + (num_timesteps if start < 0 else 0)
        what = f"position {start}"
    else:
        if not 0.0 < start < 1.0:
            raise ValueError(
                f"The 'start' argument of backtest as a fraction must lie in (0, 1). Got "
                f"{start!r}; pass e.g. start=0.8 to evaluate on the last 20% of the steps, or "
                "an int position."
            )
        position = int(start * num_timesteps)
        what = f"fraction {start} (position {position})"
    if not 1 <= position <= num_timesteps - 1:
        raise ValueError(
            f"The 'start' argument of backtest, {what}, lies outside {span}: the first "
            f"forecast step must be a position from 1 to {num_timesteps - 1} (or -1 to "
            f"-{num_timesteps - 1} from the end), so that there is data to fit and to score."
        )
    return position


def _refit_every(refit: Any) -> int:
    if isinstance(refit, bool):
        return int(refit)
    if isinstance(refit, numbers.Integral) and refit >= 1:
        return int(refit)
    raise ValueError(
        "The 'refit' argument of backtest must be False (fit once, then update), True (refit "
        f"at every origin) or a positive int k (refit every k origins). Got {refit!r}."
    )


def make_plan(time, *, horizon, start, stride, refit, window, train_size, levels) -> Plan:
    """Check the arguments of :func:`~ssmcast.backtest` and turn them into a :class:`Plan`."""
    horizon = _count(horizon, "horizon", "horizon=24")
    stride = horizon if stride is None else _count(stride, "stride", "stride=24")
    position = start_position(start, time)
    if window not in _WINDOWS:
        raise ValueError(
            f"The 'window' argument of backtest must be one of {list(_WINDOWS)}. Got {window!r}."
        )
    if window == "sliding":
        if train_size is None:
            raise ValueError(
                "The 'train_size' argument of backtest is required with window='sliding': the "
                "number of steps in each training window, e.g. train_size=24 * 90."
            )
        train_size = _count(train_size, "train_size", "train_size=24 * 90")
        if train_size > position:
            raise ValueError(
                f"The 'train_size' argument of backtest, {train_size}, exceeds the {position} "
                "steps before `start`. Pass a smaller train_size or a later start."
            )
    elif train_size is not None:
        raise ValueError(
            "The 'train_size' argument of backtest applies to window='sliding' only; with "
            f"window='expanding' every fit uses all data before its cutoff. Got {train_size!r}."
        )
    cutoffs = np.arange(position - 1, len(time) - 1, stride, dtype=np.int64)
    if levels is not None:
        levels = tuple(sorted(check_levels(levels, "backtest")))
    return Plan(horizon, position, cutoffs, _refit_every(refit), window, train_size, levels)
