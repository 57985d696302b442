"""Causal sliding-window attention whose recurrent mode keeps a bounded cache."""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from ssmcast.layers._inputs import sequence_mask, step_mask


def _masked_attention(q, k, v, allowed, scale):
    """Softmax attention over allowed keys; a query with no allowed key gives zeros.

    Shapes: ``q (..., Q, H, E)``, ``k, v (..., K, H, E)``, ``allowed (..., Q, K)``.
    """
    logits = jnp.einsum("...qhe,...khe->...hqk", q, k) * scale
    allowed = allowed[..., None, :, :]
    logits = jnp.where(allowed, logits, -1e30)
    logits = logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    weights = jnp.where(allowed, jnp.exp(logits), 0.0)
    denom = jnp.sum(weights, axis=-1, keepdims=True)
    weights = weights / jnp.where(denom > 0, denom, 1.0)
    return jnp.einsum("...hqk,...khe->...qhe", weights, v)


class CausalAttention(nnx.Module):
    """Multi-head causal attention over a sliding window of the last ``window`` steps.

    Step ``t`` attends to the observed steps ``t - window + 1 .. t``; missing steps are not
    attended to (their keys are masked out), but a missing step still asks a query. There is
    no positional encoding: as in Jamba, the SSM blocks before the attention carry the order
    and the time gaps. The parallel mode costs ``O(T * window)`` (blocks of ``window``
    queries attend to two blocks of keys); the recurrent mode keeps a ring buffer of the
    last ``window`` keys and values, so each step costs ``O(window)`` time and memory.

    Args:
        dim: Width of the input and output.
        num_heads: Number of heads; must divide ``dim``.
        window: Number of steps each query sees, itself included.
        rngs: Random number streams for the initialisation.

    Raises:
        ValueError: If ``num_heads`` does not divide ``dim`` or ``window`` is below 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> layer = CausalAttention(8, num_heads=2, window=4, rngs=nnx.Rngs(0))
        >>> layer(jnp.ones((10, 8))).shape
        (10, 8)
        >>> cache = layer.init_state()
        >>> cache[0].shape
        (4, 2, 4)
    """

    def __init__(self, dim: int, *, num_heads: int = 4, window: int = 64, rngs: nnx.Rngs):
        if num_heads < 1 or dim % num_heads:
            raise ValueError(
                f"The 'num_heads' parameter of CausalAttention must divide dim={dim}. "
                f"Got {num_heads}."
            )
        if window < 1:
            raise ValueError(
                f"The 'window' parameter of CausalAttention must be at least 1. Got {window}."
            )
        self.dim, self.num_heads, self.window = dim, num_heads, window
        self.head_dim = dim // num_heads
        self.qkv = nnx.Linear(dim, 3 * dim, use_bias=False, rngs=rngs)
        self.out = nnx.Linear(dim, dim, use_bias=False, rngs=rngs)

    def _qkv(self, x):
        q, k, v = jnp.split(self.qkv(x), 3, axis=-1)
        shape = (*x.shape[:-1], self.num_heads, self.head_dim)
        return q.reshape(shape), k.reshape(shape), v.reshape(shape)

    def init_state(self):
        """The empty cache: ``(keys, values, valid, next_slot)``, a ring buffer of ``window``."""
        shape = (self.window, self.num_heads, self.head_dim)
        return (
            jnp.zeros(shape, jnp.float32),
            jnp.zeros(shape, jnp.float32),
            jnp.zeros((self.window,), bool),
            jnp.zeros((), jnp.int32),
        )

    def __call__(self, x, dt=None, mask=None, *, return_state: bool = False):
        """Attend over a whole sequence in parallel.

        Args:
            x: Input of shape ``(num_timesteps, dim)``.
            dt: Ignored (accepted for a uniform interface).
            mask: Whether each step is observed, shape ``(num_timesteps,)``.
            return_state: Also return the cache after the last step.

        Returns:
            The output of shape ``(num_timesteps, dim)``, and the cache when ``return_state``
            is True.
        """
        del dt
        num_timesteps, w = x.shape[0], self.window
        mask = sequence_mask(mask, num_timesteps)
        q, k, v = self._qkv(x)
        num_blocks = -(-num_timesteps // w)
        pad = num_blocks * w - num_timesteps

        def blocks(a):
            a = jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1))
            return a.reshape(num_blocks, w, *a.shape[1:])

        def with_previous(a):
            prev = jnp.concatenate([jnp.zeros_like(a[:1]), a[:-1]], axis=0)
            return jnp.concatenate([prev, a], axis=1)

        kb, vb = with_previous(blocks(k)), with_previous(blocks(v))
        valid = with_previous(blocks(mask))  # (num_blocks, 2w)
        p = jnp.arange(w)[:, None]
        j = jnp.arange(2 * w)[None, :]
        band = (j > p) & (j <= p + w)
        allowed = band[None] & valid[:, None, :]
        out = _masked_attention(blocks(q), kb, vb, allowed, 1.0 / math.sqrt(self.head_dim))
        out = out.reshape(num_blocks * w, self.dim)[:num_timesteps]
        y = self.out(out)
        if not return_state:
            return y
        slots = jnp.arange(w)
        last = num_timesteps - 1 - jnp.mod(num_timesteps - 1 - slots, w)
        present = last >= 0
        idx = jnp.clip(last, 0, num_timesteps - 1)
        cache = (
            jnp.where(present[:, None, None], k[idx], 0.0),
            jnp.where(present[:, None, None], v[idx], 0.0),
            present & mask[idx],
            jnp.asarray(num_timesteps % w, jnp.int32),
        )
        return y, cache

    def step(self, state, x_t, dt_t=None, mask_t=None):
        """Attend from one new step over the cache.

        Args:
            state: The cache from :meth:`init_state` or a previous step.
            x_t: Input of shape ``(dim,)``.
            dt_t: Ignored.
            mask_t: Whether ``x_t`` is observed; True when None.

        Returns:
            ``(new_cache, y_t)`` with ``y_t`` of shape ``(dim,)``.
        """
        del dt_t
        keys, values, valid, slot = state
        m = step_mask(mask_t)
        q, k, v = self._qkv(x_t)
        keys = keys.at[slot].set(k)
        values = values.at[slot].set(v)
        valid = valid.at[slot].set(m)
        out = _masked_attention(q[None], keys, values, valid[None], 1.0 / math.sqrt(self.head_dim))
        return (keys, values, valid, (slot + 1) % self.window), self.out(out.reshape(self.dim))
