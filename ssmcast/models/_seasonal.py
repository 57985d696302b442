"""The seasonal base of the heads: a learned per-lead mix of naive forecasts.

Strong naive forecasts are the start, the network learns the correction. For lead ``k`` the
base is persistence plus a learned, per-lead, per-channel mix of the differences from it:

    base[t, k] = last[t] + sum_j (a[k, j] + b[k, j] * g(age[t])) * (cand_j[t, k] - last[t])

with the candidates

* seasonal persistence for each season length ``m``: ``y[t + k - m * ceil(k / m)]`` (the
  value one season before the target time, from the last season seen), read from the
  forward-filled series;
* the level of the scaled training data, 0 (the climatological mean of the scaled series);
* with ``level_period``, the running level: a causal exponential moving average of the
  forward-filled series over ``level_period`` steps (see :mod:`ssmcast.models._level`), the
  recent level an exponential smoothing method would forecast, which follows a level shift
  that the training mean cannot;
* with ``last_change``, the last value plus its last change, ``y[t] + (y[t] - y[t - 1])``
  where both steps are observed (else the last value): with its per-lead weight, a local
  trend that fades or grows with the lead, as a damped-trend method would forecast (see
  :func:`last_step_change`);

and ``g(age) = log(1 + age)``, where ``age`` is the time since the target was last observed.
With ``a = b = 0`` (the initialisation) the base is persistence. After an outage the age
grows and ``b`` lets the mix lean away from the stale last value.

Parallel mode gathers the lagged values from the forward-filled sequence; recurrent mode
keeps the last ``max(seasons)`` forward-filled values in a ring buffer, so a step stays O(1).
Both give the same numbers (tested). The running level is computed by the network (which may
also read it) and passed in.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast.models._level import running_level

__all__ = [
    "SeasonalBase",
    "last_step_change",
    "lead_lags",
    "least_squares_mix",
    "staleness",
    "time_since_observed",
]


def lead_lags(season: int, horizon: int) -> jnp.ndarray:
    """Steps back from the origin of the value one season before each lead's target.

    ``back[k - 1] = season * ceil(k / season) - k`` for leads ``k = 1 .. horizon``: 0 when
    the target is exactly a season after the origin.

    Examples:
        >>> lead_lags(4, 6).tolist()
        [3, 2, 1, 0, 3, 2]
    """
    return jnp.asarray(
        [season * math.ceil(k / season) - k for k in range(1, horizon + 1)], jnp.int32
    )


def staleness(age: jnp.ndarray) -> jnp.ndarray:
    """The feature of the time since the last observation: ``log(1 + age)``."""
    return jnp.log1p(age)


def last_step_change(filled, observed):
    """The change of each target over its last step, 0 unless both steps were observed.

    ``change[t] = filled[t] - filled[t - 1]`` where the target was observed at ``t`` and at
    ``t - 1``, else 0 (at the first step, inside a gap, and at the first observation after
    one, whose difference spans the gap); ``filled, observed (T, C)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> filled = jnp.array([[1.0], [3.0], [3.0], [7.0], [8.0]])
        >>> observed = jnp.array([[True], [True], [False], [True], [True]])
        >>> last_step_change(filled, observed)[:, 0].tolist()
        [0.0, 2.0, 0.0, 0.0, 1.0]
    """
    before = jnp.concatenate([jnp.zeros_like(observed[:1]), observed[:-1]], axis=0)
    previous = jnp.concatenate([filled[:1], filled[:-1]], axis=0)
    return jnp.where(observed & before, filled - previous, 0.0)


class SeasonalBase(nnx.Module):
    """Per-lead mix of persistence, seasonal persistence, the levels and the last change.

    Args:
        horizon: Number of leads.
        output_dim: Number of target channels.
        seasons: Season lengths in steps (e.g. ``(24, 168)`` for hourly data); may be empty.
        running_level: Add the running level (passed to each call) as a candidate.
        last_change: Add the last value plus its last change (passed to each call) as a
            candidate.
        rngs: Unused (the mix starts at zero: persistence); kept for a uniform signature.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> base = SeasonalBase(3, 1, seasons=(2,), rngs=nnx.Rngs(0))
        >>> filled = jnp.arange(5.0)[:, None]
        >>> base(filled, jnp.zeros((5, 1)))[-1, :, 0].tolist()  # untrained: persistence
        [4.0, 4.0, 4.0]
    """

    def __init__(
        self,
        horizon: int,
        output_dim: int,
        *,
        seasons=(),
        running_level: bool = False,
        last_change: bool = False,
        rngs: nnx.Rngs,
    ):
        self.horizon, self.output_dim = horizon, output_dim
        self.seasons = tuple(int(m) for m in seasons)
        self.running_level = bool(running_level)
        self.last_change = bool(last_change)
        # the seasons, the mean level, the running level and the last change
        self.num_candidates = len(self.seasons) + 1 + self.running_level + self.last_change
        shape = (horizon, self.num_candidates, output_dim)
        self.mix = nnx.Param(jnp.zeros(shape))
        self.stale_mix = nnx.Param(jnp.zeros(shape))

    @property
    def memory(self) -> int:
        """Steps of forward-filled history the recurrent mode keeps (at least 1)."""
        return max((*self.seasons, 1))

    def _combine(self, last, candidates, age):
        """``last (..., C)``, ``candidates (..., H, J, C)``, ``age (..., C)`` -> ``(..., H, C)``."""
        weights = self.mix[...] + self.stale_mix[...] * staleness(age)[..., None, None, :]
        return last[..., None, :] + jnp.sum(weights * (candidates - last[..., None, None, :]), -2)

    def _level_candidates(self, candidates, last, level, change, shape):
        if self.running_level:
            if level is None:
                raise ValueError("This base has a running-level candidate: pass 'level'.")
            candidates.append(jnp.broadcast_to(level[..., None, :], shape))
        if self.last_change:
            if change is None:
                raise ValueError("This base has a last-change candidate: pass 'change'.")
            candidates.append(jnp.broadcast_to((last + change)[..., None, :], shape))

    def __call__(self, filled, age, level=None, change=None):
        """Bases of a whole sequence: ``filled, age, level, change (T, C)`` -> ``(T, H, C)``."""
        num_timesteps = filled.shape[0]
        t = jnp.arange(num_timesteps)[:, None]
        candidates = []
        for season in self.seasons:
            source = t - lead_lags(season, self.horizon)[None, :]  # (T, H)
            lagged = filled[jnp.maximum(source, 0)]  # (T, H, C)
            candidates.append(jnp.where((source >= 0)[..., None], lagged, filled[:, None, :]))
        shape = (num_timesteps, self.horizon, self.output_dim)
        candidates.append(jnp.zeros(shape))
        self._level_candidates(candidates, filled, level, change, shape)
        return self._combine(filled, jnp.stack(candidates, axis=-2), age)

    def init_state(self):
        """The empty ring buffer of forward-filled values and the count of steps seen."""
        return jnp.zeros((self.memory, self.output_dim), jnp.float32), jnp.zeros((), jnp.int32)

    def state_after(self, filled):
        """The ring buffer after a whole sequence ``filled (T, C)`` (parallel mode's state)."""
        num_timesteps = filled.shape[0]
        keep = min(num_timesteps, self.memory)
        positions = jnp.arange(num_timesteps - keep, num_timesteps) % self.memory
        ring = jnp.zeros((self.memory, self.output_dim), jnp.float32)
        ring = ring.at[positions].set(filled[num_timesteps - keep :])
        return ring, jnp.asarray(num_timesteps, jnp.int32)

    def step(self, state, last, age, level=None, change=None):
        """Add the step's forward-filled value and return ``(state, base (H, C))``."""
        ring, count = state
        ring = ring.at[count % self.memory].set(last)
        count = count + 1
        candidates = []
        for season in self.seasons:
            back = lead_lags(season, self.horizon)  # (H,)
            lagged = ring[(count - 1 - back) % self.memory]  # (H, C)
            candidates.append(jnp.where((back <= count - 1)[:, None], lagged, last[None, :]))
        shape = (self.horizon, self.output_dim)
        candidates.append(jnp.zeros(shape))
        self._level_candidates(candidates, last, level, change, shape)
        return (ring, count), self._combine(last, jnp.stack(candidates, axis=-2), age)


def least_squares_mix(
    seasons,
    horizon: int,
    values: np.ndarray,
    end: int,
    ridge: float = 1e-3,
    *,
    level_period: int | None = None,
    dt: np.ndarray | None = None,
    last_change: bool = False,
    return_spread: bool = False,
) -> np.ndarray:
    """The base's mix that best forecasts ``values`` before ``end``, by least squares.

    For every lead and channel, the weights of the candidates' differences from persistence
    (see :class:`SeasonalBase`) that minimise the squared error of the base over the origins
    that have a full season of history and an observed target before ``end``, pooled over
    series, with a small ridge towards persistence. Training starts from this mix, so the
    base is the best linear blend of the naive forecasts before the network learns anything;
    gradient steps alone move a mix that starts at persistence too slowly.

    Args:
        seasons: Season lengths of the base.
        horizon: Number of leads.
        values: Scaled targets ``(num_series, num_timesteps, num_channels)``, NaN where
            missing.
        end: Steps at the start that may be read (the training range).
        ridge: Ridge penalty relative to the mean diagonal of the normal equations.
        level_period: With a period, the running level over that many steps is a candidate
            too (the last one), as in a base with ``running_level=True``.
        dt: Time gap before each step, ``(num_timesteps,)``, for the running level; every
            gap 1 when None.
        last_change: The last value plus its last change is a candidate too (after the
            running level), as in a base with ``last_change=True``.
        return_spread: Also return the root mean square error of that base over the same
            origins, ``(horizon, num_channels)`` (NaN where a lead has too few targets): a
            normal head can start its scale there (:meth:`NormalHead.start_spread`).

    Returns:
        The mix ``(horizon, num_candidates, num_channels)`` (float32): the seasons, the mean
        level, then the running level with ``level_period`` and the last change with
        ``last_change``; zeros (persistence) where a lead
        has too few targets. With ``return_spread``, ``(mix, spread)``.

    Examples:
        >>> import numpy as np
        >>> t = np.arange(400)
        >>> season = np.sin(2 * np.pi * t / 8) + 0.5 * np.sin(4 * np.pi * t / 8)
        >>> mix = least_squares_mix((8,), 4, season[None, :, None], end=400)
        >>> np.round(mix[:, 0, 0], 2).tolist()  # seasonal persistence at every lead
        [1.0, 1.0, 1.0, 1.0]
    """
    values = np.asarray(values, np.float64)[:, :end]
    _, num_timesteps, num_channels = values.shape
    num_candidates = len(seasons) + 1 + (level_period is not None) + bool(last_change)
    gram = np.zeros((horizon, num_channels, num_candidates, num_candidates))
    moment = np.zeros((horizon, num_channels, num_candidates))
    count = np.zeros((horizon, num_channels))
    squares = np.zeros((horizon, num_channels))  # of the targets, for the residuals' spread
    first = max((0, *seasons))
    t = np.arange(num_timesteps)
    backs = [np.asarray(lead_lags(season, horizon)) for season in seasons]
    for series in values:
        observed = ~np.isnan(series)
        index = np.where(observed, t[:, None], -1)
        index = np.maximum.accumulate(index, axis=0)  # last observed step, -1: none yet
        filled = np.where(index >= 0, np.take_along_axis(series, np.maximum(index, 0), 0), 0.0)
        if level_period is not None:
            steps = np.ones(num_timesteps) if dt is None else np.asarray(dt)[:num_timesteps]
            level, _ = running_level(
                jnp.asarray(filled, jnp.float32), jnp.asarray(steps), level_period, index >= 0
            )
            level = np.asarray(level, np.float64)
        if last_change:  # as last_step_change, in float64
            change = np.zeros_like(filled)
            both = observed[1:] & observed[:-1]
            change[1:] = np.where(both, filled[1:] - filled[:-1], 0.0)
        for k in range(1, horizon + 1):
            origins = np.arange(first, num_timesteps - k)
            if origins.size == 0:
                continue
            last = filled[origins]  # (N, C)
            cands = [filled[origins - int(back[k - 1])] for back in backs]
            cands.append(np.zeros_like(last))
            if level_period is not None:
                cands.append(level[origins])
            if last_change:
                cands.append(last + change[origins])
            diff = np.stack(cands, axis=-1) - last[..., None]  # (N, C, J)
            target = series[origins + k] - last  # (N, C)
            ok = ~np.isnan(target)
            diff = np.where(ok[..., None], diff, 0.0)
            target = np.where(ok, target, 0.0)
            gram[k - 1] += np.einsum("ncj,nci->cji", diff, diff)
            moment[k - 1] += np.einsum("ncj,nc->cj", diff, target)
            squares[k - 1] += np.sum(target**2, axis=0)
            count[k - 1] += ok.sum(axis=0)
    mix = np.zeros((horizon, num_candidates, num_channels), np.float32)
    spread = np.full((horizon, num_channels), np.nan)
    for k in range(horizon):
        for c in range(num_channels):
            if count[k, c] < 10 * num_candidates:
                continue
            a = gram[k, c]
            penalty = ridge * max(np.trace(a) / num_candidates, 1e-12)
            w = np.linalg.solve(a + penalty * np.eye(num_candidates), moment[k, c])
            mix[k, :, c] = w
            residual = squares[k, c] - 2 * w @ moment[k, c] + w @ a @ w
            spread[k, c] = np.sqrt(max(residual, 0.0) / count[k, c])
    if return_spread:
        return mix, spread
    return mix


def time_since_observed(mask, dt):
    """Time since each target was last observed, ``(T, C)``, for a whole sequence.

    ``age[t] = 0`` where observed; otherwise the time since the last observation (since the
    start of the sequence, counting the first step's gap, when there was none).
    """
    clock = jnp.cumsum(dt)[:, None]  # time at each step
    seen = jnp.where(mask, clock, -jnp.inf)
    last_seen = jax.lax.cummax(seen, axis=0)
    return jnp.where(jnp.isfinite(last_seen), clock - last_seen, clock)
