"""Initialisers for the diagonal state matrix ``Lambda`` of linear SSMs.

All return continuous-time eigenvalues ``Lambda`` of shape ``(state_dim,)``, complex64, for
use with :func:`discretize_zoh` or :func:`discretize_bilinear`. Real systems use conjugate
pairs: keep these ``state_dim`` eigenvalues (positive imaginary parts) and take twice the real
part of the output, as S5 and LRU do.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def _check_state_dim(state_dim, func):
    if isinstance(state_dim, bool) or not isinstance(state_dim, int | np.integer) or state_dim < 1:
        raise ValueError(f"`state_dim` of {func} must be a positive int. Got {state_dim!r}.")
    return int(state_dim)


def init_s4d_lin(state_dim: int):
    r"""S4D-Lin: ``Lambda_n = -1/2 + i pi n``, a linear approximation of HiPPO-LegS.

    Args:
        state_dim: Number of (complex) states ``N``.

    Returns:
        ``Lambda``, shape ``(N,)``, complex64.

    Examples:
        >>> init_s4d_lin(3)
        Array([-0.5+0.j       , -0.5+3.1415927j, -0.5+6.2831855j], dtype=complex64)
    """
    n = np.arange(_check_state_dim(state_dim, "init_s4d_lin"))
    return jnp.asarray(-0.5 + 1j * np.pi * n, jnp.complex64)


def init_s4d_inv(state_dim: int):
    r"""S4D-Inv: ``Lambda_n = -1/2 + i (N / pi) (N / (2n + 1) - 1)``, the inverse-law fit.

    Args:
        state_dim: Number of (complex) states ``N``.

    Returns:
        ``Lambda``, shape ``(N,)``, complex64.

    Examples:
        >>> init_s4d_inv(2).real
        Array([-0.5, -0.5], dtype=float32)
    """
    size = _check_state_dim(state_dim, "init_s4d_inv")
    n = np.arange(size)
    return jnp.asarray(-0.5 + 1j * size / np.pi * (size / (2 * n + 1) - 1), jnp.complex64)


def init_hippo_legs(state_dim: int):
    """S5's initialisation: eigenvalues of the normal part of the HiPPO-LegS matrix.

    HiPPO-LegS is ``A = S - P P^T`` with ``S`` normal; the eigenvalues of ``S`` have real part
    ``-1/2``. Of each conjugate pair the eigenvalue with positive imaginary part is kept, so
    ``2 * state_dim`` HiPPO states give ``state_dim`` complex ones, sorted by frequency.

    Args:
        state_dim: Number of (complex) states ``N``.

    Returns:
        ``Lambda``, shape ``(N,)``, complex64.

    Examples:
        >>> lam = init_hippo_legs(4)
        >>> bool(jnp.allclose(lam.real, -0.5, atol=1e-4)), bool((lam.imag > 0).all())
        (True, True)
    """
    size = 2 * _check_state_dim(state_dim, "init_hippo_legs")
    p = np.sqrt(np.arange(size) + 0.5)
    q = np.sqrt(2 * np.arange(size) + 1.0)
    A = -np.tril(np.outer(q, q)) + np.diag(np.arange(size))  # HiPPO-LegS
    S = A + np.outer(p, p)  # normal part: -1/2 I plus a skew-symmetric matrix
    skew = S + 0.5 * np.eye(size)
    freqs = np.linalg.eigvalsh(-1j * skew).real  # eigenvalues of skew are i * freqs
    freqs = np.sort(freqs[freqs > 0])
    return jnp.asarray(-0.5 + 1j * freqs, jnp.complex64)


def init_lru(key, state_dim: int, *, r_min: float = 0.0, r_max: float = 1.0, max_phase=2 * math.pi):
    """LRU ring initialisation, as continuous-time eigenvalues for a unit step.

    Samples discrete eigenvalues uniformly on the ring ``r_min <= |z| <= r_max`` with phase in
    ``[0, max_phase]`` (Orvieto et al. 2023) and returns ``Lambda = log(z)``, so that
    ``exp(Lambda * 1.0)`` is the sample: with ``dt = 1`` the LRU is recovered, and other step
    sizes scale time consistently.

    Args:
        key: A :func:`jax.random.PRNGKey`.
        state_dim: Number of (complex) states ``N``.
        r_min: Smallest modulus, in ``[0, r_max)``.
        r_max: Largest modulus, in ``(r_min, 1]``.
        max_phase: Largest phase, in ``(0, 2 pi]``.

    Returns:
        ``Lambda``, shape ``(N,)``, complex64.

    Raises:
        ValueError: If the radii or phase are out of range.

    Examples:
        >>> import jax
        >>> lam = init_lru(jax.random.PRNGKey(0), 8, r_min=0.9, r_max=0.99)
        >>> r = jnp.abs(jnp.exp(lam))
        >>> bool((r >= 0.9).all() and (r <= 0.99 + 1e-6).all())
        True
    """
    size = _check_state_dim(state_dim, "init_lru")
    if not 0.0 <= r_min < r_max <= 1.0:
        raise ValueError(
            f"`r_min` and `r_max` of init_lru must satisfy 0 <= r_min < r_max <= 1. "
            f"Got r_min={r_min!r}, r_max={r_max!r}."
        )
    if not 0.0 < max_phase <= 2 * math.pi:
        raise ValueError(f"`max_phase` of init_lru must be in (0, 2 pi]. Got {max_phase!r}.")
    k_r, k_phase = jax.random.split(key)
    u_r = jax.random.uniform(k_r, (size,))
    u_phase = jax.random.uniform(k_phase, (size,))
    # Uniform on the ring's area: |z|^2 uniform in [r_min^2, r_max^2].
    log_r = 0.5 * jnp.log(jnp.maximum(u_r * (r_max**2 - r_min**2) + r_min**2, 1e-12))
    phase = max_phase * u_phase
    return (log_r + 1j * phase).astype(jnp.complex64)
