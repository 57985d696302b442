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

from ssmcast.base import FitMeta
from ssmcast.data import Panel, Scaler, calendar_features, future_index
from ssmcast.models import (
    ensemble_advance,
    ensemble_pass,
    model_inputs,
)
from ssmcast.training import validation_steps

__all__ = [
    "SSMState",
    "advance_state",
    "batched_init_state",
    "calibration_factor",
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
        scale_factor: Per-lead factor ``(horizon,)`` on the network's forecast spread, from
            the calibration at fit; None for none.
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
    scale_factor: np.ndarray | None = None
    seed: int | None = None
    devices: tuple = ()


def _calibrated(state: SSMState, scale):
    """The network's spread ``(..., horizon, C)`` times the calibration factor per lead."""
    scale = np.asarray(scale)
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
    carry, forecast = ensemble_advance(
        state.graphdef, state.params, state.carry, x, np.ones(len(time)), mask
    )
    return state._replace(carry=carry, loc=forecast.loc, scale=forecast.scale)


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
        loc = np.asarray(forecast.loc)[:, origins, :horizon]
        scale = _calibrated(state, forecast.scale)[:, origins, :horizon]
        return loc, scale
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


def calibration_factor(
    forecast, targets, tail: float, level: float = 0.8, *, widen_only: bool = False
) -> np.ndarray:
    """Per-lead factors on the spread so the central ``level`` interval covers ``level``.

    Split-conformal recalibration of a normal forecast: over the origins in the steps at the
    end that hold the last ``tail`` share of the observations, ``|y - loc| / scale`` of lead
    ``k`` should have its ``level`` quantile at the normal's (1.28 for 80%); the factor is
    the ratio. Leads with
    fewer than 30 scored points keep the factor of the lead before (1 for the first).

    Args:
        forecast: The parallel pass over the fitted data, ``loc`` and ``scale`` of shape
            ``(num_series, num_timesteps, horizon, num_channels)``.
        targets: The scaled targets ``(num_series, num_timesteps, num_channels)``, NaN where
            missing.
        tail: Share of the steps whose origins are scored, in (0, 1).
        level: Coverage of the central interval to match.
        widen_only: Never narrow (factors of at least 1): keep intervals that are too wide
            on the tail.

    Returns:
        Factors ``(horizon,)``, each within [1, 4] (``widen_only``) or [0.5, 4].
    """
    loc, scale = np.asarray(forecast.loc), np.asarray(forecast.scale)
    num_timesteps, horizon = loc.shape[1], loc.shape[2]
    first = max(0, num_timesteps - max(1, validation_steps(~np.isnan(targets), tail)))
    quantile = NormalDist().inv_cdf((1.0 + level) / 2.0)  # 1.28 for an 80% interval
    factors, previous = np.ones(horizon), 1.0
    for k in range(1, horizon + 1):
        origins = np.arange(first, num_timesteps - k)
        z = np.abs(targets[:, origins + k] - loc[:, origins, k - 1]) / scale[:, origins, k - 1]
        z = z[np.isfinite(z)]
        if z.size >= 30:
            ratio = np.quantile(z, level) / quantile
            previous = float(np.clip(ratio, 1.0 if widen_only else 0.5, 4.0))
        factors[k - 1] = previous
    return factors


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
