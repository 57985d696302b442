"""Discretisation of diagonal continuous-time systems with a per-step ``dt``.

The continuous system ``h'(t) = Lambda h(t) + B u(t)`` with diagonal ``Lambda`` becomes
``h[t] = Lambda_bar[t] * h[t-1] + B_bar[t] @ u[t]``. With a step ``dt`` per observation the
real time gap between observations is the step: uneven timestamps need no imputation.

Both functions return ``(Lambda_bar, B_bar)``; with ``B=None`` they return
``(Lambda_bar, gain)`` where ``B_bar = gain[..., None] * B``, the form layers use so that a
per-step ``B_bar`` of shape ``(T, N, H)`` is never materialised:
``b[t] = gain[t] * (B @ u[t])``.
"""

from __future__ import annotations

import jax.numpy as jnp

from ssmcast.ssm._checks import as_inexact


def _prepare(Lambda, B, dt, func):
    Lambda = as_inexact("Lambda", Lambda, func=func)
    if Lambda.ndim != 1:
        raise ValueError(
            f"`Lambda` of {func} must be the diagonal, shape (state_dim,). Got shape "
            f"{Lambda.shape}."
        )
    dt = as_inexact("dt", dt, func=func)
    if dt.ndim > 1:
        raise ValueError(
            f"`dt` of {func} must be a scalar or have shape (num_timesteps,). Got shape {dt.shape}."
        )
    if B is not None:
        B = as_inexact("B", B, func=func)
        if B.ndim != 2 or B.shape[0] != Lambda.shape[0]:
            raise ValueError(
                f"`B` of {func} must have shape ({Lambda.shape[0]}, input_dim) to match "
                f"`Lambda`. Got shape {B.shape}."
            )
    # (N,) for a scalar step, (T, N) for one step per time.
    return Lambda, B, dt[..., None]


def _finish(Lambda_bar, gain, B):
    if B is None:
        return Lambda_bar, gain
    return Lambda_bar, gain[..., None] * B


def discretize_zoh(Lambda, B, dt):
    r"""Zero-order hold: the exact discretisation for inputs constant over each step.

    .. math::
        \bar\Lambda = e^{\Lambda \Delta}, \qquad
        \bar B = \Lambda^{-1} (e^{\Lambda \Delta} - 1) B

    The gain uses ``expm1`` and tends to ``dt`` as ``Lambda -> 0``, so it stays accurate for
    slow modes and exact for ``Lambda = 0``.

    Args:
        Lambda: Diagonal of the continuous-time state matrix, shape ``(N,)``, real or complex.
        B: Input matrix, shape ``(N, H)``, or None to get the per-state gain instead.
        dt: Step size, a scalar or one per time step, shape ``(T,)``.

    Returns:
        ``(Lambda_bar, B_bar)`` of shapes ``(N,)`` and ``(N, H)`` for a scalar ``dt``, or
        ``(T, N)`` and ``(T, N, H)`` for a per-step ``dt``. With ``B=None`` the second item
        is the gain, shape ``(N,)`` or ``(T, N)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> lam, gain = discretize_zoh(jnp.array([-1.0, 0.0]), None, 0.5)
        >>> lam
        Array([0.60653067, 1.        ], dtype=float32)
        >>> gain
        Array([0.39346933, 0.5       ], dtype=float32)
    """
    Lambda, B, dt = _prepare(Lambda, B, dt, "discretize_zoh")
    z = Lambda * dt
    Lambda_bar = jnp.exp(z)
    small = jnp.abs(z) < 1e-4
    safe_lambda = jnp.where(small, jnp.ones_like(Lambda), Lambda)
    # expm1(z) / Lambda, with its series dt * (1 + z/2 + z^2/6) where z is tiny.
    gain = jnp.where(small, dt * (1 + z / 2 + z * z / 6), jnp.expm1(z) / safe_lambda)
    return _finish(Lambda_bar, gain, B)


def discretize_bilinear(Lambda, B, dt):
    r"""Bilinear (Tustin) discretisation, as in S4 and S5.

    .. math::
        \bar\Lambda = \frac{1 + \Delta\Lambda/2}{1 - \Delta\Lambda/2}, \qquad
        \bar B = \frac{\Delta}{1 - \Delta\Lambda/2} B

    Args:
        Lambda: Diagonal of the continuous-time state matrix, shape ``(N,)``, real or complex.
        B: Input matrix, shape ``(N, H)``, or None to get the per-state gain instead.
        dt: Step size, a scalar or one per time step, shape ``(T,)``.

    Returns:
        ``(Lambda_bar, B_bar)`` shaped as for :func:`discretize_zoh`.

    Examples:
        >>> import jax.numpy as jnp
        >>> lam, gain = discretize_bilinear(jnp.array([-1.0]), None, 0.5)
        >>> lam, gain
        (Array([0.6], dtype=float32), Array([0.4], dtype=float32))
    """
    Lambda, B, dt = _prepare(Lambda, B, dt, "discretize_bilinear")
    denom = 1 - dt / 2 * Lambda
    Lambda_bar = (1 + dt / 2 * Lambda) / denom
    gain = dt / denom
    return _finish(Lambda_bar, gain, B)
