"""Defaults and broadcasting for the ``dt`` and ``mask`` arguments of sequence layers."""

import jax.numpy as jnp


def sequence_dt(dt, num_timesteps: int, dtype=jnp.float32):
    """Time gaps as a ``(num_timesteps,)`` array; ones (a regular grid) when ``dt`` is None."""
    if dt is None:
        return jnp.ones((num_timesteps,), dtype)
    return jnp.broadcast_to(jnp.asarray(dt, dtype), (num_timesteps,))


def sequence_mask(mask, num_timesteps: int):
    """Observed flags as a ``(num_timesteps,)`` bool array; all True when ``mask`` is None."""
    if mask is None:
        return jnp.ones((num_timesteps,), bool)
    return jnp.broadcast_to(jnp.asarray(mask, bool), (num_timesteps,))


def step_dt(dt_t, dtype=jnp.float32):
    """One time gap as a scalar array; 1 when ``dt_t`` is None."""
    return jnp.asarray(1.0 if dt_t is None else dt_t, dtype)


def step_mask(mask_t):
    """One observed flag as a scalar bool array; True when ``mask_t`` is None."""
    return jnp.asarray(True if mask_t is None else mask_t, bool)
