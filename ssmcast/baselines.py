"""Baseline forecasters with the estimator API of ssmcast: the yardsticks of every evaluation.

* :class:`Naive`: persistence, the last observed value.
* :class:`SeasonalNaive`: the value one season earlier (24 h for hourly data).
* :class:`Climatology`: the mean at the same time of day and time of year.
* :class:`Drift`: the straight line through the first and the last observation.

All follow scikit-learn conventions and take any input layout of :mod:`ssmcast.data`
(``pd.Series``, wide or long ``pd.DataFrame``, ``xr.DataArray``, ``xr.Dataset``); outputs
come back in the same layout, on the future timestamps. Series and channels are forecast
independently. Covariates ``X`` are accepted for API compatibility, checked, and not used.

Missing values: every method uses the last *observed* value it needs, so NaN at the end of
the series (a sensor that just went down) still gives a full forecast.

Quantiles (:meth:`predict_quantiles`) are empirical quantiles of the method's own in-sample
forecast errors at each lead, computed from the data passed to ``fit`` (updates move the
forecasts, not the error distribution); the spread widens with lead and the quantiles never
cross (see :func:`ssmcast._residuals.residual_quantiles`).

Examples:
    >>> from ssmcast import datasets
    >>> from ssmcast.baselines import SeasonalNaive
    >>> temp = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-30"]
    >>> f = SeasonalNaive(horizon=3).fit(temp)
    >>> f.season_length_, f.cutoff_
    (24, Timestamp('2014-12-30 23:00:00'))
    >>> f.predict().equals(temp.iloc[-24:-21].set_axis(f.predict().index))
    True
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from ssmcast._base_forecaster import BaseForecaster
from ssmcast._residuals import (
    forward_fill,
    last_observed,
    residual_quantiles,
    seasonal_forward_fill,
    seasonal_last_observed,
)
from ssmcast.data import Panel, future_index, nominal_step, season_length

__all__ = ["Climatology", "Drift", "Naive", "SeasonalNaive"]

_DAY = pd.Timedelta(days=1)
_DAYS_IN_YEAR = 366  # day-of-year positions 0..365


def _first_observed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first non-NaN value along axis 1 and its position (NaN and -1 when none)."""
    value, position = last_observed(np.flip(values, axis=1))
    return value, np.where(position >= 0, values.shape[1] - 1 - position, -1)


class _Baseline(BaseForecaster):
    """Shared maths: a state advanced step by step, and residual quantiles.

    Subclasses implement ``_init_state(panel)``, ``_advance(values)`` (fold new steps into
    the state; ``self._num_steps`` counts the steps seen before them), ``_forecast(horizon)``
    and ``_insample(history)`` (``lead -> forecasts of history[:, lead:]``).
    """

    def _fit(self, panel: Panel, covariates) -> None:
        self._history = panel.values.copy()
        self._history_time = panel.time
        self._num_steps = 0
        self._init_state(panel)
        self._step(panel.values)

    def _update(self, panel: Panel, covariates) -> None:
        self._step(panel.values)

    def _step(self, values: np.ndarray) -> None:
        self._advance(values)
        self._num_steps += values.shape[1]

    def _predict(self, horizon: int, covariates) -> np.ndarray:
        return self._forecast(horizon)

    def _predict_quantiles(self, horizon: int, levels, covariates) -> np.ndarray:
        offsets = residual_quantiles(
            self._history,
            self._insample(self._history),
            horizon,
            levels,
            labels=self.layout_.labels(),
        )
        return self._forecast(horizon)[..., None] + offsets


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

    def _init_state(self, panel: Panel) -> None:
        self._last = np.full((panel.num_series, panel.num_channels), np.nan)

    def _advance(self, values: np.ndarray) -> None:
        value, _ = last_observed(values)
        self._last = np.where(np.isnan(value), self._last, value)

    def _forecast(self, horizon: int) -> np.ndarray:
        return np.repeat(self._last[:, None, :], horizon, axis=1)

    def _insample(self, history: np.ndarray):
        filled, _ = forward_fill(history)
        return lambda lead: filled[:, : history.shape[1] - lead]


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

    def __init__(
        self, horizon: int = 24, season_length: int | None = None, freq: str | None = None
    ):
        self.horizon = horizon
        self.season_length = season_length
        self.freq = freq

    def _check_params(self) -> None:
        value = self.season_length
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
        ):
            raise ValueError(
                "The 'season_length' parameter of SeasonalNaive must be a positive int or None "
                f"(from the frequency). Got {value!r} instead."
            )

    def _season(self, panel: Panel) -> int:
        if self.season_length is not None:
            return int(self.season_length)
        return season_length(panel.freq)

    def _min_length(self, panel: Panel) -> tuple[int, str]:
        season = self._season(panel)
        return season, f" (one season, season_length={season})"

    def _init_state(self, panel: Panel) -> None:
        self.season_length_ = self._season(panel)
        shape = (panel.num_series, panel.num_channels)
        self._buffer = np.full((shape[0], self.season_length_, shape[1]), np.nan)
        self._last = np.full(shape, np.nan)

    def _advance(self, values: np.ndarray) -> None:
        seasonal = seasonal_last_observed(values, self._num_steps, self.season_length_)
        self._buffer = np.where(np.isnan(seasonal), self._buffer, seasonal)
        value, _ = last_observed(values)
        self._last = np.where(np.isnan(value), self._last, value)

    def _forecast(self, horizon: int) -> np.ndarray:
        positions = (self._num_steps + np.arange(horizon)) % self.season_length_
        values = self._buffer[:, positions]
        return np.where(np.isnan(values), self._last[:, None, :], values)

    def _insample(self, history: np.ndarray):
        season, num_timesteps = self.season_length_, history.shape[1]
        seasonal = seasonal_forward_fill(history, season)
        filled, _ = forward_fill(history)

        def forecast(lead: int) -> np.ndarray:
            source = np.arange(num_timesteps - lead) + lead - season * math.ceil(lead / season)
            values = np.where(
                (source >= 0)[None, :, None], seasonal[:, np.maximum(source, 0)], np.nan
            )
            return np.where(np.isnan(values), filled[:, : num_timesteps - lead], values)

        return forecast


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

    def _init_state(self, panel: Panel) -> None:
        shape = (panel.num_series, panel.num_channels)
        self._first, self._last = np.full(shape, np.nan), np.full(shape, np.nan)
        self._first_step, self._last_step = np.full(shape, -1), np.full(shape, -1)

    def _advance(self, values: np.ndarray) -> None:
        first, first_step = _first_observed(values)
        new = np.isnan(self._first) & ~np.isnan(first)
        self._first = np.where(new, first, self._first)
        self._first_step = np.where(new, self._num_steps + first_step, self._first_step)
        last, last_step = last_observed(values)
        seen = ~np.isnan(last)
        self._last = np.where(seen, last, self._last)
        self._last_step = np.where(seen, self._num_steps + last_step, self._last_step)

    def _forecast(self, horizon: int) -> np.ndarray:
        span = self._last_step - self._first_step
        slope = np.where(span > 0, (self._last - self._first) / np.maximum(span, 1), 0.0)
        steps = self._num_steps - 1 + np.arange(1, horizon + 1)[None, :, None]
        return self._last[:, None] + slope[:, None] * (steps - self._last_step[:, None])

    def _insample(self, history: np.ndarray):
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
        value = self.window
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or not (0 <= value <= 182)
        ):
            raise ValueError(
                "The 'window' parameter of Climatology must be an int from 0 to 182 (days on "
                f"each side of the day of year). Got {value!r} instead."
            )

    def _positions(self, time: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        time_of_day = time - time.normalize()
        if self._slot is None:
            slot = np.zeros(len(time), dtype=int)
        else:
            slot = np.asarray(time_of_day // self._slot, dtype=int)
        return slot, time.day_of_year.to_numpy() - 1

    def _init_state(self, panel: Panel) -> None:
        step = nominal_step(panel.freq)
        if step >= _DAY:
            self._slot, num_slots = None, 1
        elif _DAY % step == pd.Timedelta(0):
            self._slot, num_slots = step, int(_DAY / step)
        else:
            self._slot, num_slots = pd.Timedelta(hours=1), 24
        slot, day = self._positions(panel.time)
        values = panel.values
        observed = ~np.isnan(values)
        shape = (panel.num_series, num_slots, _DAYS_IN_YEAR, panel.num_channels)
        sums, counts = np.zeros(shape), np.zeros(shape)
        index = (slice(None), slot, day, slice(None))
        np.add.at(sums, index, np.where(observed, values, 0.0))
        np.add.at(counts, index, observed.astype(float))
        window_sums, window_counts = sums.copy(), counts.copy()
        for shift in range(1, int(self.window) + 1):
            for direction in (shift, -shift):
                window_sums += np.roll(sums, direction, axis=2)
                window_counts += np.roll(counts, direction, axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            table = window_sums / window_counts
            by_slot = sums.sum(axis=2) / counts.sum(axis=2)  # (S, slots, C)
            overall = sums.sum(axis=(1, 2)) / counts.sum(axis=(1, 2))  # (S, C)
        by_slot = np.where(np.isnan(by_slot), overall[:, None], by_slot)
        self._table = np.where(np.isnan(table), by_slot[:, :, None], table)

    def _advance(self, values: np.ndarray) -> None:
        pass  # a climatology has no state to advance

    def _lookup(self, time: pd.DatetimeIndex) -> np.ndarray:
        slot, day = self._positions(time)
        return self._table[:, slot, day]

    def _forecast(self, horizon: int) -> np.ndarray:
        return self._lookup(future_index(self.cutoff_, self.freq_, horizon))

    def _insample(self, history: np.ndarray):
        climate = self._lookup(self._history_time)
        return lambda lead: climate[:, lead:]
