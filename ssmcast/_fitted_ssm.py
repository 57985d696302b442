"""A fitted SSM forecaster as one immutable value, and the pure functions that serve it.

:class:`SSMState` holds everything ``SSMForecaster.fit`` learned: the network (graph and
parameters), the recurrent state after the last observation and the forecast from it, the
scaling statistics and the training record. The functions below take it (with the shared
:class:`~ssmcast.base.FitMeta`: cutoff and frequency) and return arrays or a new state;
none of them changes its input, so the estimator is the only place that holds state.

* :func:`fit_inputs` / :func:`encode`: arrays of the data layer to network inputs.
* :func:`advance_state`: new observations in recurrent mode, O(1) per step.
* :func:`rollout`: the forecast from the current state, rolled out beyond the horizon.
* :func:`forecast_origins`: forecasts from many origins (one parallel pass, or a roll-out
  from each origin for horizons beyond the fitted one).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast._calibration import Tracker, advance_tracker
from ssmcast.base import FitMeta
from ssmcast.data import Panel, Scaler, calendar_features, future_index
from ssmcast.models import (
    ensemble_advance,
    ensemble_pass,
    model_inputs,
)

__all__ = [
    "SSMState",
    "advance_state",
    "batched_init_state",
    "encode",
    "forecast_origins",
    "num_members_of",
    "quantiles",
    "rollout",
]


class SSMState(NamedTuple):
    """What ``SSMForecaster.fit`` learned, as one value (arrays in scaled units).

    Attributes:
        graphdef: The networks' graph definition (``nnx.split``), shared by the members.
        params: The members' parameters (``nnx.State``), stacked on a leading member axis
            (one member: a single network).
        carry: The recurrent state after the last observation (leading axes: member, series).
        loc: Forecast mean from ``carry`` (the members' mixture), ``(num_series, horizon,
            num_channels)``.
        scale: Forecast standard deviation from ``carry``, same shape.
        scaler: Per-series, per-channel scaling of the targets.
        covariate_scaler: Scaling of the covariates, or None without covariates.
        horizon: Leads the heads forecast.
        num_covariates: Covariate columns the network reads.
        input_dim: Network inputs: targets, covariates and calendar features.
        history: Training and validation loss per epoch.
        best_epoch: The epoch whose parameters were kept.
        seasons: Season lengths of the network's seasonal base (empty: persistence only).
        staleness: Whether the network reads the time since the last observation.
        level_input: How the network reads the targets (``"absolute"``, ``"local"`` or
            ``"both"``; see :class:`~ssmcast.models.ForecastNetwork`).
        base_level: Whether the seasonal base has the running level as a candidate.
        base_change: Whether the seasonal base has the last value plus its last change as a
            candidate.
        scale_factor: Per-lead factor ``(horizon,)`` on the network's forecast spread, from
            the calibration at fit; None for none.
        tracker: The online calibration that moves the factors per series, lead and channel
            with every observation after fit (see :mod:`ssmcast._calibration`); None keeps
            ``scale_factor``.
        seed: The integer seed the fit used (drawn from ``random_state`` when that is None
            or a ``RandomState``).
        devices: The devices the fit trained on (data parallel when several); a loaded
            model lists the default devices.
    """

    graphdef: Any
    params: Any
    carry: Any
    loc: Any
    scale: Any
    scaler: Scaler
    covariate_scaler: Scaler | None
    horizon: int
    num_covariates: int
    input_dim: int
    history: dict
    best_epoch: int
    seasons: tuple[int, ...] = ()
    staleness: bool = False
    level_input: str = "absolute"
    base_level: bool = False
    base_change: bool = False
    scale_factor: np.ndarray | None = None
    seed: int | None = None
    devices: tuple = ()
    tracker: Tracker | None = None


def _calibrated(state: SSMState, scale):
    """The network's spread ``(num_series, horizon, C)`` times the calibration factors."""
    scale = np.asarray(scale)
    if state.tracker is not None:
        return scale * np.exp(state.tracker.log_factor).astype(scale.dtype)
    if state.scale_factor is None:
        return scale
    return scale * np.asarray(state.scale_factor, scale.dtype)[:, None]


def encode(
    scaler: Scaler,
    covariate_scaler: Scaler | None,
    values: np.ndarray,
    time,
    freq,
    covariates: np.ndarray | None,
    *,
    scaled: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs and observed mask for targets, covariates and timestamps.

    Targets are scaled unless ``scaled`` (NaN kept: the network masks them); covariates are
    scaled with missing values set to 0 (their mean); calendar features of ``time`` follow.
    """
    cal = calendar_features(time, freq).values
    cov = None
    if covariates is not None:
        cov = np.nan_to_num(covariate_scaler.transform(covariates), nan=0.0)
    return model_inputs(values if scaled else scaler.transform(values), cov, cal)


def advance_state(meta: FitMeta, state: SSMState, values: np.ndarray, time, covariates) -> SSMState:
    """The state after new observations ``values`` on the timestamps ``time`` (O(1) a step)."""
    if state.num_covariates and covariates is None:
        raise ValueError(
            "This SSMForecaster was fitted with covariates `X`, so `update` needs `X_new` "
            "on the timestamps of `y_new`."
        )
    x, mask = encode(state.scaler, state.covariate_scaler, values, time, meta.freq, covariates)
    tracker = state.tracker
    carry, forecast = ensemble_advance(
        state.graphdef,
        state.params,
        state.carry,
        x,
        np.ones(len(time)),
        mask,
        all_steps=tracker is not None,
    )
    if tracker is None:
        return state._replace(carry=carry, loc=forecast.loc, scale=forecast.scale)
    loc, scale = np.asarray(forecast.loc), np.asarray(forecast.scale)
    tracker, _ = advance_tracker(tracker, loc, scale, x[..., : loc.shape[-1]])
    return state._replace(carry=carry, loc=loc[:, -1], scale=scale[:, -1], tracker=tracker)


def rollout(
    meta: FitMeta, state: SSMState, horizon: int, covariates
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled loc and scale for ``horizon`` steps after ``meta.cutoff``.

    Beyond ``state.horizon`` steps, the median forecast of each block is fed back as
    observations in recurrent mode and the next block is read from the heads. The variance
    at the end of the previous block is added to the next block's (the start is uncertain):
    an approximation that keeps intervals widening with lead.
    """
    loc, scale = np.asarray(state.loc), _calibrated(state, state.scale)
    locs, scales = [loc], [scale]
    carry, produced, block = state.carry, state.horizon, state.horizon
    if horizon > produced and state.num_covariates and covariates is None:
        raise ValueError(
            f"Forecasting {horizon} steps, beyond the fitted horizon {block}, feeds "
            "forecasts back through the network, which was fitted with covariates `X`: "
            "pass `X` on the forecast timestamps."
        )
    cutoff = meta.cutoff
    while produced < horizon:
        time = future_index(cutoff, meta.freq, block)
        cov = None
        if covariates is not None:
            cov = covariates[:, produced - block : produced]
        x, mask = encode(
            state.scaler, state.covariate_scaler, loc, time, meta.freq, cov, scaled=True
        )
        carry, forecast = ensemble_advance(
            state.graphdef, state.params, carry, x, np.ones(block), mask
        )
        start_var = scale[:, -1:, :] ** 2
        loc = np.asarray(forecast.loc)
        scale = np.sqrt(_calibrated(state, forecast.scale) ** 2 + start_var)
        locs.append(loc)
        scales.append(scale)
        produced += block
        cutoff = time[-1]
    return (
        np.concatenate(locs, axis=1)[:, :horizon],
        np.concatenate(scales, axis=1)[:, :horizon],
    )


def forecast_origins(
    meta: FitMeta, state: SSMState, panel: Panel, origins: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled loc and scale ``(num_series, num_origins, horizon, num_channels)``.

    ``state`` is fitted on ``panel`` up to ``origins[0]`` (its cutoff). Up to the fitted
    horizon, one parallel pass over the panel gives the forecast from every step (the network
    is causal, so step ``t`` sees only values up to ``t``); beyond it, the state is advanced
    from origin to origin and rolled out from each.
    """
    if horizon <= state.horizon:
        x, mask = encode(state.scaler, None, panel.values, panel.time, meta.freq, None)
        forecast, _ = ensemble_pass(state.graphdef, state.params, x, panel.dt(), mask)
        loc, scale = np.asarray(forecast.loc), np.asarray(forecast.scale)
        factor = _origin_factors(state, loc, scale, x[..., : loc.shape[-1]], origins)
        return loc[:, origins, :horizon], (scale[:, origins] * factor)[..., :horizon, :]
    locs, scales = [], []
    first = int(origins[0])
    for previous, origin in zip([first, *origins[:-1]], origins, strict=True):
        if origin > previous:
            new = slice(previous + 1, origin + 1)
            state = advance_state(meta, state, panel.values[:, new], panel.time[new], None)
        meta = meta._replace(cutoff=panel.time[origin])
        loc, scale = rollout(meta, state, horizon, None)
        locs.append(loc)
        scales.append(scale)
    return np.stack(locs, axis=1), np.stack(scales, axis=1)


def _origin_factors(state: SSMState, loc, scale, targets, origins) -> np.ndarray:
    """Calibration factors at each origin, ``(num_series, num_origins, horizon, C)``.

    ``loc`` and ``scale`` are the pass's forecasts from every step. With a tracker, the factors at
    ``origins[0]`` (the cutoff) are the state's, and every later step is scored and
    calibrated as ``update`` would (see :func:`ssmcast._calibration.advance_tracker`).
    """
    shape = (scale.shape[0], len(origins), *scale.shape[2:])
    if state.tracker is None:
        one = np.ones(scale.shape[2]) if state.scale_factor is None else state.scale_factor
        return np.broadcast_to(np.asarray(one, scale.dtype)[:, None], shape)
    first = int(origins[0])
    offsets = np.asarray(origins) - first  # steps after the cutoff
    tracker = state.tracker
    logs = np.empty((len(origins), *tracker.log_factor.shape), np.float32)
    logs[offsets == 0] = tracker.log_factor
    block = 512  # steps at a time, to bound the memory of the copies
    for start in range(1, int(offsets[-1]) + 1, block):
        steps = slice(first + start, min(first + start + block, first + int(offsets[-1]) + 1))
        tracker, path = advance_tracker(
            tracker, loc[:, steps], scale[:, steps], targets[:, steps], path=True
        )
        inside = (offsets >= start) & (offsets < start + block)
        logs[inside] = path[offsets[inside] - start]
    return np.exp(np.moveaxis(logs, 0, 1)).astype(scale.dtype)


def quantiles(loc, scale, levels) -> np.ndarray:
    """Quantiles of the normal forecast (scaled units), levels on a new last axis.

    ``loc + scale * Phi^{-1}(level)`` in NumPy (float64): the streaming path calls this at
    every ``predict_quantiles``, where a jitted call would cost more than the arithmetic.
    """
    z = np.array([NormalDist().inv_cdf(float(level)) for level in levels])
    loc, scale = np.asarray(loc, np.float64), np.asarray(scale, np.float64)
    return loc[..., None] + scale[..., None] * z


def batched_init_state(graphdef, params, num_series: int):
    """The members' initial states, stacked over members and series (a template for loading).

    ``params`` has a leading member axis; the result's leaves have leading axes
    ``(num_members, num_series)``.
    """
    num_members = num_members_of(params)
    model = nnx.merge(graphdef, jax.tree.map(lambda leaf: leaf[0], params))
    carry = model.init_state()
    return jax.tree.map(
        lambda leaf: jnp.broadcast_to(leaf, (num_members, num_series, *leaf.shape)), carry
    )


def num_members_of(params) -> int:
    """Members of an ensemble's stacked parameters (the leading axis)."""
    return int(jax.tree.leaves(params)[0].shape[0])
