"""Selective state space layer (Mamba style) with time gaps and missing steps."""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from ssmcast import ssm
from ssmcast.layers._inputs import sequence_dt, sequence_mask, step_dt, step_mask
from ssmcast.layers._params import SSMParam


class SelectiveSSM(nnx.Module):
    r"""Mamba block: gated selective scan with input-dependent step, input and output maps.

    The input is projected to a branch ``x`` and a gate ``z`` (width ``expand * dim``); ``x``
    goes through a short causal depthwise convolution and SiLU, then the selective scan

    .. math::

        h_t = e^{\delta_t A} h_{t-1} + (\delta_t x_t) B_t^\top,\qquad
        y_t = h_t C_t + D \odot x_t,\qquad
        \delta_t = m_t\, dt_t\, \mathrm{softplus}(W_\delta x_t + b_\delta)

    with ``B_t``, ``C_t`` and the low-rank ``W_delta`` projections of ``x_t``, and the output
    ``out_proj(y * silu(z))``. The real time gap ``dt_t`` stretches the learned step; at a
    missing step (``m_t = 0``) the input is zeroed (so the gate closes) and ``delta = 0``, so
    the state is held.

    Args:
        dim: Width of the input and output.
        state_dim: States per channel (``N``).
        expand: Inner width as a multiple of ``dim``.
        conv_width: Length of the causal convolution.
        dt_rank: Rank of the step projection; ``ceil(dim / 16)`` when None.
        dt_min: Smallest initial step.
        dt_max: Largest initial step.
        method: Scan method passed to :func:`ssmcast.ssm.selective_scan`.
        rngs: Random number streams for the initialisation.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> layer = SelectiveSSM(4, 3, rngs=nnx.Rngs(0))
        >>> layer(jnp.ones((6, 4))).shape
        (6, 4)
        >>> state, y_t = layer.step(layer.init_state(), jnp.ones(4))
        >>> y_t.shape
        (4,)
    """

    # XLA CPU fusions handed to YNNPACK when a network holds this layer (``ssmcast._jit``):
    # the reduction fusions speed up its scan (a mamba fit took 1.15-1.9x as long without).
    xla_cpu_fusions = ("reduce",)

    def __init__(
        self,
        dim: int,
        state_dim: int = 16,
        *,
        expand: int = 2,
        conv_width: int = 4,
        dt_rank: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        method: str = "auto",
        rngs: nnx.Rngs,
    ):
        inner = expand * dim
        self.dim, self.state_dim, self.inner_dim = dim, state_dim, inner
        self.conv_width, self.method = conv_width, method
        self.dt_rank = dt_rank if dt_rank is not None else max(1, math.ceil(dim / 16))
        self.in_proj = nnx.Linear(dim, 2 * inner, use_bias=False, rngs=rngs)
        bound = 1.0 / math.sqrt(conv_width)
        self.conv_weight = nnx.Param(
            jax.random.uniform(rngs.params(), (conv_width, inner), minval=-bound, maxval=bound)
        )
        self.conv_bias = nnx.Param(jnp.zeros((inner,)))
        self.x_proj = nnx.Linear(inner, self.dt_rank + 2 * state_dim, use_bias=False, rngs=rngs)
        self.dt_proj = nnx.Linear(self.dt_rank, inner, use_bias=False, rngs=rngs)
        u = jax.random.uniform(rngs.params(), (inner,))
        dt0 = jnp.exp(math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min)))
        self.dt_bias = SSMParam(dt0 + jnp.log(-jnp.expm1(-dt0)))  # inverse softplus
        a = jnp.broadcast_to(jnp.arange(1, state_dim + 1, dtype=jnp.float32), (inner, state_dim))
        self.a_log = SSMParam(jnp.log(a))
        self.d = SSMParam(jnp.ones((inner,)))
        self.out_proj = nnx.Linear(inner, dim, use_bias=False, rngs=rngs)

    def init_state(self):
        """The zero state: ``(conv_buffer (conv_width - 1, inner), h (inner, state_dim))``."""
        return (
            jnp.zeros((self.conv_width - 1, self.inner_dim), jnp.float32),
            jnp.zeros((self.inner_dim, self.state_dim), jnp.float32),
        )

    def _split_input(self, x, mask):
        xz = self.in_proj(jnp.where(mask[..., None], x, 0.0))
        return jnp.split(xz, 2, axis=-1)

    def _selective_terms(self, xc, dt, mask):
        proj = self.x_proj(xc)
        dt_low, b, c = jnp.split(proj, [self.dt_rank, self.dt_rank + self.state_dim], axis=-1)
        delta = jax.nn.softplus(self.dt_proj(dt_low) + self.dt_bias[...])
        delta = delta * jnp.where(mask, dt, 0.0)[..., None]
        return delta, b, c

    def _output(self, y, z):
        return self.out_proj(y * jax.nn.silu(z))

    def __call__(self, x, dt=None, mask=None, *, return_state: bool = False):
        """Run the layer over a whole sequence in parallel.

        Args:
            x: Input of shape ``(num_timesteps, dim)``.
            dt: Time gap before each step, shape ``(num_timesteps,)``; ones when None.
            mask: Whether each step is observed, shape ``(num_timesteps,)``; a missing step
                holds the state.
            return_state: Also return the state after the last step.

        Returns:
            The output of shape ``(num_timesteps, dim)``, and the last state when
            ``return_state`` is True.
        """
        num_timesteps = x.shape[0]
        dt = sequence_dt(dt, num_timesteps)
        mask = sequence_mask(mask, num_timesteps)
        xi, z = self._split_input(x, mask)
        k = self.conv_width
        padded = jnp.concatenate([jnp.zeros((k - 1, self.inner_dim), xi.dtype), xi], axis=0)
        w = self.conv_weight[...]
        conv = sum(w[j] * padded[j : j + num_timesteps] for j in range(k))
        xc = jax.nn.silu(conv + self.conv_bias[...])
        delta, b, c = self._selective_terms(xc, dt, mask)
        a = -jnp.exp(self.a_log[...])
        y, h_last = ssm.selective_scan(
            xc, delta, a, b, c, self.d[...], method=self.method, return_state=True
        )
        out = self._output(y, z)
        if return_state:
            return out, (padded[num_timesteps:], h_last)
        return out

    def step(self, state, x_t, dt_t=None, mask_t=None):
        """Advance the state by one observation.

        Args:
            state: The state from :meth:`init_state` or a previous step.
            x_t: Input of shape ``(dim,)``.
            dt_t: Time gap since the previous step; 1 when None.
            mask_t: Whether ``x_t`` is observed; True when None.

        Returns:
            ``(new_state, y_t)`` with ``y_t`` of shape ``(dim,)``.
        """
        buffer, h = state
        dt = step_dt(dt_t)
        m = step_mask(mask_t)
        xi, z = self._split_input(x_t, m)
        window = jnp.concatenate([buffer, xi[None]], axis=0)
        w = self.conv_weight[...]
        conv = sum(w[j] * window[j] for j in range(self.conv_width))
        xc = jax.nn.silu(conv + self.conv_bias[...])
        delta, b, c = self._selective_terms(xc, dt, m)
        a = -jnp.exp(self.a_log[...])
        h, y = ssm.selective_step(h, xc, delta, a, b, c, self.d[...])
        return (window[1:], h), self._output(y, z)
