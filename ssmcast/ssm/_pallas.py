r"""Blocked Pallas kernels for the diagonal scan, parallel over channels *and* time.

A kernel that walks all of time inside one program has only as many programs as there are
channel blocks: far too few to keep a GPU's memory system busy (a width of 64 channels is
one program). These kernels cut time into chunks of ``L`` steps and run in three phases,
each program owning one block of channels in one chunk:

1. **Summarise** (one kernel): each program walks its chunk from a zero state and writes
   only the chunk's end state and its total decay ``prod a``.
2. **Carry** (recursive): the end states of the chunks are themselves a diagonal
   recurrence, ``T / L`` steps long, solved by the same blocked scan (and so on until one
   chunk is left). It gives the state entering every chunk.
3. **Apply** (one kernel): each program walks its chunk again from its entering state and
   writes every state.

Memory traffic is two reads of ``a`` and ``b`` and one write of ``h`` (plus ``2 W T / L``
values of summaries): 5/3 of the floor (read ``a`` and ``b``, write ``h``). Measured on an
H200: 1.58x to 1.69x the floor from 2^24 values up, about half the time of the best XLA
method. The selective scan's kernels (:mod:`ssmcast.ssm._pallas_selective`) use the same
phases and this scan for their carry.

Inside a program, time advances one row at a time, ``UNROLL`` rows per loop iteration with
their loads issued first, so the loads run ahead of the dependent multiply-adds. Row
widths are powers of two (Triton's rule), so channels are padded, and time is padded to
whole chunks with steps that leave the state unchanged (``a = 1, b = 0``). Complex scans
run on real and imaginary parts.

On a GPU the kernels are compiled by Pallas' Triton backend (``num_warps`` per program);
elsewhere they run in Pallas' interpreter (``interpret=True``): slow, and meant for tests
against the float64 reference, not for speed. They are reached through
``method="pallas"`` of :func:`~ssmcast.ssm.linear_recurrence`, which ``method="auto"``
chooses on a GPU where it was measured faster (:func:`~ssmcast.ssm.choose_method`); its
custom VJP runs the adjoint recurrence with the same kernels.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

__all__ = ["chunk_length", "diagonal_scan"]

# Measured on an H200 (benchmarks/pallas.py): at T = 65,536 and 4,096 channels the settings
# from 64 to 256 channels, 1 to 4 warps, 4 to 16 unrolled steps and 1,024 to 16,384
# programs all ran within 1.57x to 1.78x of the memory floor; these were the fastest.
BLOCK_W = 64  # channels per program
UNROLL = 8  # time steps per loop iteration, their loads issued first
MIN_CHUNK = 16  # the shortest chunk; a sequence no longer than this is one chunk
MAX_CHUNK = 1024  # the longest chunk
TARGET_PROGRAMS = 4096  # chunks are made short enough for about this many programs
NUM_WARPS = 1  # warps per program on a GPU


def _interpret() -> bool:
    """Compiled by Triton on a GPU; interpreted anywhere else."""
    return jax.default_backend() != "gpu"


def _compiler_params(num_warps: int, interpret: bool):
    """Triton's parameters on a GPU (this also selects the Triton backend); none otherwise."""
    if interpret:
        return None
    from jax.experimental.pallas import triton as pl_triton

    return pl_triton.CompilerParams(num_warps=num_warps, num_stages=1)


def _pad_to(x, size: int, axis: int, value: float = 0.0):
    pad = size - x.shape[axis]
    if pad == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    return jnp.pad(x, widths, constant_values=value)


def _round_up(n: int, block: int) -> int:
    return -(-n // block) * block


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def chunk_length(
    num_timesteps: int,
    channel_blocks: int,
    *,
    unroll: int | None = None,
    min_chunk: int | None = None,
    max_chunk: int | None = None,
    target_programs: int | None = None,
) -> int:
    """The chunk length ``L``: a power of two, as long as the program count allows.

    Long chunks mean fewer summaries to carry; short chunks mean more programs to fill the
    device. ``L`` is the shortest power of two that keeps the number of programs
    (``channel_blocks * T / L``) at or under ``TARGET_PROGRAMS``, within
    ``[MIN_CHUNK, MAX_CHUNK]`` and at least ``UNROLL``.

    Examples:
        >>> chunk_length(65536, 32), chunk_length(65536, 1), chunk_length(20, 1)
        (512, 16, 16)
    """
    unroll = unroll or UNROLL
    low = max(min_chunk or MIN_CHUNK, unroll)
    wanted = _next_pow2(-(-num_timesteps * channel_blocks // (target_programs or TARGET_PROGRAMS)))
    return _round_up(min(max_chunk or MAX_CHUNK, max(low, wanted)), unroll)


# --- complex arithmetic on (real, imag) parts -----------------------------------------------


def _mul(a, h):
    if len(a) == 1:
        return (a[0] * h[0],)
    return (a[0] * h[0] - a[1] * h[1], a[0] * h[1] + a[1] * h[0])


def _step(a, h, b):
    """``a * h + b`` on tuples of parts (one part: real; two: real and imaginary)."""
    return tuple(p + q for p, q in zip(_mul(a, h), b, strict=True))


# --- the diagonal scan ----------------------------------------------------------------------


def _rows(refs, t):
    return tuple(ref[t, :] for ref in refs)


def _summary_kernel(*refs, parts: int, chunk: int, unroll: int):
    """One program: the end state and the total decay of one chunk, from a zero state."""
    a_refs, b_refs = refs[:parts], refs[parts : 2 * parts]
    p_refs, s_refs = refs[2 * parts : 3 * parts], refs[3 * parts :]
    width = a_refs[0].shape[1]
    dtype = a_refs[0].dtype
    zero = jnp.zeros((width,), dtype)
    one = (jnp.ones((width,), dtype),) + (zero,) * (parts - 1)

    def body(i, carry):
        decay, state = carry
        rows = [i * unroll + j for j in range(unroll)]
        a = [_rows(a_refs, t) for t in rows]  # every load first
        b = [_rows(b_refs, t) for t in rows]
        for j in range(unroll):
            state = _step(a[j], state, b[j])
            decay = _mul(a[j], decay)
        return decay, state

    decay, state = jax.lax.fori_loop(0, chunk // unroll, body, (one, (zero,) * parts))
    for ref, value in zip(p_refs + s_refs, decay + state, strict=True):
        ref[0, :] = value


def _apply_kernel(*refs, parts: int, chunk: int, unroll: int):
    """One program: walk one chunk from its entering state, writing every state."""
    a_refs, b_refs = refs[:parts], refs[parts : 2 * parts]
    h0_refs, h_refs = refs[2 * parts : 3 * parts], refs[3 * parts :]

    def body(i, state):
        rows = [i * unroll + j for j in range(unroll)]
        a = [_rows(a_refs, t) for t in rows]
        b = [_rows(b_refs, t) for t in rows]
        for j, t in enumerate(rows):
            state = _step(a[j], state, b[j])
            for ref, value in zip(h_refs, state, strict=True):
                ref[t, :] = value
        return state

    jax.lax.fori_loop(0, chunk // unroll, body, tuple(ref[0, :] for ref in h0_refs))


def _diagonal_call(kernel, inputs, starts, *, chunk: int, summary: bool, config: dict):
    """One ``pallas_call`` over a ``(channel blocks, chunks)`` grid.

    ``summary``: two values per chunk and part (the decay and the end state) instead of
    every state.
    """
    num_timesteps, width = inputs[0].shape
    block_w, parts = config["block_w"], len(inputs) // 2
    grid = (width // block_w, num_timesteps // chunk)
    series = pl.BlockSpec((chunk, block_w), lambda j, c: (c, j))
    start = pl.BlockSpec((1, block_w), lambda j, c: (c, j))
    rows, count = (grid[1], 2 * parts) if summary else (num_timesteps, parts)
    return pl.pallas_call(
        partial(kernel, parts=parts, chunk=chunk, unroll=config["unroll"]),
        grid=grid,
        in_specs=[series] * len(inputs) + [start] * len(starts),
        out_specs=[start if summary else series] * count,
        out_shape=[jax.ShapeDtypeStruct((rows, width), inputs[0].dtype)] * count,
        interpret=config["interpret"],
        compiler_params=_compiler_params(config["num_warps"], config["interpret"]),
    )(*inputs, *starts)


def _blocked_states(a, b, h0, config):
    """All states of ``h = a * h + b`` for tuples of ``(T, W)`` parts, ``W`` whole blocks.

    ``T`` is padded here to whole chunks; ``W`` must already be a multiple of the block.
    """
    parts = len(b)
    num_timesteps, width = b[0].shape
    block_w = config["block_w"]
    chunk = config["chunk"] or chunk_length(
        num_timesteps, width // block_w, unroll=config["unroll"]
    )
    padded_t = _round_up(num_timesteps, chunk)
    one = (1.0,) + (0.0,) * (parts - 1)
    a = tuple(_pad_to(p, padded_t, 0, v) for p, v in zip(a, one, strict=True))
    b = tuple(_pad_to(p, padded_t, 0) for p in b)
    num_chunks = padded_t // chunk
    if num_chunks == 1:
        starts = tuple(p[None] for p in h0)
    else:
        summary = _diagonal_call(
            _summary_kernel, a + b, (), chunk=chunk, summary=True, config=config
        )
        decay, end = tuple(summary[:parts]), tuple(summary[parts:])
        # The end state of every chunk is a recurrence over chunks: the same scan, shorter.
        ends = _blocked_states(decay, end, h0, {**config, "chunk": None})
        starts = tuple(
            jnp.concatenate([p0[None], p[:-1]], axis=0) for p0, p in zip(h0, ends, strict=True)
        )
    states = _diagonal_call(_apply_kernel, a + b, starts, chunk=chunk, summary=False, config=config)
    return tuple(s[:num_timesteps] for s in states)


@partial(jax.jit, static_argnames=("chunk", "block_w", "unroll", "num_warps", "interpret"))
def _diagonal(a, b, h0, *, chunk, block_w, unroll, num_warps, interpret):
    width = b.shape[1]
    complex_ = jnp.issubdtype(b.dtype, jnp.complexfloating)
    block_w = min(block_w or BLOCK_W, max(16, _next_pow2(width)))
    padded_w = _round_up(width, block_w)

    def split(x, fill):
        x = _pad_to(x, padded_w, x.ndim - 1, fill)
        return (x.real, x.imag) if complex_ else (x,)

    config = dict(
        chunk=chunk, block_w=block_w, unroll=unroll, num_warps=num_warps, interpret=interpret
    )
    states = _blocked_states(split(a, 1.0), split(b, 0.0), split(h0, 0.0), config)
    h = jax.lax.complex(*states) if complex_ else states[0]
    return h[:, :width]


def diagonal_scan(
    a,
    b,
    h0,
    *,
    chunk: int | None = None,
    block_w: int | None = None,
    unroll: int | None = None,
    num_warps: int | None = None,
):
    """``h[t] = a[t] * h[t-1] + b[t]`` along axis 0 by the blocked kernels.

    Args:
        a: Decays, the shape and dtype of ``b`` (already broadcast).
        b: Inputs ``(T, ...)``, float32 or complex64 (float64 where enabled).
        h0: The state before the first step, shape ``b.shape[1:]``.
        chunk: Time steps per program, a multiple of ``unroll`` (:func:`chunk_length` when
            None).
        block_w: Channels per program, a power of two (``BLOCK_W`` when None).
        unroll: Time steps per loop iteration (``UNROLL`` when None).
        num_warps: Warps per program on a GPU (``NUM_WARPS`` when None).

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
        chunk=chunk,
        block_w=block_w,
        unroll=unroll or UNROLL,
        num_warps=num_warps or NUM_WARPS,
        interpret=_interpret(),
    )
    return h.reshape(shape)
