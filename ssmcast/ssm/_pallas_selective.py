r"""The blocked Pallas kernels of the selective (Mamba) scan.

The same three phases as the diagonal scan's (:mod:`ssmcast.ssm._pallas`): each program
owns a block of channels, with all their ``N`` states, in one chunk of time; one pass
writes each chunk's end state and total step ``sum dt`` (since
``prod exp(dt A) = exp(A sum dt)``), the diagonal kernels carry the states across chunks,
and a second pass writes ``y``. ``exp(dt A)``, the state update and ``y = C . h`` happen in
registers: neither the ``(T, D, N)`` decays nor the states ever reach memory.

States are laid out ``(N, block_d)``: a thread owns whole channels, so the decays, the
update and the output's sum over states stay within it. ``A`` is scaled by ``log2(e)`` so
the decays are ``exp2``.

The kernel is forward-only. Under differentiation the ``reference`` method (the one
``method="auto"`` would otherwise run) does the forward pass as well as the backward, so a
training step costs what the reference's does and the kernel serves the forward-only calls:
inference, backtests and validation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from ssmcast.ssm._pallas import (
    _compiler_params,
    _interpret,
    _next_pow2,
    _pad_to,
    _round_up,
    chunk_length,
    diagonal_scan,
)

__all__ = ["selective_kernel_scan"]

BLOCK_D = 32  # channels per program, each with all its states (one per thread)
UNROLL = 4  # time steps per loop iteration
NUM_WARPS = 1  # warps per program on a GPU
TARGET_PROGRAMS = 4096  # chunks are made short enough for about this many programs


def _selective_rows(x_ref, dt_ref, b_ref, t):
    return x_ref[t, :], dt_ref[t, :], b_ref[t, :]


def _selective_update(h, a, x, dt, b):
    """One step on a ``(N, block_d)`` state: ``exp(dt A) h + B (dt x)``, with ``A`` in base 2.

    States run down the rows and channels across, so a thread owns whole columns: the
    decays, the update and the output's sum over states stay within a thread.
    """
    return jnp.exp2(dt[None, :] * a) * h + b[:, None] * (dt * x)[None, :]


def _selective_summary_kernel(
    x_ref, dt_ref, a_ref, b_ref, s_ref, dts_ref, *, chunk: int, unroll: int
):
    """One program: the chunk's end state from zero, and its total step ``sum dt``."""
    a = a_ref[...]  # (N, block_d), times log2(e)

    def body(i, carry):
        h, total = carry
        rows = [_selective_rows(x_ref, dt_ref, b_ref, i * unroll + j) for j in range(unroll)]
        for x, dt, b in rows:
            h = _selective_update(h, a, x, dt, b)
            total = total + dt
        return h, total

    zero_h = jnp.zeros(a.shape, a.dtype)
    zero_t = jnp.zeros(a.shape[1:], a.dtype)
    h, total = jax.lax.fori_loop(0, chunk // unroll, body, (zero_h, zero_t))
    s_ref[0, :, :] = h
    dts_ref[0, :] = total


def _selective_apply_kernel(
    x_ref, dt_ref, a_ref, b_ref, c_ref, h0_ref, y_ref, *, chunk: int, unroll: int
):
    """One program: walk one chunk from its entering state, writing ``y = C . h``."""
    a = a_ref[...]

    def body(i, h):
        rows = [i * unroll + j for j in range(unroll)]
        loads = [(*_selective_rows(x_ref, dt_ref, b_ref, t), c_ref[t, :]) for t in rows]
        for t, (x, dt, b, c) in zip(rows, loads, strict=True):
            h = _selective_update(h, a, x, dt, b)
            y_ref[t, :] = jnp.sum(h * c[:, None], axis=0)
        return h

    jax.lax.fori_loop(0, chunk // unroll, body, h0_ref[0, :, :])


@partial(jax.jit, static_argnames=("chunk", "block_d", "unroll", "num_warps", "interpret"))
def _selective_forward(x, dt, A, B, C, h0, *, chunk, block_d, unroll, num_warps, interpret):
    num_timesteps, channels = x.shape
    state_dim = A.shape[1]
    block_d = min(block_d, max(16, _next_pow2(channels)))
    padded_d, padded_n = _round_up(channels, block_d), max(16, _next_pow2(state_dim))
    chunk = chunk or chunk_length(
        num_timesteps, padded_d // block_d, unroll=unroll, target_programs=TARGET_PROGRAMS
    )
    padded_t = _round_up(num_timesteps, chunk)
    num_chunks = padded_t // chunk
    # Padded steps have dt = 0 (decay 1, input 0); padded channels and states stay zero.
    # States are laid out (N, D); A is scaled by log2(e) so that exp(dt A) = exp2(dt A').
    x, dt = (_pad_to(_pad_to(v, padded_t, 0), padded_d, 1) for v in (x, dt))
    a = _pad_to(_pad_to(A.T * jnp.log2(jnp.e).astype(A.dtype), padded_n, 0), padded_d, 1)
    h0 = _pad_to(_pad_to(h0.T, padded_n, 0), padded_d, 1)
    B, C = (_pad_to(_pad_to(v, padded_t, 0), padded_n, 1) for v in (B, C))

    grid = (padded_d // block_d, num_chunks)
    channel_block = pl.BlockSpec((chunk, block_d), lambda j, c: (c, j))
    states = pl.BlockSpec((padded_n, block_d), lambda j, c: (0, j))
    shared = pl.BlockSpec((chunk, padded_n), lambda j, c: (c, 0))
    per_chunk = pl.BlockSpec((1, padded_n, block_d), lambda j, c: (c, 0, j))
    params = dict(
        interpret=interpret, compiler_params=_compiler_params(num_warps, interpret), grid=grid
    )
    end, total = pl.pallas_call(
        partial(_selective_summary_kernel, chunk=chunk, unroll=unroll),
        in_specs=[channel_block, channel_block, states, shared],
        out_specs=[per_chunk, pl.BlockSpec((1, block_d), lambda j, c: (c, j))],
        out_shape=[
            jax.ShapeDtypeStruct((num_chunks, padded_n, padded_d), x.dtype),
            jax.ShapeDtypeStruct((num_chunks, padded_d), x.dtype),
        ],
        **params,
    )(x, dt, a, B)
    # Carry across chunks: h_end[c] = exp(A sum dt) * h_end[c-1] + end[c], a diagonal scan.
    decay = jnp.exp2(total[:, None, :] * a[None])
    width = padded_n * padded_d
    ends = diagonal_scan(
        decay.reshape(num_chunks, width),
        end.reshape(num_chunks, width),
        h0.reshape(width),
    ).reshape(num_chunks, padded_n, padded_d)
    starts = jnp.concatenate([h0[None], ends[:-1]], axis=0)
    y = pl.pallas_call(
        partial(_selective_apply_kernel, chunk=chunk, unroll=unroll),
        in_specs=[channel_block, channel_block, states, shared, shared, per_chunk],
        out_specs=channel_block,
        out_shape=jax.ShapeDtypeStruct((padded_t, padded_d), x.dtype),
        **params,
    )(x, dt, a, B, C, starts)
    return y[:num_timesteps, :channels], ends[-1, :state_dim, :channels].T


@partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def _selective(x, dt, A, B, C, h0, config, reference):
    return _selective_forward(x, dt, A, B, C, h0, **dict(config), interpret=_interpret())


def _selective_fwd(x, dt, A, B, C, h0, config, reference):
    # Differentiated: the reference method runs forward (its residuals are what its backward
    # pass needs), so a training step costs what the reference's does; the kernel serves the
    # forward-only calls (inference, backtests, validation).
    return jax.vjp(reference, x, dt, A, B, C, h0)


def _selective_bwd(config, reference, vjp, cotangents):
    return vjp(cotangents)


_selective.defvjp(_selective_fwd, _selective_bwd)


def selective_kernel_scan(
    x,
    dt,
    A,
    B,
    C,
    h0,
    *,
    reference: Callable,
    chunk: int | None = None,
    block_d: int | None = None,
    unroll: int | None = None,
    num_warps: int | None = None,
):
    """The selective scan ``(y, h_last)`` by the blocked kernels (``D`` skip not included).

    Args:
        x: Inputs ``(T, D)``.
        dt: Positive step sizes ``(T, D)``.
        A: The continuous-time diagonal state matrix ``(D, N)``.
        B: Input projections ``(T, N)``.
        C: Output projections ``(T, N)``.
        h0: The state before the first step ``(D, N)``.
        reference: A function of the same arguments returning the same ``(y, h_last)``
            (another method), whose gradient is the kernel's backward pass.
        chunk: Time steps per program (:func:`chunk_length` when None).
        block_d: Channels per program, a power of two (``BLOCK_D`` when None).
        unroll: Time steps per loop iteration (``UNROLL`` when None).
        num_warps: Warps per program on a GPU (``NUM_WARPS`` when None).

    Returns:
        ``y`` of shape ``(T, D)`` and the last state ``(D, N)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from ssmcast.ssm._selective import _sequential
        >>> T, D, N = 5, 2, 3
        >>> y, h = selective_kernel_scan(
        ...     jnp.ones((T, D)),
        ...     jnp.ones((T, D)),
        ...     -jnp.ones((D, N)),
        ...     jnp.ones((T, N)),
        ...     jnp.ones((T, N)),
        ...     jnp.zeros((D, N)),
        ...     reference=_sequential,
        ... )
        >>> y.shape, h.shape
        ((5, 2), (2, 3))
    """
    config = (
        ("chunk", chunk),
        ("block_d", block_d or BLOCK_D),
        ("unroll", unroll or UNROLL),
        ("num_warps", num_warps or NUM_WARPS),
    )
    return _selective(x, dt, A, B, C, h0, config, reference)
