"""Flax NNX layers around the :mod:`ssmcast.ssm` kernels.

Every sequence layer acts on one unbatched ``(num_timesteps, dim)`` sequence and has two
modes that agree to float32 rounding: ``__call__(x, dt, mask)`` over the whole sequence in
parallel, and ``step(state, x_t, dt_t, mask_t) -> (state, y_t)`` from ``init_state()``.
Batch either with :func:`jax.vmap`.
"""

from ssmcast.layers._attention import CausalAttention
from ssmcast.layers._blocks import GatedMLP, ResidualBlock
from ssmcast.layers._linear_ssm import LinearSSM
from ssmcast.layers._params import SSMParam
from ssmcast.layers._selective_ssm import SelectiveSSM

__all__ = [
    "CausalAttention",
    "GatedMLP",
    "LinearSSM",
    "ResidualBlock",
    "SSMParam",
    "SelectiveSSM",
]
