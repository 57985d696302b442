"""The :class:`Drift` baseline: the straight line through the first and last observation."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from ssmcast.base import Fitted
from ssmcast.baselines._base import _Baseline, history_fields
from ssmcast.baselines._residuals import forward_fill, last_observed
from ssmcast.data import Panel

__all__ = ["Drift", "DriftState"]


def _first_observed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first non-NaN value along axis 1 and its position (NaN and -1 when none)."""
    value, position = last_observed(np.flip(values, axis=1))
    return value, np.where(position >= 0, values.shape[1] - 1 - position, -1)


class DriftState(NamedTuple):
    """The fitted state of :class:`Drift`; steps count from the first one passed to ``fit``.

    The first three fields are those of every baseline state (see ``NaiveState``): the fitted
    ``history``, its ``history_time`` and the ``num_steps`` seen so far.

    Attributes:
        first: The first observed value, ``(num_series, num_channels)``.
        first_step: Its step (-1 when none).
        last: The last observed value.
        last_step: Its step (-1 when none).
    """

    history: np.ndarray
    history_time: pd.DatetimeIndex
    num_steps: int
    first: np.ndarray
    first_step: np.ndarray
    last: np.ndarray
    last_step: np.ndarray


class Drift(_Baseline):
    """Drift: extend the straight line through the first and the last observation.

    ``yhat[T + k] = y_last + slope * (T + k - t_last)`` with
    ``slope = (y_last - y_first) / (t_last - t_first)`` over the observed values (0 when
    there is a single one); with no missing values, ``y[T] + k (y[T] - y[1]) / (T - 1)``.

    Args:
        horizon: Default number of steps to forecast.
        freq: Frequency of the data; inferred when None.

    Examples:
        >>> import pandas as pd
        >>> y = pd.Series([1.0, 2.0, 4.0], pd.date_range("2024-01-01", periods=3))
        >>> Drift(horizon=2).fit(y).predict().tolist()
        [5.5, 7.0]
    """

    def __init__(self, horizon: int = 24, freq: str | None = None):
        self.horizon = horizon
        self.freq = freq

    def _min_length(self, panel: Panel) -> tuple[int, str]:
        return 2, " (two points define the drift)"

    def _init_state(self, panel: Panel) -> DriftState:
        shape = (panel.num_series, panel.num_channels)
        return DriftState(
            **history_fields(panel),
            first=np.full(shape, np.nan),
            first_step=np.full(shape, -1),
            last=np.full(shape, np.nan),
            last_step=np.full(shape, -1),
        )

    def _advance(self, state: DriftState, values: np.ndarray) -> DriftState:
        first, first_step = _first_observed(values)
        new = np.isnan(state.first) & ~np.isnan(first)
        last, last_step = last_observed(values)
        seen = ~np.isnan(last)
        return state._replace(
            first=np.where(new, first, state.first),
            first_step=np.where(new, state.num_steps + first_step, state.first_step),
            last=np.where(seen, last, state.last),
            last_step=np.where(seen, state.num_steps + last_step, state.last_step),
        )

    def _forecast(self, fitted: Fitted, horizon: int) -> np.ndarray:
        state = fitted.state
        span = state.last_step - state.first_step
        slope = np.where(span > 0, (state.last - state.first) / np.maximum(span, 1), 0.0)
        steps = state.num_steps - 1 + np.arange(1, horizon + 1)[None, :, None]
        return state.last[:, None] + slope[:, None] * (steps - state.last_step[:, None])

    def _insample(self, state: DriftState) -> Callable[[int], np.ndarray]:
        history = state.history
        num_timesteps = history.shape[1]
        filled, source = forward_fill(history)
        first, first_step = _first_observed(history)

        def forecast(lead: int) -> np.ndarray:
            last, last_step = filled[:, : num_timesteps - lead], source[:, : num_timesteps - lead]
            span = last_step - first_step[:, None]
            slope = np.where(span > 0, (last - first[:, None]) / np.maximum(span, 1), 0.0)
            origins = np.arange(num_timesteps - lead)[None, :, None]
            return last + slope * (origins + lead - last_step)

        return forecast
