"""Residual blocks: pre-norm sequence mixer plus a gated MLP."""

import jax
from flax import nnx


class GatedMLP(nnx.Module):
    """Position-wise gated MLP: ``W_out(silu(W_gate x) * W_in x)`` (SwiGLU).

    Args:
        dim: Width of the input and output.
        hidden_dim: Width of the hidden layer.
        rngs: Random number streams for the initialisation.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> GatedMLP(4, 8, rngs=nnx.Rngs(0))(jnp.ones((3, 4))).shape
        (3, 4)
    """

    def __init__(self, dim: int, hidden_dim: int, *, rngs: nnx.Rngs):
        self.gate = nnx.Linear(dim, hidden_dim, use_bias=False, rngs=rngs)
        self.up = nnx.Linear(dim, hidden_dim, use_bias=False, rngs=rngs)
        self.down = nnx.Linear(hidden_dim, dim, use_bias=False, rngs=rngs)

    def __call__(self, x):
        """Apply the MLP to the last axis of ``x``."""
        return self.down(jax.nn.silu(self.gate(x)) * self.up(x))


class ResidualBlock(nnx.Module):
    """``x + mixer(norm(x))`` then ``x + mlp(norm(x))``, in parallel or one step at a time.

    The mixer is any sequence layer with ``__call__(x, dt, mask, return_state=...)``,
    ``init_state()`` and ``step(state, x_t, dt_t, mask_t)`` (:class:`LinearSSM`,
    :class:`SelectiveSSM`, :class:`CausalAttention`); the block's state is the mixer's.

    Args:
        dim: Width of the residual stream.
        mixer: The sequence layer, of width ``dim``.
        mlp_ratio: Hidden width of the gated MLP as a multiple of ``dim``; 0 for no MLP.
        rngs: Random number streams for the initialisation.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from ssmcast.layers import LinearSSM
        >>> rngs = nnx.Rngs(0)
        >>> block = ResidualBlock(4, LinearSSM(4, 2, rngs=rngs), rngs=rngs)
        >>> block(jnp.ones((5, 4))).shape
        (5, 4)
    """

    def __init__(self, dim: int, mixer: nnx.Module, *, mlp_ratio: int = 2, rngs: nnx.Rngs):
        self.norm = nnx.RMSNorm(dim, rngs=rngs)
        self.mixer = mixer
        if mlp_ratio:
            self.mlp_norm = nnx.RMSNorm(dim, rngs=rngs)
            self.mlp = GatedMLP(dim, mlp_ratio * dim, rngs=rngs)
        else:
            self.mlp_norm = self.mlp = None

    def _mlp(self, x):
        return x if self.mlp is None else x + self.mlp(self.mlp_norm(x))

    def init_state(self):
        """The mixer's initial state."""
        return self.mixer.init_state()

    def __call__(self, x, dt=None, mask=None, *, return_state: bool = False):
        """Run the block over a whole sequence ``(num_timesteps, dim)`` in parallel."""
        out = self.mixer(self.norm(x), dt, mask, return_state=return_state)
        if return_state:
            out, state = out
            return self._mlp(x + out), state
        return self._mlp(x + out)

    def step(self, state, x_t, dt_t=None, mask_t=None):
        """Advance by one step; returns ``(new_state, y_t)``."""
        state, out = self.mixer.step(state, self.norm(x_t), dt_t, mask_t)
        return state, self._mlp(x_t + out)
