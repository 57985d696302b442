"""The diagonal linear recurrence ``h[t] = a[t] * h[t-1] + b[t]``, computed four ways.

Every method computes the same thing; they differ in speed and memory on each backend:

* ``"sequential"``: :func:`jax.lax.scan` over time. O(T) work and depth, O(1) extra memory.
  The simplest twin that the others are tested against; slow on GPU (one step per launch).
* ``"associative"``: :func:`jax.lax.associative_scan` with the operator
  ``(a1, b1) o (a2, b2) = (a2 * a1, a2 * b1 + b2)``. O(T) work, O(log T) depth, about 2T
  extra memory. The fastest on GPU for small problems, where kernel launches dominate.
* ``"chunked"``: split time into chunks of ``chunk_size`` steps (8 on CPU, 16 on GPU). A first
  fused pass runs all chunks at once from a zero state, keeping each chunk's total decay and
  end state; the states at chunk boundaries are a recurrence ``chunk_size`` times shorter,
  solved the same way (recursively, down to an associative scan); a second fused pass reruns
  every chunk from its true start and writes ``h``. The chunk loops are unrolled, so each pass
  is one elementwise kernel that reads ``a`` and ``b`` once: about 5 array passes in all, and
  O(T / chunk_size) extra memory besides the output.
* ``"pallas"``: blocked Pallas kernels (``ssmcast.ssm._pallas``), parallel over blocks of
  channels and chunks of time: one pass summarises each chunk, a short scan carries the
  state across chunks, and a second pass writes ``h`` (two reads of ``a`` and ``b``, one
  write of ``h``). Built for GPUs; on a CPU it runs in Pallas' interpreter, for tests only.
* ``"auto"``: chooses among the first three by backend and size (see :func:`choose_method`).

Gradients use a custom VJP: the cotangent of a linear recurrence is the same recurrence run
backwards, ``g[t] = dL/dh[t] + a[t+1] * g[t+1]``, so the backward pass costs one more scan of
the same method and stores only ``a`` and ``h``. Forward-mode differentiation
(:func:`jax.jvp`) is not supported; use reverse mode (:func:`jax.grad`, :func:`jax.vjp`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from ssmcast.ssm._checks import as_inexact, check_broadcast, check_method

_FUNC = "linear_recurrence"

# Loop unrolling for lax.scan on CPU; measured by benchmarks/scan.py (larger gave no gain).
_SEQUENTIAL_UNROLL = 8
# The chunk loop is unrolled at trace time; longer chunks only cost compile time.
_MAX_CHUNK = 64


def _combine(left, right):
    """Associative operator of the recurrence: apply ``left`` first, then ``right``."""
    a_l, b_l = left
    a_r, b_r = right
    return a_r * a_l, a_r * b_l + b_r


def _sequential(a, b, h0):
    def step(h, ab):
        h = ab[0] * h + ab[1]
        return h, h

    _, h = jax.lax.scan(step, h0, (a, b), unroll=min(_SEQUENTIAL_UNROLL, a.shape[0]))
    return h


def _associative(a, b, h0):
    b = b.at[0].add(a[0] * h0)
    _, h = jax.lax.associative_scan(_combine, (a, b), axis=0)
    return h


def _pad_to_chunks(a, b, chunk_size):
    num_timesteps = a.shape[0]
    num_chunks = -(-num_timesteps // chunk_size)
    pad = num_chunks * chunk_size - num_timesteps
    if pad:
        # a = 1, b = 0 carries the state through unchanged: the padding is invisible.
        widths = [(0, pad)] + [(0, 0)] * (a.ndim - 1)
        a = jnp.pad(a, widths, constant_values=1)
        b = jnp.pad(b, widths)
    shape = (num_chunks, chunk_size, *a.shape[1:])
    return a.reshape(shape), b.reshape(shape)


def _chunked(a, b, h0, chunk_size):
    """Two fused passes over chunks of ``chunk_size`` steps, recursing on the chunk ends.

    Pass 1 runs every chunk at once from a zero state, unrolled, keeping only each chunk's
    total decay and end state. The states at the chunk boundaries are a recurrence of length
    ``T / chunk_size`` (solved the same way, recursively). Pass 2 reruns every chunk from its
    true start state and writes ``h``. Each pass is straight-line elementwise code that XLA
    fuses into one kernel reading ``a`` and ``b`` once.
    """
    num_timesteps = a.shape[0]
    if num_timesteps <= chunk_size * chunk_size:
        return _associative(a, b, h0)
    a_c, b_c = _pad_to_chunks(a, b, chunk_size)
    decay, end = a_c[:, 0], b_c[:, 0]
    for i in range(1, chunk_size):
        decay = a_c[:, i] * decay
        end = a_c[:, i] * end + b_c[:, i]
    ends = _chunked(decay, end, h0, chunk_size)
    h = jnp.concatenate([h0[None], ends[:-1]], axis=0)
    states = []
    for i in range(chunk_size):
        h = a_c[:, i] * h + b_c[:, i]
        states.append(h)
    return jnp.stack(states, axis=1).reshape(-1, *a.shape[1:])[:num_timesteps]


def _forward(a, b, h0, method, chunk_size):
    if method == "sequential":
        return _sequential(a, b, h0)
    if method == "associative":
        return _associative(a, b, h0)
    if method == "pallas":
        from ssmcast.ssm._pallas import diagonal_scan  # imported on use: Pallas is heavy

        return diagonal_scan(a, b, h0)
    return _chunked(a, b, h0, chunk_size)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _recurrence(a, b, h0, method, chunk_size):
    return _forward(a, b, h0, method, chunk_size)


def _recurrence_fwd(a, b, h0, method, chunk_size):
    h = _forward(a, b, h0, method, chunk_size)
    return h, (a, h, h0)


def _recurrence_bwd(method, chunk_size, residuals, g):
    a, h, h0 = residuals
    g = jnp.asarray(g)
    # g_b[t] = g[t] + a[t+1] * g_b[t+1]: the same recurrence, backwards in time.
    a_next = jnp.concatenate([a[1:], jnp.zeros_like(a[:1])], axis=0)
    zero = jnp.zeros_like(h0)
    g_b = _forward(a_next[::-1], g[::-1], zero, method, chunk_size)[::-1]
    h_prev = jnp.concatenate([h0[None], h[:-1]], axis=0)
    return g_b * h_prev, g_b, a[0] * g_b[0]


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)
# Compiled as a whole, so an eager call compiles once instead of op by op; inside an outer
# jit this is inlined.
_recurrence_jit = jax.jit(_recurrence, static_argnums=(3, 4))


def default_chunk_size(num_timesteps: int, width: int, backend: str | None = None) -> int:
    """The chunk length that ``method="chunked"`` uses when ``chunk_size`` is None.

    Measured by ``benchmarks/scan.py``: 8 was the fastest on a 2-core CPU and 16 on an H200
    GPU, at every size where the chunked method is chosen.

    Args:
        num_timesteps: Length of the sequence.
        width: Number of independent channels per time step (the product of the trailing
            dimensions).
        backend: ``"cpu"``, ``"gpu"`` or ``"tpu"``; the default backend when None.

    Returns:
        The chunk length.

    Examples:
        >>> default_chunk_size(4096, 64, backend="cpu"), default_chunk_size(4096, 64, backend="gpu")
        (8, 16)
    """
    del num_timesteps, width
    return 8 if (backend or jax.default_backend()) == "cpu" else 16


def choose_method(num_timesteps: int, width: int, backend: str | None = None) -> str:
    """The method that ``method="auto"`` runs for a given size and backend.

    The rule comes from ``benchmarks/scan.py`` and ``benchmarks/pallas.py`` (float32, T from
    256 to 65,536, widths 64 to 4,096). On a 2-core CPU the chunked method was the fastest
    (it runs a few wide fused loops instead of T narrow steps) until the arrays outgrow the
    caches, from about 8 million values, where the sequential scan's fewer passes win. On an
    H200 GPU the blocked Pallas kernels took 0.53x to 0.60x the time of the best XLA method
    from about 4 million values and 0.81x to 0.96x from 1 million (or T >= 16,384); below
    that, problems are bound by kernel launches and the associative scan (fewest kernels)
    is as fast. Other accelerators keep the XLA methods: the associative scan for small
    problems, the chunked method (less memory traffic) from about 4 million values or
    T >= 16,384.

    Args:
        num_timesteps: Length of the sequence.
        width: Number of independent channels per time step.
        backend: ``"cpu"``, ``"gpu"`` or ``"tpu"``; the default backend when None.

    Returns:
        One of ``"sequential"``, ``"associative"``, ``"chunked"`` or ``"pallas"``.

    Examples:
        >>> choose_method(1024, 64, backend="gpu"), choose_method(65536, 4096, backend="gpu")
        ('associative', 'pallas')
        >>> choose_method(65536, 4096, backend="tpu")
        'chunked'
    """
    backend = backend or jax.default_backend()
    values = num_timesteps * width
    if backend == "cpu":
        # The chunked method's extra passes cost more than the loop once the arrays
        # outgrow the caches (measured: sequential 1.3x faster at 2**24 values).
        return "sequential" if values >= 2**23 else "chunked"
    if backend == "gpu" and (values >= 2**20 or num_timesteps >= 16384):
        return "pallas"
    if values >= 2**22 or num_timesteps >= 16384:
        return "chunked"
    return "associative"


def linear_recurrence(a, b, initial=None, *, method="auto", reverse=False, chunk_size=None):
    r"""Compute the diagonal linear recurrence ``h[t] = a[t] * h[t-1] + b[t]`` along axis 0.

    .. math:: h_t = a_t \odot h_{t-1} + b_t, \qquad h_{-1} = \text{initial}

    Args:
        a: Decay factors, real or complex, broadcastable to the shape of ``b`` (for example
            shape ``(state_dim,)`` for a time-invariant recurrence).
        b: Inputs, shape ``(num_timesteps, ...)``, real or complex.
        initial: The state before the first step, ``h[-1]`` (or ``h[T]`` when ``reverse``),
            broadcastable to ``b.shape[1:]``. Zero when None.
        method: ``"auto"``, ``"associative"``, ``"sequential"``, ``"chunked"`` or
            ``"pallas"`` (see the module docstring for what each costs).
        reverse: Run backwards in time: ``h[t] = a[t] * h[t+1] + b[t]``.
        chunk_size: Chunk length for ``method="chunked"``; chosen from the size when None.

    Returns:
        All states ``h``, with the shape of ``b`` and the dtype of ``a * b``.

    Raises:
        TypeError: If an argument has an integer, boolean or non-numeric dtype.
        ValueError: If shapes do not broadcast, ``method`` is unknown or ``chunk_size`` is
            not a positive int.

    Examples:
        >>> import jax.numpy as jnp
        >>> linear_recurrence(jnp.array([0.5, 0.5, 0.5]), jnp.array([1.0, 1.0, 1.0]))
        Array([1.  , 1.5 , 1.75], dtype=float32)
        >>> linear_recurrence(jnp.full(3, 0.5), jnp.ones(3), initial=4.0, reverse=True)
        Array([2.25, 2.5 , 3.  ], dtype=float32)
    """
    check_method(method, func=_FUNC)
    a = as_inexact("a", a, func=_FUNC)
    b = as_inexact("b", b, func=_FUNC)
    if b.ndim < 1:
        raise ValueError(
            f"`b` of {_FUNC} must have a leading time axis, shape (num_timesteps, ...). "
            f"Got a scalar of shape {b.shape}."
        )
    check_broadcast("a", a.shape, "b", b.shape, func=_FUNC)
    if initial is not None:
        initial = as_inexact("initial", initial, func=_FUNC)
        check_broadcast("initial", initial.shape, "b[0]", b.shape[1:], func=_FUNC)
    if chunk_size is not None and (
        not isinstance(chunk_size, int) or not 2 <= chunk_size <= _MAX_CHUNK
    ):
        raise ValueError(
            f"`chunk_size` of {_FUNC} must be an int from 2 to {_MAX_CHUNK} (the chunk loop "
            f"is unrolled). Got {chunk_size!r}."
        )

    dtype = jnp.result_type(a, b) if initial is None else jnp.result_type(a, b, initial)
    num_timesteps = b.shape[0]
    a = jnp.broadcast_to(a.astype(dtype), b.shape)
    b = b.astype(dtype)
    h0 = jnp.zeros(b.shape[1:], dtype) if initial is None else initial.astype(dtype)
    h0 = jnp.broadcast_to(h0, b.shape[1:])
    if num_timesteps == 0:
        return b

    width = max(1, b.size // num_timesteps)
    if method == "auto":
        method = choose_method(num_timesteps, width)
    if method == "chunked" and chunk_size is None:
        chunk_size = default_chunk_size(num_timesteps, width)
    if reverse:
        return _recurrence_jit(a[::-1], b[::-1], h0, method, chunk_size)[::-1]
    return _recurrence_jit(a, b, h0, method, chunk_size)


def recurrence_step(state, a_t, b_t):
    """Advance the recurrence by one step: ``a_t * state + b_t`` (the recurrent mode).

    Args:
        state: The previous state ``h[t-1]``.
        a_t: Decay factors at step ``t``, broadcastable to ``state``.
        b_t: Input at step ``t``, broadcastable to ``state``.

    Returns:
        The new state ``h[t]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> recurrence_step(jnp.array([1.0]), jnp.array([0.5]), jnp.array([1.0]))
        Array([1.5], dtype=float32)
    """
    return a_t * state + b_t
