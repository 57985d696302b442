"""The seasonal base of the heads: a learned per-lead mix of naive forecasts.

Strong naive forecasts are the start, the network learns the correction. For lead ``k`` the
base is persistence plus a learned, per-lead, per-channel mix of the differences from it:

    base[t, k] = last[t] + sum_j (a[k, j] + b[k, j] * g(age[t])) * (cand_j[t, k] - last[t])

with the candidates

* seasonal persistence for each season length ``m``: ``y[t + k - m * ceil(k / m)]`` (the
  value one season before the target time, from the last season seen), read from the
  forward-filled series;
* the level of the scaled training data, 0 (the climatological mean of the scaled series);

and ``g(age) = log(1 + age)``, where ``age`` is the time since the target was last observed.
With ``a = b = 0`` (the initialisation) the base is persistence. After an outage the age
grows and ``b`` lets the mix lean away from the stale last value.

Parallel mode gathers the lagged values from the forward-filled sequence; recurrent mode
keeps the last ``max(seasons)`` forward-filled values in a ring buffer, so a step stays O(1).
Both give the same numbers (tested).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["SeasonalBase", "lead_lags", "staleness", "time_since_observed"]


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


class SeasonalBase(nnx.Module):
    """Per-lead mix of persistence, seasonal persistence and the mean level.

    Args:
        horizon: Number of leads.
        output_dim: Number of target channels.
        seasons: Season lengths in steps (e.g. ``(24, 168)`` for hourly data); may be empty.
        rngs: Unused (the mix starts at zero: persistence); kept for a uniform signature.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> base = SeasonalBase(3, 1, seasons=(2,), rngs=nnx.Rngs(0))
        >>> filled = jnp.arange(5.0)[:, None]
        >>> base(filled, jnp.zeros((5, 1)))[-1, :, 0].tolist()  # untrained: persistence
        [4.0, 4.0, 4.0]
    """

    def __init__(self, horizon: int, output_dim: int, *, seasons=(), rngs: nnx.Rngs):
        self.horizon, self.output_dim = horizon, output_dim
        self.seasons = tuple(int(m) for m in seasons)
        self.num_candidates = len(self.seasons) + 1  # the seasons and the mean level
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

    def __call__(self, filled, age):
        """Bases of a whole sequence: ``filled, age (T, C)`` -> ``(T, horizon, C)``."""
        num_timesteps = filled.shape[0]
        t = jnp.arange(num_timesteps)[:, None]
        candidates = []
        for season in self.seasons:
            source = t - lead_lags(season, self.horizon)[None, :]  # (T, H)
            lagged = filled[jnp.maximum(source, 0)]  # (T, H, C)
            candidates.append(jnp.where((source >= 0)[..., None], lagged, filled[:, None, :]))
        candidates.append(jnp.zeros((num_timesteps, self.horizon, self.output_dim)))
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

    def step(self, state, last, age):
        """Add the step's forward-filled value and return ``(state, base (H, C))``."""
        ring, count = state
        ring = ring.at[count % self.memory].set(last)
        count = count + 1
        candidates = []
        for season in self.seasons:
            back = lead_lags(season, self.horizon)  # (H,)
            lagged = ring[(count - 1 - back) % self.memory]  # (H, C)
            candidates.append(jnp.where((back <= count - 1)[:, None], lagged, last[None, :]))
        candidates.append(jnp.zeros((self.horizon, self.output_dim)))
        return (ring, count), self._combine(last, jnp.stack(candidates, axis=-2), age)


def time_since_observed(mask, dt):
    """Time since each target was last observed, ``(T, C)``, for a whole sequence.

    ``age[t] = 0`` where observed; otherwise the time since the last observation (since the
    start of the sequence, counting the first step's gap, when there was none).
    """
    clock = jnp.cumsum(dt)[:, None]  # time at each step
    seen = jnp.where(mask, clock, -jnp.inf)
    last_seen = jax.lax.cummax(seen, axis=0)
    return jnp.where(jnp.isfinite(last_seen), clock - last_seen, clock)
