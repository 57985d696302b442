"""Pure JAX maths for state space models: recurrences, selective scans, discretisation.

Functions act on unbatched ``(time, ...)`` arrays; batch with :func:`jax.vmap`. Nothing here
depends on Flax or pandas. Every parallel method has a sequential twin with the same
signature, and the tests check one against the other and against a float64 NumPy loop.
"""

from ssmcast.ssm._discretize import discretize_bilinear, discretize_zoh
from ssmcast.ssm._init import init_hippo_legs, init_lru, init_s4d_inv, init_s4d_lin
from ssmcast.ssm._recurrence import (
    choose_method,
    default_chunk_size,
    linear_recurrence,
    recurrence_step,
)
from ssmcast.ssm._selective import choose_selective_method, selective_scan, selective_step

__all__ = [
    "choose_method",
    "choose_selective_method",
    "default_chunk_size",
    "discretize_bilinear",
    "discretize_zoh",
    "init_hippo_legs",
    "init_lru",
    "init_s4d_inv",
    "init_s4d_lin",
    "linear_recurrence",
    "recurrence_step",
    "selective_scan",
    "selective_step",
]
