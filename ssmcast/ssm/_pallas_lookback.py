r"""A single-pass diagonal scan kernel: chunks carried by decoupled look-back.

The blocked kernels of :mod:`ssmcast.ssm._pallas` read ``a`` and ``b`` twice (once to
summarise each chunk, once to write it). This kernel reads them once. Each program takes the
next tile (a block of channels in one chunk of time) from an atomic counter, so a tile only
ever waits on tiles that started before it, and then:

1. loads its chunk, runs it from a zero state and keeps, in registers, every local state
   and the running product of the decays;
2. publishes the chunk's total decay and end state (flag 1);
3. looks back over the chunks before it, newest first, folding in their published totals
   until it reaches one that has published its inclusive state (flag 2), or the start;
4. publishes its own inclusive state (flag 2) and writes ``h = local + decay * carry``.

Memory traffic is one read of ``a`` and ``b`` and one write of ``h`` (the memory floor)
plus the published values, ``3 / L`` of it for chunks of ``L`` steps. The flags use
acquire-release atomics at GPU scope, and the published values are read with volatile
loads after their flag. Built for GPUs (Pallas' Triton backend); on a CPU it runs in
Pallas' interpreter, which runs the programs in order, for tests.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from ssmcast.ssm import _pallas as blocked

__all__ = ["lookback_states"]

CHUNK = 32  # time steps per tile, all kept in registers
BLOCK_W = 32  # channels per tile


def _triton():
    from jax.experimental.pallas import triton as pl_triton

    return pl_triton


def _where(condition, x, y):
    return tuple(jnp.where(condition, p, q) for p, q in zip(x, y, strict=True))


def _kernel(
    *refs, parts: int, chunk: int, block_w: int, num_blocks: int, interpret: bool, fold_all: bool
):
    a_refs, b_refs, h0_refs = refs[:parts], refs[parts : 2 * parts], refs[2 * parts : 3 * parts]
    outs = refs[3 * parts + 2 :]  # after the two aliased inputs (flags, counter)
    h_refs, decay_refs = outs[:parts], outs[parts : 2 * parts]
    end_refs, incl_refs = outs[2 * parts : 3 * parts], outs[3 * parts : 4 * parts]
    flags_ref, counter_ref = outs[4 * parts], outs[4 * parts + 1]
    plt = None if interpret else _triton()

    def atomic(op, ref, index, value):
        if interpret:  # the interpreter runs programs in order: plain reads and writes
            old = ref[index]
            ref[index] = value if op == "xchg" else old + value
            return old
        fn = plt.atomic_xchg if op == "xchg" else plt.atomic_add
        return fn(ref, index, value)

    def fresh(ref, index):  # a value another program published: past every cache
        return ref[index] if interpret else plt.load(ref.at[index], volatile=True)

    tile = atomic("add", counter_ref, (0,), jnp.int32(1))
    c = tile // num_blocks
    cols = pl.ds(pl.multiple_of((tile - c * num_blocks) * block_w, block_w), block_w)
    start = c * chunk
    dtype = a_refs[0].dtype
    zero = jnp.zeros((block_w,), dtype)
    one = (jnp.ones((block_w,), dtype),) + (zero,) * (parts - 1)

    # 1. The chunk from a zero state: every load first, then the dependent steps.
    a = [tuple(ref[start + r, cols] for ref in a_refs) for r in range(chunk)]
    b = [tuple(ref[start + r, cols] for ref in b_refs) for r in range(chunk)]
    local, decays = [], []
    state, decay = (zero,) * parts, one
    for r in range(chunk):
        state = blocked._step(a[r], state, b[r])
        decay = blocked._mul(a[r], decay)
        local.append(state)
        decays.append(decay)

    # 2. Publish the chunk's total (flag 1).
    for ref, value in zip(decay_refs + end_refs, decay + state, strict=True):
        ref[c, cols] = value
    flag = jnp.full((block_w,), 1, jnp.int32)
    atomic("xchg", flags_ref, (c, cols), flag)

    # 3. Look back: fold (decay, end) of chunks c-1, c-2, ... until an inclusive state.
    h0 = tuple(ref[0, cols] for ref in h0_refs)

    def spin(p):
        def read(_):
            return atomic("add", flags_ref, (jnp.maximum(p, 0), cols), 0 * flag)

        first = read(None)
        return jax.lax.while_loop(lambda f: (p >= 0) & (jnp.min(f) == 0), read, first)

    def look(carry):
        p, acc_decay, acc_end, _, _ = carry
        flags = spin(p)
        whole = (p < 0) | ((jnp.min(flags) == 2) & (not fold_all))
        row = (jnp.maximum(p, 0), cols)
        base = _where(p < 0, h0, tuple(fresh(ref, row) for ref in incl_refs))
        found = blocked._step(acc_decay, base, acc_end)
        total = tuple(fresh(ref, row) for ref in decay_refs)
        end = tuple(fresh(ref, row) for ref in end_refs)
        folded = blocked._step(acc_decay, end, acc_end), blocked._mul(acc_decay, total)
        return (
            p - 1,
            _where(whole, acc_decay, folded[1]),
            _where(whole, acc_end, folded[0]),
            found,
            whole,
        )

    init = (c - 1, one, (zero,) * parts, (zero,) * parts, jnp.bool_(False))
    *_, entering, _ = jax.lax.while_loop(lambda s: ~s[-1], look, init)

    # 4. Publish the inclusive state (flag 2) and write the chunk.
    inclusive = blocked._step(decay, entering, state)
    for ref, value in zip(incl_refs, inclusive, strict=True):
        ref[c, cols] = value
    atomic("xchg", flags_ref, (c, cols), 2 * flag)
    for r in range(chunk):
        for ref, value in zip(h_refs, blocked._step(decays[r], entering, local[r]), strict=True):
            ref[start + r, cols] = value


@partial(jax.jit, static_argnames=("chunk", "block_w", "num_warps", "interpret", "fold_all"))
def lookback_states(a, b, h0, *, chunk, block_w, num_warps, interpret, fold_all=False):
    """All states of ``h = a * h + b`` for tuples of ``(T, W)`` parts (``W`` whole blocks).

    ``fold_all`` (for tests): ignore published inclusive states and fold every chunk's
    total back to the start, the path a tile takes when its predecessors are still running
    (which Pallas' interpreter, running programs in order, never shows otherwise).
    """
    parts = len(b)
    num_timesteps, width = b[0].shape
    padded_t = blocked._round_up(num_timesteps, chunk)
    one = (1.0,) + (0.0,) * (parts - 1)
    a = tuple(blocked._pad_to(p, padded_t, 0, v) for p, v in zip(a, one, strict=True))
    b = tuple(blocked._pad_to(p, padded_t, 0) for p in b)
    num_chunks, num_blocks = padded_t // chunk, width // block_w
    dtype = b[0].dtype
    flags = jnp.zeros((num_chunks, width), jnp.int32)
    counter = jnp.zeros((1,), jnp.int32)
    inputs = (*a, *b, *(p[None] for p in h0), flags, counter)
    n_in = len(inputs)
    out_shape = (
        [jax.ShapeDtypeStruct((padded_t, width), dtype)] * parts
        + [jax.ShapeDtypeStruct((num_chunks, width), dtype)] * (3 * parts)
        + [flags, counter]
    )
    out = pl.pallas_call(
        partial(
            _kernel,
            parts=parts,
            chunk=chunk,
            block_w=block_w,
            num_blocks=num_blocks,
            interpret=interpret,
            fold_all=fold_all,
        ),
        grid=(num_chunks * num_blocks,),
        out_shape=[jax.ShapeDtypeStruct(s.shape, s.dtype) for s in out_shape],
        input_output_aliases={n_in - 2: 4 * parts, n_in - 1: 4 * parts + 1},
        interpret=interpret,
        compiler_params=blocked._compiler_params(num_warps, interpret),
    )(*inputs)
    return tuple(h[:num_timesteps] for h in out[:parts])
