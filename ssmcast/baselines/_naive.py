"""Persistence baselines: :class:`Naive` and :class:`SeasonalNaive`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from ssmcast._checks import check_int
from ssmcast.base import Fitted
from ssmcast.baselines._base import _Baseline, history_fields, state_attribute
from ssmcast.baselines._residuals import (
    forward_fill,
    last_observed,
    seasonal_forward_fill,
    seasonal_last_observed,
)
from ssmcast.data import Panel, season_length

__all__ = ["Naive", "NaiveState", "SeasonalNaive", "SeasonalState"]


def _latest(values: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """The last observed value of ``values`` per series and channel, else ``previous``."""
    if values.shape[1] == 1:  # the streaming case
        return np.where(np.isnan(values[:, 0]), previous, values[:, 0])
    value, _ = last_observed(values)
    return np.where(np.isnan(value), previous, value)


class NaiveState(NamedTuple):
    """The fitted state of :class:`Naive`.

    Attributes:
        history: The values passed to ``fit``, ``(num_series, num_timesteps, num_channels)``.
        history_time: Their timestamps.
        num_steps: Time steps seen (``fit`` and ``update``).
        last: The last observed value, ``(num_series, num_channels)``.
    """

    history: np.ndarray
    history_time: pd.DatetimeIndex
    num_steps: int
    last: np.ndarray


class Naive(_Baseline):
    """Persistence: every future step equals the last observed value.

    ``yhat[T + k] = y[t_last]``, where ``t_last`` is the last time step with an observation
    (NaN at the end of the series are skipped).

    Args:
        horizon: Default number of steps to forecast.
        freq: Frequency of the data (a pandas alias such as ``"h"``); inferred when None.

    Examples:
        >>> import pandas as pd
        >>> y = pd.Series([1.0, 2.0, float("nan")], pd.date_range("2024-01-01", periods=3))
        >>> Naive(horizon=2).fit(y).predict()
        2024-01-04    2.0
        2024-01-05    2.0
        Freq: D, dtype: float64
    """

    def __init__(self, horizon: int = 24, freq: str | None = None):
        self.horizon = horizon
        self.freq = freq

    def _init_state(self, panel: Panel) -> NaiveState:
        shape = (panel.num_series, panel.num_channels)
        return NaiveState(**history_fields(panel), last=np.full(shape, np.nan))

    def _advance(self, state: NaiveState, values: np.ndarray) -> NaiveState:
        return state._replace(last=_latest(values, state.last))

    def _forecast(self, fitted: Fitted, horizon: int) -> np.ndarray:
        return np.repeat(fitted.state.last[:, None, :], horizon, axis=1)

    def _insample(self, state: NaiveState) -> Callable[[int], np.ndarray]:
        history = state.history
        filled, _ = forward_fill(history)
        return lambda lead: filled[:, : history.shape[1] - lead]


class SeasonalState(NamedTuple):
    """The fitted state of :class:`SeasonalNaive`.

    Attributes:
        history: The values passed to ``fit``, ``(num_series, num_timesteps, num_channels)``.
        history_time: Their timestamps.
        num_steps: Time steps seen (``fit`` and ``update``).
        season_length: Steps per season.
        buffer: The last observed value at each season position ``num_steps % season_length``,
            ``(num_series, season_length, num_channels)``.
        last: The last observed value, ``(num_series, num_channels)``.
    """

    history: np.ndarray
    history_time: pd.DatetimeIndex
    num_steps: int
    season_length: int
    buffer: np.ndarray
    last: np.ndarray


class SeasonalNaive(_Baseline):
    """Seasonal persistence: each future step repeats the last observed season.

    ``yhat[T + k] = y[T + k - m * ceil(k / m)]`` for season length ``m``. Where that value is
    missing, the last observed value at the same season position is used (one season
    earlier, then two, ...), and if that position was never observed, the last observed
    value (persistence).

    Args:
        horizon: Default number of steps to forecast.
        season_length: Steps per season; from the frequency when None (24 hourly, 48
            half-hourly, 144 every 10 minutes, 7 daily, 52 weekly, 12 monthly; see
            :func:`ssmcast.data.season_length`).
        freq: Frequency of the data; inferred when None.

    Attributes:
        season_length_: The season length used.

    Examples:
        >>> import pandas as pd
        >>> y = pd.Series([1.0, 2.0, 3.0, 4.0], pd.date_range("2024-01-01", periods=4, freq="h"))
        >>> SeasonalNaive(horizon=3, season_length=2).fit(y).predict().tolist()
        [3.0, 4.0, 3.0]
    """

    season_length_ = state_attribute("season_length", "The season length used.")

    def __init__(
        self, horizon: int = 24, season_length: int | None = None, freq: str | None = None
    ):
        self.horizon = horizon
        self.season_length = season_length
        self.freq = freq

    def _check_params(self) -> None:
        check_int(
            self.season_length,
            "season_length",
            "SeasonalNaive",
            allow_none=True,
            example="season_length=24",
        )

    def _season(self, panel: Panel) -> int:
        if self.season_length is not None:
            return int(self.season_length)
        return season_length(panel.freq)

    def _min_length(self, panel: Panel) -> tuple[int, str]:
        season = self._season(panel)
        return season, f" (one season, season_length={season})"

    def _init_state(self, panel: Panel) -> SeasonalState:
        season = self._season(panel)
        shape = (panel.num_series, panel.num_channels)
        return SeasonalState(
            **history_fields(panel),
            season_length=season,
            buffer=np.full((shape[0], season, shape[1]), np.nan),
            last=np.full(shape, np.nan),
        )

    def _advance(self, state: SeasonalState, values: np.ndarray) -> SeasonalState:
        if values.shape[1] == 1:  # the streaming case: one slot of the ring buffer
            buffer = state.buffer.copy()
            slot = state.num_steps % state.season_length
            buffer[:, slot] = np.where(np.isnan(values[:, 0]), buffer[:, slot], values[:, 0])
            return state._replace(buffer=buffer, last=_latest(values, state.last))
        seasonal = seasonal_last_observed(values, state.num_steps, state.season_length)
        return state._replace(
            buffer=np.where(np.isnan(seasonal), state.buffer, seasonal),
            last=_latest(values, state.last),
        )

    def _forecast(self, fitted: Fitted, horizon: int) -> np.ndarray:
        state = fitted.state
        positions = (state.num_steps + np.arange(horizon)) % state.season_length
        values = state.buffer[:, positions]
        return np.where(np.isnan(values), state.last[:, None, :], values)

    def _insample(self, state: SeasonalState) -> Callable[[int], np.ndarray]:
        history, season = state.history, state.season_length
        num_timesteps = history.shape[1]
        seasonal = seasonal_forward_fill(history, season)
        filled, _ = forward_fill(history)

        def forecast(lead: int) -> np.ndarray:
            source = np.arange(num_timesteps - lead) + lead - season * math.ceil(lead / season)
            values = np.where(
                (source >= 0)[None, :, None], seasonal[:, np.maximum(source, 0)], np.nan
            )
            return np.where(np.isnan(values), filled[:, : num_timesteps - lead], values)

        return forecast
