"""Jitted passes of a trained network over batches of series: arrays in, arrays out.

The estimator keeps the network as ``(graphdef, params)`` (``nnx.split``); these functions
merge them inside ``jax.jit`` and ``jax.vmap`` over series. ``graphdef`` is static, so a
model shape compiles once per input shape.

* :func:`parallel_pass` reads whole sequences in parallel mode (the scan) and returns the
  forecast from every step and the recurrent state after the last one.
* :func:`advance` feeds observations one step at a time (recurrent mode, O(1) per step)
  from a given state and returns the new state and the forecast from the last step.
* :func:`ensemble_pass` and :func:`ensemble_advance` do the same for an ensemble (members on
  the leading axis of the parameters, trained by :func:`ssmcast.training.fit_ensemble`) and
  return the members' :func:`mixture`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast.models._distributions import Forecast


def _parallel_body(graphdef, params, x, dt, mask):
    model = nnx.merge(graphdef, params)

    def one(x, mask):
        forecast, state = model(x, dt, mask, return_state=True)
        return forecast, state

    return jax.vmap(one)(x, mask)


_parallel = jax.jit(_parallel_body, static_argnames=("graphdef",))


def parallel_pass(graphdef, params, x, dt, mask):
    """Forecasts from every step of each series, and the state after the last step.

    Args:
        graphdef: The network's graph definition (static).
        params: The network's state (``nnx.State``).
        x: Inputs, ``(num_series, num_timesteps, input_dim)``; NaN where a target is missing.
        dt: Time gaps, ``(num_timesteps,)`` (shared by the series).
        mask: Observed targets, ``(num_series, num_timesteps, output_dim)``.

    Returns:
        ``(forecast, state)``: a :class:`~ssmcast.models.Forecast` whose ``loc`` and
        ``scale`` have shape ``(num_series, num_timesteps, horizon, output_dim)``, and the
        batched recurrent state.
    """
    return _parallel(
        graphdef, params, jnp.asarray(x, jnp.float32), jnp.asarray(dt, jnp.float32), mask
    )


def _advance_body(graphdef, params, state, x, dt, mask):
    model = nnx.merge(graphdef, params)

    def one(state, x, mask):
        if x.shape[0] == 1:  # the serving path: one observation, no loop
            return model.step(state, x[0], dt[0], mask[0])

        def body(state, inputs):
            state, forecast = model.step(state, *inputs)
            return state, forecast

        head, last = (x[:-1], dt[:-1], mask[:-1]), (x[-1], dt[-1], mask[-1])
        state, _ = jax.lax.scan(lambda s, i: (body(s, i)[0], None), state, head)
        return model.step(state, *last)

    return jax.vmap(one)(state, x, mask)


_advance = jax.jit(_advance_body, static_argnames=("graphdef",))


def advance(graphdef, params, state, x, dt, mask):
    """Feed observations one step at a time from ``state`` (the recurrent mode).

    Args:
        graphdef: The network's graph definition (static).
        params: The network's state (``nnx.State``).
        state: The batched recurrent state (leading axis: series).
        x: Inputs, ``(num_series, num_steps, input_dim)`` with ``num_steps >= 1``.
        dt: Time gaps, ``(num_steps,)``.
        mask: Observed targets, ``(num_series, num_steps, output_dim)``.

    Returns:
        ``(state, forecast)``: the state after the last step and the forecast from it, with
        ``loc`` and ``scale`` of shape ``(num_series, horizon, output_dim)``.
    """
    return _advance(
        graphdef,
        params,
        state,
        jnp.asarray(x, jnp.float32),
        jnp.asarray(dt, jnp.float32),
        jnp.asarray(mask, bool),
    )


def mixture(forecast: Forecast) -> Forecast:
    """The mean and spread of an equal mixture of normal forecasts (members on axis 0).

    ``loc`` is the members' mean; the variance is the mean of their variances plus the
    variance of their means (the law of total variance), so the spread grows where the
    members disagree.

    Examples:
        >>> import jax.numpy as jnp
        >>> m = mixture(Forecast(jnp.array([0.0, 2.0]), jnp.array([1.0, 1.0])))
        >>> float(m.loc), round(float(m.scale) ** 2, 6)  # 1 + 1
        (1.0, 2.0)
    """
    loc = jnp.mean(forecast.loc, axis=0)
    spread = jnp.mean(jnp.square(forecast.loc - loc), axis=0)
    return Forecast(loc, jnp.sqrt(jnp.mean(jnp.square(forecast.scale), axis=0) + spread))


@partial(jax.jit, static_argnames=("graphdef",))
def _ensemble_parallel(graphdef, params, x, dt, mask):
    forecast, state = jax.vmap(lambda p: _parallel_body(graphdef, p, x, dt, mask))(params)
    return mixture(forecast), state


def ensemble_pass(graphdef, params, x, dt, mask):
    """:func:`parallel_pass` for an ensemble: members on the leading axis of ``params``.

    Returns:
        ``(forecast, state)``: the members' :func:`mixture`, with ``loc`` and ``scale`` of
        shape ``(num_series, num_timesteps, horizon, output_dim)``, and the recurrent states
        of every member (leading axes: member, series).
    """
    return _ensemble_parallel(
        graphdef, params, jnp.asarray(x, jnp.float32), jnp.asarray(dt, jnp.float32), mask
    )


@partial(jax.jit, static_argnames=("graphdef",))
def _ensemble_advance(graphdef, params, state, x, dt, mask):
    state, forecast = jax.vmap(lambda p, s: _advance_body(graphdef, p, s, x, dt, mask))(
        params, state
    )
    return state, mixture(forecast)


def ensemble_advance(graphdef, params, state, x, dt, mask):
    """:func:`advance` for an ensemble: members on the leading axis of ``params``, ``state``.

    Returns:
        ``(state, forecast)``: every member's new state (leading axes: member, series) and
        the members' :func:`mixture` from the last step, ``(num_series, horizon,
        output_dim)``.
    """
    return _ensemble_advance(
        graphdef,
        params,
        state,
        jnp.asarray(x, jnp.float32),
        jnp.asarray(dt, jnp.float32),
        jnp.asarray(mask, bool),
    )


def model_inputs(scaled_values, covariates, calendar):
    """Network inputs: targets first (NaN where missing), then covariates, then calendar.

    Args:
        scaled_values: Scaled targets, ``(num_series, num_timesteps, num_channels)``.
        covariates: Scaled covariates ``(1 or num_series, num_timesteps, num_covariates)``
            with missing values set to 0 (the mean), or None.
        calendar: Calendar features ``(num_timesteps, num_features)``.

    Returns:
        ``(x, mask)``: inputs ``(num_series, num_timesteps, input_dim)`` as float32 and the
        observed-target mask.
    """
    num_series, num_timesteps, _ = scaled_values.shape
    parts = [scaled_values]
    if covariates is not None:
        parts.append(np.broadcast_to(covariates, (num_series, num_timesteps, covariates.shape[-1])))
    parts.append(np.broadcast_to(calendar, (num_series, *calendar.shape)))
    x = np.concatenate(parts, axis=-1).astype(np.float32)
    return x, ~np.isnan(scaled_values)
