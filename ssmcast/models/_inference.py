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

import weakref
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast._jit import jit
from ssmcast.models._distributions import Forecast


class _Static:
    """A network's graph and parameter tree structure, hashed once: ``jit``'s static argument.

    ``jax.jit`` hashes its static arguments at every call, and hashing an ``nnx.GraphDef``
    walks the whole graph (about 0.4 ms for the default network). This wrapper computes the
    hash once; two wrappers are equal when their graphs and trees are, so equal networks share
    their compiled programs as before.
    """

    __slots__ = ("_hash", "graphdef", "treedef")

    def __init__(self, graphdef, treedef) -> None:
        self.graphdef = graphdef
        self.treedef = treedef
        self._hash = hash((graphdef, treedef))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Static):
            return NotImplemented
        if self.graphdef is other.graphdef and self.treedef == other.treedef:
            return True
        return (
            self._hash == other._hash
            and self.treedef == other.treedef
            and self.graphdef == other.graphdef
        )

    def params(self, leaves):
        """The parameters (``nnx.State``) back from their leaves (inside ``jit``)."""
        return jax.tree.unflatten(self.treedef, leaves)


# id(params) -> (weak reference to params, its _Static, its leaves). A fitted model calls the
# same jitted pass on the same parameters many times (every update); flattening an
# ``nnx.State`` and hashing the graph are most of the cost of a one-step call, so both are done
# once per parameter object. Entries go when their parameters are garbage collected.
_FLAT: dict[int, tuple[Any, _Static, list]] = {}


def _flat(graphdef, params) -> tuple[_Static, list]:
    """The static argument and the leaves of ``params``, computed once per parameter object."""
    key = id(params)
    hit = _FLAT.get(key)
    if hit is not None and hit[0]() is params and hit[1].graphdef is graphdef:
        return hit[1], hit[2]
    leaves, treedef = jax.tree.flatten(params)
    static = _Static(graphdef, treedef)
    try:
        ref = weakref.ref(params, lambda _, key=key: _FLAT.pop(key, None))
    except TypeError:  # parameters that cannot be weakly referenced are not cached
        return static, leaves
    _FLAT[key] = (ref, static, leaves)
    return static, leaves


def _float32(a):
    """An input as float32 (NumPy arrays stay NumPy: ``jit`` moves them to the device)."""
    return a.astype(jnp.float32) if isinstance(a, jax.Array) else np.asarray(a, np.float32)


def _gaps(dt):
    """The time gaps of a parallel pass: None on a regular grid (all ones), else float32.

    None lets the SSM layers discretise once instead of at every step.
    """
    dt = _float32(dt)
    return None if bool((dt == 1).all()) else dt


def _bool(a):
    return a.astype(bool) if isinstance(a, jax.Array) else np.asarray(a, bool)


def _parallel_body(graphdef, params, x, dt, mask):
    model = nnx.merge(graphdef, params)

    def one(x, mask):
        forecast, state = model(x, dt, mask, return_state=True)
        return forecast, state

    return jax.vmap(one)(x, mask)


@jit(graph="static", static_argnames=("static",))
def _parallel(static, leaves, x, dt, mask):
    return _parallel_body(static.graphdef, static.params(leaves), x, dt, mask)


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
    return _parallel(*_flat(graphdef, params), _float32(x), _gaps(dt), _bool(mask))


def _advance_body(graphdef, params, state, x, dt, mask, all_steps=False):
    model = nnx.merge(graphdef, params)

    def one(state, x, mask):
        if x.shape[0] == 1:  # the serving path: one observation, no loop
            state, forecast = model.step(state, x[0], dt[0], mask[0])
            if all_steps:
                forecast = jax.tree.map(lambda leaf: leaf[None], forecast)
            return state, forecast
        if all_steps:  # the forecast from every step (the online calibration scores them)
            return jax.lax.scan(lambda s, i: model.step(s, *i), state, (x, dt, mask))

        def body(state, inputs):
            state, forecast = model.step(state, *inputs)
            return state, forecast

        head, last = (x[:-1], dt[:-1], mask[:-1]), (x[-1], dt[-1], mask[-1])
        state, _ = jax.lax.scan(lambda s, i: (body(s, i)[0], None), state, head)
        return model.step(state, *last)

    return jax.vmap(one)(state, x, mask)


@jit(graph="static", static_argnames=("static",))
def _advance(static, leaves, state, x, dt, mask):
    return _advance_body(static.graphdef, static.params(leaves), state, x, dt, mask)


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
    return _advance(*_flat(graphdef, params), state, _float32(x), _float32(dt), _bool(mask))


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


@jit(graph="static", static_argnames=("static",))
def _ensemble_parallel(static, leaves, x, dt, mask):
    graphdef, params = static.graphdef, static.params(leaves)
    forecast, state = jax.vmap(lambda p: _parallel_body(graphdef, p, x, dt, mask))(params)
    return mixture(forecast), state


def ensemble_pass(graphdef, params, x, dt, mask):
    """:func:`parallel_pass` for an ensemble: members on the leading axis of ``params``.

    Returns:
        ``(forecast, state)``: the members' :func:`mixture`, with ``loc`` and ``scale`` of
        shape ``(num_series, num_timesteps, horizon, output_dim)``, and the recurrent states
        of every member (leading axes: member, series).
    """
    return _ensemble_parallel(*_flat(graphdef, params), _float32(x), _gaps(dt), _bool(mask))


@jit(graph="static", static_argnames=("static", "all_steps"))
def _ensemble_advance(static, leaves, state, x, dt, mask, all_steps=False):
    graphdef, params = static.graphdef, static.params(leaves)
    state, forecast = jax.vmap(lambda p, s: _advance_body(graphdef, p, s, x, dt, mask, all_steps))(
        params, state
    )
    return state, mixture(forecast)


def ensemble_advance(graphdef, params, state, x, dt, mask, *, all_steps: bool = False):
    """:func:`advance` for an ensemble: members on the leading axis of ``params``, ``state``.

    Args:
        graphdef: The network's graph definition (static).
        params: The members' parameters (leading axis: member).
        state: The members' recurrent states (leading axes: member, series).
        x: Inputs, ``(num_series, num_steps, input_dim)``.
        dt: Time gaps, ``(num_steps,)``.
        mask: Observed targets, ``(num_series, num_steps, output_dim)``.
        all_steps: Return the forecast from every step, not only the last.

    Returns:
        ``(state, forecast)``: every member's new state (leading axes: member, series) and
        the members' :func:`mixture` from the last step, ``(num_series, horizon,
        output_dim)`` (``(num_series, num_steps, horizon, output_dim)`` with
        ``all_steps``).
    """
    return _ensemble_advance(
        *_flat(graphdef, params),
        state,
        _float32(x),
        _float32(dt),
        _bool(mask),
        all_steps=all_steps,
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
