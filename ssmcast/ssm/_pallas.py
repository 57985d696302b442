r"""Fused Pallas kernels for the two scans: each reads its inputs once and writes once.

Both kernels parallelise over channels and walk time sequentially inside one program, so the
state stays in registers and every input element is read from memory exactly once:

* :func:`diagonal_scan`: ``h[t] = a[t] * h[t-1] + b[t]`` over ``(T, W)`` arrays (real, or
  complex as real and imaginary parts). A program owns ``block_w`` channels and loads time
  in blocks of ``block_t`` rows, whose steps are unrolled. The memory floor is reading
  ``a`` and ``b`` and writing ``h``.
* :func:`selective_kernel_scan`: the selective (Mamba) scan with ``(D, N)`` states, fused
  with its output contraction: a program owns ``block_d`` channels and all ``N`` states;
  ``exp(dt * A)``, the state update and ``y = h @ C`` happen in registers, so neither the
  ``(T, D, N)`` decays nor the states ever reach memory. The floor is reading ``x``,
  ``dt``, ``B`` and ``C`` and writing ``y``.

Time is padded to a whole number of blocks with steps that leave the state unchanged
(``a = 1, b = 0``; ``dt = 0, x = 0``) and the padded rows are dropped.

On a CPU the kernels run in Pallas' interpreter (``interpret=True``): slow, and meant for
tests against the float64 reference, not for speed. They are reached through
``method="pallas"`` of :func:`~ssmcast.ssm.linear_recurrence` and
:func:`~ssmcast.ssm.selective_scan`; ``method="auto"`` does not choose them until they are
measured faster on an accelerator. Gradients: the diagonal scan's custom VJP runs the adjoint
recurrence with the same kernel; the selective kernel's backward pass is the sequential
method's (the kernel is forward-only).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

__all__ = ["diagonal_scan", "selective_kernel_scan"]

BLOCK_T = 16  # time steps loaded and unrolled per iteration
BLOCK_W = 128  # channels per program (the diagonal scan)
BLOCK_D = 32  # channels per program (the selective scan)


def _interpret() -> bool:
    return jax.default_backend() == "cpu"


def _pad_to(x, size: int, axis: int, value: float = 0.0):
    pad = size - x.shape[axis]
    if pad == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    return jnp.pad(x, widths, constant_values=value)


def _round_up(n: int, block: int) -> int:
    return -(-n // block) * block


# --- the diagonal scan ----------------------------------------------------------------------


def _diagonal_kernel(*refs, num_blocks: int, block_t: int, complex_: bool):
    """One program: ``block_w`` channels, all of time, in blocks of ``block_t`` rows."""
    if complex_:
        ar_ref, ai_ref, br_ref, bi_ref, hr0_ref, hi0_ref, hr_ref, hi_ref = refs

        def body(i, carry):
            hr, hi = carry
            rows = pl.ds(i * block_t, block_t)
            ar, ai, br, bi = (ref[rows, :] for ref in (ar_ref, ai_ref, br_ref, bi_ref))
            out_r, out_i = [], []
            for j in range(block_t):  # unrolled: the state stays in registers
                hr, hi = ar[j] * hr - ai[j] * hi + br[j], ar[j] * hi + ai[j] * hr + bi[j]
                out_r.append(hr)
                out_i.append(hi)
            hr_ref[rows, :] = jnp.stack(out_r)
            hi_ref[rows, :] = jnp.stack(out_i)
            return hr, hi

        jax.lax.fori_loop(0, num_blocks, body, (hr0_ref[0, :], hi0_ref[0, :]))
        return

    a_ref, b_ref, h0_ref, h_ref = refs

    def body(i, h):
        rows = pl.ds(i * block_t, block_t)
        a, b = a_ref[rows, :], b_ref[rows, :]
        out = []
        for j in range(block_t):
            h = a[j] * h + b[j]
            out.append(h)
        h_ref[rows, :] = jnp.stack(out)
        return h

    jax.lax.fori_loop(0, num_blocks, body, h0_ref[0, :])


@partial(jax.jit, static_argnames=("block_t", "block_w", "interpret"))
def _diagonal(a, b, h0, *, block_t: int, block_w: int, interpret: bool):
    num_timesteps, width = b.shape
    complex_ = jnp.issubdtype(b.dtype, jnp.complexfloating)
    block_w = min(block_w, _round_up(width, 8))
    padded_t, padded_w = _round_up(num_timesteps, block_t), _round_up(width, block_w)
    a = _pad_to(_pad_to(a, padded_t, 0, 1.0), padded_w, 1, 1.0)
    b = _pad_to(_pad_to(b, padded_t, 0), padded_w, 1)
    h0 = _pad_to(h0[None], padded_w, 1)
    parts = [a.real, a.imag, b.real, b.imag, h0.real, h0.imag] if complex_ else [a, b, h0]
    real = parts[0].dtype
    series = pl.BlockSpec((padded_t, block_w), lambda i: (0, i))
    start = pl.BlockSpec((1, block_w), lambda i: (0, i))
    num_in = len(parts)
    out = pl.pallas_call(
        partial(
            _diagonal_kernel, num_blocks=padded_t // block_t, block_t=block_t, complex_=complex_
        ),
        grid=(padded_w // block_w,),
        in_specs=[series] * (num_in - (2 if complex_ else 1)) + [start] * (2 if complex_ else 1),
        out_specs=[series] * (2 if complex_ else 1),
        out_shape=[jax.ShapeDtypeStruct((padded_t, padded_w), real)] * (2 if complex_ else 1),
        interpret=interpret,
    )(*parts)
    h = jax.lax.complex(out[0], out[1]) if complex_ else out[0]
    return h[:num_timesteps, :width]


def diagonal_scan(a, b, h0, *, block_t: int | None = None, block_w: int | None = None):
    """``h[t] = a[t] * h[t-1] + b[t]`` along axis 0 by the fused kernel.

    Args:
        a: Decays, the shape and dtype of ``b`` (already broadcast).
        b: Inputs ``(T, ...)``, float32 or complex64 (float64 where enabled).
        h0: The state before the first step, shape ``b.shape[1:]``.
        block_t: Time steps per unrolled block (``BLOCK_T`` when None).
        block_w: Channels per program (``BLOCK_W`` when None).

    Returns:
        All states, the shape and dtype of ``b``.

    Examples:
        >>> import jax.numpy as jnp
        >>> diagonal_scan(jnp.full((3, 1), 0.5), jnp.ones((3, 1)), jnp.zeros(1))[:, 0]
        Array([1.  , 1.5 , 1.75], dtype=float32)
    """
    shape = b.shape
    flat = (shape[0], max(1, b.size // max(shape[0], 1)))
    h = _diagonal(
        a.reshape(flat),
        b.reshape(flat),
        h0.reshape(flat[1:]),
        block_t=block_t or BLOCK_T,
        block_w=block_w or BLOCK_W,
        interpret=_interpret(),
    )
    return h.reshape(shape)


# --- the selective scan ---------------------------------------------------------------------


def _selective_kernel(
    x_ref, dt_ref, a_ref, b_ref, c_ref, h0_ref, y_ref, h_ref, *, num_blocks: int, block_t: int
):
    """One program: ``block_d`` channels with all their states, all of time."""
    a = a_ref[...]  # (block_d, N)

    def body(i, h):
        rows = pl.ds(i * block_t, block_t)
        x, dt, b, c = x_ref[rows, :], dt_ref[rows, :], b_ref[rows, :], c_ref[rows, :]
        out = []
        for j in range(block_t):  # unrolled: decays, states and outputs stay in registers
            h = jnp.exp(dt[j][:, None] * a) * h + (dt[j] * x[j])[:, None] * b[j][None, :]
            out.append(jnp.sum(h * c[j][None, :], axis=1))
        y_ref[rows, :] = jnp.stack(out)
        return h

    h_ref[...] = jax.lax.fori_loop(0, num_blocks, body, h0_ref[...])


@partial(jax.jit, static_argnames=("block_t", "block_d", "interpret"))
def _selective_forward(x, dt, A, B, C, h0, *, block_t: int, block_d: int, interpret: bool):
    num_timesteps, channels = x.shape
    state_dim = A.shape[1]
    block_d = min(block_d, _round_up(channels, 8))
    padded_t, padded_d = _round_up(num_timesteps, block_t), _round_up(channels, block_d)
    # Padded steps have dt = 0 (decay 1, input 0); padded channels are dropped.
    x = _pad_to(_pad_to(x, padded_t, 0), padded_d, 1)
    dt = _pad_to(_pad_to(dt, padded_t, 0), padded_d, 1)
    A = _pad_to(A, padded_d, 0)
    h0 = _pad_to(h0, padded_d, 0)
    B, C = _pad_to(B, padded_t, 0), _pad_to(C, padded_t, 0)
    channel_block = pl.BlockSpec((padded_t, block_d), lambda i: (0, i))
    state_block = pl.BlockSpec((block_d, state_dim), lambda i: (i, 0))
    shared = pl.BlockSpec((padded_t, state_dim), lambda i: (0, 0))
    y, h = pl.pallas_call(
        partial(_selective_kernel, num_blocks=padded_t // block_t, block_t=block_t),
        grid=(padded_d // block_d,),
        in_specs=[channel_block, channel_block, state_block, shared, shared, state_block],
        out_specs=[channel_block, state_block],
        out_shape=[
            jax.ShapeDtypeStruct((padded_t, padded_d), x.dtype),
            jax.ShapeDtypeStruct((padded_d, state_dim), x.dtype),
        ],
        interpret=interpret,
    )(x, dt, A, B, C, h0)
    return y[:num_timesteps, :channels], h[:channels]


@partial(jax.custom_vjp, nondiff_argnums=(6, 7, 8))
def _selective(x, dt, A, B, C, h0, block_t, block_d, reference):
    return _selective_forward(
        x, dt, A, B, C, h0, block_t=block_t, block_d=block_d, interpret=_interpret()
    )


def _selective_fwd(x, dt, A, B, C, h0, block_t, block_d, reference):
    y = _selective(x, dt, A, B, C, h0, block_t, block_d, reference)
    return y, (x, dt, A, B, C, h0)


def _selective_bwd(block_t, block_d, reference, residuals, cotangents):
    _, vjp = jax.vjp(reference, *residuals)  # the reference twin's gradient
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
    block_t: int | None = None,
    block_d: int | None = None,
):
    """The selective scan ``(y, h_last)`` by the fused kernel (``D`` skip not included).

    Args:
        x: Inputs ``(T, D)``.
        dt: Positive step sizes ``(T, D)``.
        A: The continuous-time diagonal state matrix ``(D, N)``.
        B: Input projections ``(T, N)``.
        C: Output projections ``(T, N)``.
        h0: The state before the first step ``(D, N)``.
        reference: A function of the same arguments returning the same ``(y, h_last)``
            (the sequential twin), whose gradient is the kernel's backward pass.
        block_t: Time steps per unrolled block (``BLOCK_T`` when None).
        block_d: Channels per program (``BLOCK_D`` when None).

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
    return _selective(x, dt, A, B, C, h0, block_t or BLOCK_T, block_d or BLOCK_D, reference)
