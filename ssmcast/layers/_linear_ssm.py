"""Linear diagonal state space layer (S5 / LRU style) that reads the real time gap per step."""

import math

import jax
import jax.numpy as jnp
from flax import nnx

from ssmcast import ssm
from ssmcast.layers._inputs import sequence_dt, sequence_mask, step_dt, step_mask
from ssmcast.layers._params import SSMParam

_INITS = ("lru", "hippo", "s4d_lin", "s4d_inv")
_NORMALIZATIONS = ("lru", "zoh")


def _initial_eigenvalues(init, state_dim, key, r_min, r_max, max_phase):
    if init == "lru":
        return ssm.init_lru(key, state_dim, r_min=r_min, r_max=r_max, max_phase=max_phase)
    if init == "hippo":
        return ssm.init_hippo_legs(state_dim)
    if init == "s4d_lin":
        return ssm.init_s4d_lin(state_dim)
    return ssm.init_s4d_inv(state_dim)


class LinearSSM(nnx.Module):
    r"""Diagonal complex linear state space layer, continuous in time (S5 / LRU style).

    The continuous system :math:`\dot h = \Lambda h + B u`, :math:`y = C h + D u` with a
    diagonal complex :math:`\Lambda` is discretised at every step with its own time gap
    ``dt[t]`` (in units of the nominal sampling step), scaled by a learnable per-state step
    size :math:`\Delta`:

    .. math::

        h_t = e^{\Lambda \Delta dt_t} h_{t-1} + m_t\, g(\min(dt_t, 1)) \odot (B u_t),\qquad
        y_t = 2\,\mathrm{Re}(C h_t) + D \odot u_t

    where :math:`m_t` is the observed flag and :math:`g` the zero-order-hold input gain
    :math:`(e^{\Lambda \Delta s} - 1) / \Lambda` for a hold of length ``s``. The input acts over
    at most the last unit interval before an observation, so a gap of ``dt=2`` gives exactly
    the state of two unit steps whose first is missing (:math:`e^{2\Lambda\Delta} =
    (e^{\Lambda\Delta})^2`, and a missing step only decays). With ``normalization="lru"`` the
    gain is rescaled to :math:`\gamma\, g(\min(dt,1)) / g(1)` with a learnable
    :math:`\gamma` initialised to :math:`\sqrt{1 - |e^{\Lambda\Delta}|^2}` (LRU's input
    normalisation), so every state has unit stationary variance under white-noise input.

    The state holds one of each conjugate pair of eigenvalues; the real output is
    ``2 Re(C h)`` (``conj_sym=True``) or ``Re(C h)``. The layer acts on one unbatched
    sequence; batch it with :func:`jax.vmap`.

    Args:
        dim: Width of the input and output.
        state_dim: Number of complex states.
        init: Eigenvalue initialisation: ``"lru"`` (uniform on the ring
            ``r_min <= |exp(Lambda)| <= r_max`` with phase up to ``max_phase``, unit step),
            ``"hippo"`` (S5's HiPPO-LegS), ``"s4d_lin"`` or ``"s4d_inv"`` (with a log-uniform
            step in ``[step_min, step_max]``).
        r_min: Smallest decay per unit step for ``init="lru"``.
        r_max: Largest decay per unit step for ``init="lru"``.
        max_phase: Largest rotation per unit step for ``init="lru"``.
        step_min: Smallest initial step size for the non-LRU initialisations.
        step_max: Largest initial step size for the non-LRU initialisations.
        normalization: ``"lru"`` (learnable gain, unit stationary variance) or ``"zoh"``
            (the plain zero-order-hold gain).
        conj_sym: Whether the output is ``2 Re(C h)`` (conjugate pairs) or ``Re(C h)``.
        method: Scan method passed to :func:`ssmcast.ssm.linear_recurrence`.
        rngs: Random number streams for the initialisation.

    Raises:
        ValueError: If ``init`` or ``normalization`` is unknown.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> layer = LinearSSM(3, 4, rngs=nnx.Rngs(0))
        >>> layer(jnp.ones((10, 3))).shape
        (10, 3)
        >>> state, y_t = layer.step(layer.init_state(), jnp.ones(3), dt_t=2.0)
        >>> state.shape, y_t.shape
        ((4,), (3,))
    """

    def __init__(
        self,
        dim: int,
        state_dim: int,
        *,
        init: str = "lru",
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = math.pi / 4,
        step_min: float = 1e-3,
        step_max: float = 1e-1,
        normalization: str = "lru",
        conj_sym: bool = True,
        method: str = "auto",
        rngs: nnx.Rngs,
    ):
        if init not in _INITS:
            raise ValueError(
                f"The 'init' parameter of LinearSSM must be one of {_INITS}. Got {init!r}."
            )
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"The 'normalization' parameter of LinearSSM must be one of {_NORMALIZATIONS}. "
                f"Got {normalization!r}."
            )
        self.dim, self.state_dim = dim, state_dim
        self.normalization, self.conj_sym, self.method = normalization, conj_sym, method
        lam = _initial_eigenvalues(init, state_dim, rngs.params(), r_min, r_max, max_phase)
        if init == "lru":
            log_step = jnp.zeros((state_dim,))
        else:
            u = jax.random.uniform(rngs.params(), (state_dim,))
            log_step = math.log(step_min) + u * (math.log(step_max) - math.log(step_min))
        self.lambda_log_neg_re = SSMParam(jnp.log(jnp.clip(-lam.real, 1e-6, 1e6)))
        self.lambda_im = SSMParam(jnp.asarray(lam.imag, jnp.float32))
        self.log_step = SSMParam(log_step)
        b_scale = 1.0 / math.sqrt(2 * dim)
        self.b_re = SSMParam(b_scale * jax.random.normal(rngs.params(), (state_dim, dim)))
        self.b_im = SSMParam(b_scale * jax.random.normal(rngs.params(), (state_dim, dim)))
        if normalization == "lru":
            lam_bar = jnp.exp(self._eigenvalues() * jnp.exp(log_step))
            self.gamma_log = SSMParam(
                0.5 * jnp.log1p(-jnp.clip(jnp.abs(lam_bar) ** 2, 0, 1 - 1e-6))
            )
        c_scale = 1.0 / math.sqrt(2 * state_dim * (2 if conj_sym else 1))
        self.c_re = nnx.Param(c_scale * jax.random.normal(rngs.params(), (dim, state_dim)))
        self.c_im = nnx.Param(c_scale * jax.random.normal(rngs.params(), (dim, state_dim)))
        self.d = nnx.Param(jax.random.normal(rngs.params(), (dim,)))

    def _eigenvalues(self):
        return jax.lax.complex(-jnp.exp(self.lambda_log_neg_re[...]), self.lambda_im[...])

    def _coefficients(self, dt):
        """Decay ``exp(Lambda Delta dt)`` and input gain, shape ``dt.shape + (state_dim,)``."""
        step = jnp.exp(self.log_step[...])
        lam = self._eigenvalues() * step
        decay, _ = ssm.discretize_zoh(lam, None, dt)
        _, gain = ssm.discretize_zoh(lam, None, jnp.minimum(dt, 1.0))
        if self.normalization == "lru":
            _, unit_gain = ssm.discretize_zoh(lam, None, jnp.ones((), dt.dtype))
            gain = gain / unit_gain * jnp.exp(self.gamma_log[...])
        else:
            gain = gain * step
        return decay, gain

    def _project(self, u):
        """``B u`` for real inputs ``u (..., dim)``: complex ``(..., state_dim)``.

        Written as one real product with ``[B_re; B_im]``: a complex product would
        promote ``u`` to complex and do four real products where two are needed.
        """
        weights = jnp.concatenate([self.b_re[...], self.b_im[...]], axis=0)
        parts = u @ weights.T
        return jax.lax.complex(parts[..., : self.state_dim], parts[..., self.state_dim :])

    def _output(self, h, u):
        # Re(C h) as one real product of [Re h, Im h] with [C_re, -C_im]: the imaginary
        # part is never computed
        parts = jnp.concatenate([h.real, h.imag], axis=-1)
        weights = jnp.concatenate([self.c_re[...], -self.c_im[...]], axis=-1)
        y = parts @ weights.T
        if self.conj_sym:
            y = 2.0 * y
        return y + self.d[...] * u

    def init_state(self) -> jax.Array:
        """The zero state, shape ``(state_dim,)``, complex."""
        return jnp.zeros((self.state_dim,), jnp.complex64)

    def __call__(self, x, dt=None, mask=None, *, return_state: bool = False):
        """Run the layer over a whole sequence in parallel.

        Args:
            x: Input of shape ``(num_timesteps, dim)``.
            dt: Time gap before each step, shape ``(num_timesteps,)``; None for a regular
                grid (every gap 1), which is cheaper than an array of ones: the discretised
                coefficients are then computed once instead of at every step.
            mask: Whether each step is observed, shape ``(num_timesteps,)``; at a missing step
                the input is zeroed and the state only decays.
            return_state: Also return the state after the last step.

        Returns:
            The output of shape ``(num_timesteps, dim)``, and the last state when
            ``return_state`` is True.
        """
        num_timesteps = x.shape[0]
        mask = sequence_mask(mask, num_timesteps)
        u = jnp.where(mask[:, None], x, 0.0)
        # on a regular grid (dt None) the coefficients are the same at every step: computed
        # once, not per step (per step, they were half the cost of a training step)
        steps = jnp.ones((), jnp.float32) if dt is None else sequence_dt(dt, num_timesteps)
        decay, gain = self._coefficients(steps)
        b = jnp.where(mask[:, None], gain * self._project(u), 0.0)
        h = ssm.linear_recurrence(decay, b, method=self.method)
        y = self._output(h, u)
        return (y, h[-1]) if return_state else y

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
        dt = step_dt(dt_t)
        m = step_mask(mask_t)
        u = jnp.where(m, x_t, 0.0)
        decay, gain = self._coefficients(dt)
        b = jnp.where(m, gain * self._project(u), 0.0)
        state = ssm.recurrence_step(state, decay, b)
        return state, self._output(state, u)
