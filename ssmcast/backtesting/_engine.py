"""The engine of :func:`ssmcast.backtest`: the loop and the one-pass hook.

Both paths work on a :class:`~ssmcast.data.Panel` of the whole data and a :class:`Plan`
(validated arguments, cutoffs as integer positions on the panel's time grid). The loop goes
through the forecaster's public API only: slices of the panel are rebuilt in the caller's
layout (``layout.restore``) for ``fit``/``update``, and the forecasts that ``predict`` returns
in that layout are read back into arrays by :class:`_Reader`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from tqdm import tqdm

from ssmcast import registry
from ssmcast.backtesting._plan import Plan
from ssmcast.backtesting._result import BacktestResult
from ssmcast.base import capabilities_of
from ssmcast.data import Layout, Panel, future_index, map_series_chunks, season_length, to_panel

__all__ = ["HOOK", "run"]

HOOK = "_backtest_one_pass"


# --- reading forecasts back ---------------------------------------------------------


class _Reader:
    """Reads forecasts made by ``layout.forecast``/``layout.quantiles`` back into arrays.

    The layout builds a probe from known codes ``0, 1, 2, ...``; flattening the probe and a
    real forecast the same way tells where each value of the forecast belongs.
    """

    def __init__(self, layout: Layout, freq: Any):
        self._layout, self._freq = layout, freq
        self._orders: dict = {}

    def __call__(self, output: Any, horizon: int, levels: tuple | None = None) -> np.ndarray:
        layout = self._layout
        shape = (layout.num_series, horizon, layout.num_channels)
        shape += (len(levels),) if levels else ()
        order = self._orders.get((horizon, levels))
        if order is None:
            codes = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
            time = future_index(pd.Timestamp("2000-01-01"), self._freq, horizon)
            probe = (
                layout.forecast(codes, time)
                if levels is None
                else layout.quantiles(codes, time, list(levels))
            )
            order = self._orders[(horizon, levels)] = layout.flat_values(probe).astype(np.int64)
        flat = layout.flat_values(output)
        if flat.shape != order.shape:
            what = "predict" if levels is None else "predict_quantiles"
            raise ValueError(
                f"backtest: {what} returned {flat.size} values for horizon={horizon}, but the "
                f"layout of `y` needs {order.size} (shape {shape}). The forecaster must return "
                "its forecast in the layout of the data passed to fit."
            )
        values = np.empty(order.size)
        values[order] = flat
        return values.reshape(shape)


# --- the two paths ----------------------------------------------------------------------


def _restore(panel: Panel | None, lo: int, hi: int) -> Any:
    if panel is None:
        return None
    return panel.layout.restore(panel.values[:, lo:hi], panel.time[lo:hi])


def _fresh(forecaster: Any, panel: Panel) -> Any:
    """An unfitted clone; its ``freq`` is set to the data's when left to inference."""
    estimator = clone(forecaster)
    params = estimator.get_params(deep=False)
    if "freq" in params and params["freq"] is None:
        estimator.set_params(freq=panel.freq.freqstr)
    return estimator


def _call(method, data, covariates, **kwargs):
    if covariates is None:
        return method(data, **kwargs)
    return method(data, covariates, **kwargs)


def _loop(forecaster, panel: Panel, x_panel: Panel | None, plan: Plan, progress: bool):
    num_series, num_timesteps, num_channels = panel.values.shape
    shape = (len(plan.cutoffs), num_series, plan.horizon, num_channels)
    point = np.full(shape, np.nan)
    quantiles = np.full((*shape, len(plan.levels)), np.nan) if plan.levels else None
    read = _Reader(panel.layout, panel.freq)
    estimator, previous = None, None
    bar = tqdm(
        plan.cutoffs,
        desc=f"backtest {type(forecaster).__name__}",
        unit="origin",
        disable=not progress,
        leave=False,
    )
    for i, cutoff in enumerate(bar):
        if estimator is None or (plan.refit_every and i % plan.refit_every == 0):
            lo = plan.window_start(cutoff)
            estimator = _fresh(forecaster, panel)
            _call(estimator.fit, _restore(panel, lo, cutoff + 1), _restore(x_panel, lo, cutoff + 1))
        else:
            new, new_x = (_restore(p, previous + 1, cutoff + 1) for p in (panel, x_panel))
            _call(estimator.update, new, new_x)
        steps = min(plan.horizon, num_timesteps - 1 - int(cutoff))
        future_x = _restore(x_panel, cutoff + 1, cutoff + 1 + steps)
        forecast = (
            estimator.predict(steps) if future_x is None else estimator.predict(steps, future_x)
        )
        point[i, :, :steps] = read(forecast, steps)
        if plan.levels:
            levels = list(plan.levels)
            forecast = (
                estimator.predict_quantiles(levels, steps)
                if future_x is None
                else estimator.predict_quantiles(levels, steps, future_x)
            )
            quantiles[i, :, :steps] = read(forecast, steps, plan.levels)
        previous = int(cutoff)
    return estimator, point, quantiles


def _check_array(value: Any, shape: tuple, what: str, owner: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner} must return {what} as a float array ({err}).") from None
    if array.shape != shape:
        raise ValueError(f"{owner} returned {what} of shape {array.shape}; expected {shape}.")
    return array


def _one_pass(forecaster, panel: Panel, plan: Plan):
    first, last = int(plan.cutoffs[0]), int(plan.cutoffs[-1])
    lo = plan.window_start(first)
    estimator = _fresh(forecaster, panel)
    estimator.fit(_restore(panel, lo, first + 1))
    seen = dataclasses.replace(
        panel, values=panel.values[:, lo : last + 1], time=panel.time[lo : last + 1]
    )
    origins = (plan.cutoffs - lo).astype(np.int64)
    output = estimator._backtest_one_pass(seen, origins, plan.horizon, plan.levels)
    owner = f"{type(forecaster).__name__}.{HOOK}"
    if not isinstance(output, tuple) or len(output) != 2:
        raise TypeError(
            f"{owner} must return a tuple (point, quantiles). Got {type(output).__name__}."
        )
    num_series, _, num_channels = panel.values.shape
    shape = (len(origins), num_series, plan.horizon, num_channels)
    point = _check_array(output[0], shape, "point forecasts", owner)
    quantiles = None
    if plan.levels:
        quantiles = _check_array(output[1], (*shape, len(plan.levels)), "quantiles", owner)
        quantiles = np.sort(quantiles, axis=-1)  # never cross, as predict_quantiles
    elif output[1] is not None:
        raise ValueError(f"{owner} must return quantiles=None when levels is None.")
    if last > first:  # leave the forecaster where the loop would: at the last origin
        estimator.update(_restore(panel, first + 1, last + 1))
    return estimator, point, quantiles


def _chunk_one_pass(estimator, block, times, origins, horizon: int, levels):
    """The one-pass forecasts of one block of series (on a Dask worker).

    ``estimator`` is fitted on every series; :meth:`_for_series` gives it the block's own
    scaling and state at the first origin, exactly as the fit holds them for these series.
    """
    panel = to_panel(block, freq=estimator.fitted_.meta.freq.freqstr, name="y")
    lo, first, last = (panel.time.get_loc(t) for t in times)
    fitted = estimator._for_series(_restore(panel, lo, first + 1))
    seen = dataclasses.replace(
        panel, values=panel.values[:, lo : last + 1], time=panel.time[lo : last + 1]
    )
    point, quantiles = fitted._backtest_one_pass(seen, origins, horizon, levels)
    return panel.layout.series_labels(), point, quantiles


def _one_pass_chunks(forecaster, panel: Panel, plan: Plan, y: Any, client):
    """:func:`_one_pass` with the forecasts made block by block of series on ``client``.

    The model is fitted here once, on every series, and scattered to the workers; each
    worker reads its block of ``y`` from the dask graph. The forecaster returned stays at the
    first origin (advancing it would read every series in this process).
    """
    first, last = int(plan.cutoffs[0]), int(plan.cutoffs[-1])
    lo = plan.window_start(first)
    estimator = _fresh(forecaster, panel)
    estimator.fit(_restore(panel, lo, first + 1))
    times = (panel.time[lo], panel.time[first], panel.time[last])
    origins = (plan.cutoffs - lo).astype(np.int64)
    parts = map_series_chunks(
        _chunk_one_pass, estimator, y, client, times, origins, plan.horizon, plan.levels
    )
    num_series, _, num_channels = panel.values.shape
    position = {label: i for i, label in enumerate(panel.layout.series_labels())}
    flat = (len(origins), plan.horizon, num_series * num_channels)
    point = np.full(flat, np.nan)
    quantiles = np.full((*flat, len(plan.levels)), np.nan) if plan.levels else None
    for labels, part, part_quantiles in parts:
        where = [position[label] for label in labels]
        point[:, :, where] = _by_lead(part)
        if plan.levels:
            quantiles[:, :, where] = np.sort(_by_lead(part_quantiles), axis=-1)

    def back(values):  # (origins, lead, series * channels, ...) -> (origins, series, lead, ...)
        shaped = values.reshape(*flat[:2], num_series, num_channels, *values.shape[3:])
        return np.swapaxes(shaped, 1, 2)

    return estimator, back(point), None if quantiles is None else back(quantiles)


def _by_lead(values: np.ndarray) -> np.ndarray:
    """``(origins, series, lead, channels, ...)`` as ``(origins, lead, series * channels, ...)``."""
    values = np.swapaxes(np.asarray(values, np.float64), 1, 2)
    return values.reshape(*values.shape[:2], -1, *values.shape[4:])


def run(
    forecaster: Any,
    panel: Panel,
    x_panel: Panel | None,
    plan: Plan,
    *,
    method: str = "auto",
    progress: bool = True,
    chunks: tuple | None = None,
) -> BacktestResult:
    """Run a validated backtest and gather the result (see :func:`ssmcast.backtest`).

    ``method="auto"`` takes the one-pass hook when the forecaster has it, ``refit_every`` is 0
    and there are no covariates; ``"loop"`` and ``"one_pass"`` force a path (the caller
    checks that ``"one_pass"`` is possible). ``chunks``: ``(y, client)``, a dask-backed
    ``y`` (the data of ``panel``) whose blocks of series the one-pass forecasts are made on,
    on the ``dask.distributed`` client.
    """
    one_pass = method == "one_pass" or (
        method == "auto"
        and plan.refit_every == 0
        and x_panel is None
        and capabilities_of(forecaster).one_pass_backtest
    )
    if one_pass and chunks is not None and hasattr(forecaster, "_for_series"):
        estimator, point, quantiles = _one_pass_chunks(forecaster, panel, plan, *chunks)
    elif one_pass:
        estimator, point, quantiles = _one_pass(forecaster, panel, plan)
    else:
        estimator, point, quantiles = _loop(forecaster, panel, x_panel, plan, progress)
    num_origins, num_series, horizon, num_channels = point.shape
    num_timesteps = panel.num_timesteps
    width = num_series * num_channels
    # (origins, series, lead, channels) -> (origins, lead, series * channels)
    point = point.transpose(0, 2, 1, 3).reshape(num_origins, horizon, width)
    if quantiles is not None:
        quantiles = quantiles.transpose(0, 2, 1, 3, 4).reshape(num_origins, horizon, width, -1)
    by_time = panel.values.transpose(1, 0, 2).reshape(num_timesteps, width)
    positions = plan.cutoffs[:, None] + np.arange(1, horizon + 1)[None, :]
    inside = positions < num_timesteps
    truth = np.where(inside[..., None], by_time[np.minimum(positions, num_timesteps - 1)], np.nan)
    point = np.where(inside[..., None], point, np.nan)
    if quantiles is not None:
        quantiles = np.where(inside[..., None, None], quantiles, np.nan)

    def run_reference(name: str) -> BacktestResult:
        plain = dataclasses.replace(plan, refit_every=0)
        reference = registry.make(name, kind="baseline", horizon=plan.horizon)
        return run(reference, panel, None, plain, progress=False)

    return BacktestResult(
        truth=truth,
        point=point,
        quantiles=quantiles,
        levels=plan.levels,
        series=panel.layout.series_labels(),
        time=panel.time,
        cutoffs=plan.cutoffs,
        y_train=by_time[: plan.start],
        season_length=season_length(panel.freq),
        forecaster=estimator,
        method="one_pass" if one_pass else "loop",
        run_reference=run_reference,
    )
