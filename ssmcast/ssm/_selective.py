r"""The selective (Mamba) scan: a linear recurrence whose decay and input depend on the input.

For one sequence with ``D`` channels and ``N`` states per channel:

.. math::
    h_t = \exp(\Delta_t A) \odot h_{t-1} + (\Delta_t x_t) B_t^\top, \qquad
    y_t = h_t C_t + D \odot x_t

Memory of each method, for ``T`` steps (float32, ``x`` and ``y`` excluded):

* ``"sequential"``: :func:`jax.lax.scan` carrying ``h`` of shape ``(D, N)``; the
  ``(T, D, N)`` states are never stored in the forward pass. Reverse-mode autodiff stores one
  state per step (O(T·D·N)).
* ``"associative"``: materialises the decays and inputs, ``(T, D, N)`` each, and the states,
  then contracts with ``C``: about 4·T·D·N values. The fastest on GPU when that fits.
* ``"chunked"``: a sequential loop over chunks of ``chunk_size`` steps, with the associative
  method inside each chunk: O(chunk_size·D·N) temporaries. Each chunk is rematerialised in
  the backward pass (:func:`jax.checkpoint`), so gradients store only the chunk-boundary
  states, O(T/chunk_size·D·N).
* ``"pallas"``: blocked Pallas kernels that keep the ``(D, N)`` state, the decays and the
  output contraction in registers, parallel over blocks of channels and chunks of time: it
  reads ``x``, ``dt``, ``B`` and ``C`` twice (a pass that summarises each chunk, then one
  that writes ``y``) and writes ``y`` once, with no ``(T, D, N)`` temporaries. Built for
  GPUs; on a CPU it runs in Pallas' interpreter, for tests only. It is forward-only: a
  differentiated call runs, forward and backward, the method ``"auto"`` would otherwise run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ssmcast.ssm._checks import as_inexact, check_method, check_shape
from ssmcast.ssm._recurrence import _SEQUENTIAL_UNROLL, linear_recurrence

_FUNC = "selective_scan"
_CHUNK = 256
# Above this many (T * D * N) values the associative method's temporaries get large.
_ASSOCIATIVE_MAX_VALUES = 2**27


def selective_step(state, x_t, dt_t, A, B_t, C_t, D=None):
    """Advance the selective scan by one step (the recurrent mode).

    Args:
        state: The previous state ``h[t-1]``, shape ``(D, N)``.
        x_t: Input at step ``t``, shape ``(D,)``.
        dt_t: Positive step sizes at step ``t``, shape ``(D,)``.
        A: Continuous-time diagonal state matrix (negative real part), shape ``(D, N)``.
        B_t: Input projection at step ``t``, shape ``(N,)``.
        C_t: Output projection at step ``t``, shape ``(N,)``.
        D: Skip connection, shape ``(D,)``; none when None.

    Returns:
        ``(new_state, y_t)`` with shapes ``(D, N)`` and ``(D,)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> x, dt, A = jnp.ones(2), jnp.ones(2), -jnp.ones((2, 3))
        >>> h, y = selective_step(jnp.zeros((2, 3)), x, dt, A, jnp.ones(3), jnp.ones(3))
        >>> y
        Array([3., 3.], dtype=float32)
    """
    decay = jnp.exp(dt_t[:, None] * A)
    state = decay * state + (dt_t * x_t)[:, None] * B_t[None, :]
    y_t = state @ C_t
    if D is not None:
        y_t = y_t + D * x_t
    return state, y_t


def _sequential(x, dt, A, B, C, h0):
    def step(h, inputs):
        return selective_step(h, *inputs[:2], A, *inputs[2:])

    h, y = jax.lax.scan(step, h0, (x, dt, B, C), unroll=_SEQUENTIAL_UNROLL)
    return y, h


def _associative(x, dt, A, B, C, h0, inner="associative"):
    decay = jnp.exp(dt[:, :, None] * A[None])
    inputs = (dt * x)[:, :, None] * B[:, None, :]
    h = linear_recurrence(decay, inputs, h0, method=inner)
    return jnp.einsum("tdn,tn->td", h, C), h[-1]


def _chunked(x, dt, A, B, C, h0, chunk_size):
    num_timesteps = x.shape[0]
    num_chunks = -(-num_timesteps // chunk_size)
    pad = num_chunks * chunk_size - num_timesteps

    def split(v):
        # Padding with dt = 0 gives decay 1 and input 0: the state passes through unchanged.
        v = jnp.pad(v, [(0, pad)] + [(0, 0)] * (v.ndim - 1))
        return v.reshape(num_chunks, chunk_size, *v.shape[1:])

    @jax.checkpoint
    def chunk(h, inputs):
        y, h = _associative(*inputs[:2], A, *inputs[2:], h, inner="auto")
        return h, y

    h, y = jax.lax.scan(chunk, h0, tuple(map(split, (x, dt, B, C))))
    return y.reshape(-1, x.shape[1])[:num_timesteps], h


def _chunked_default(x, dt, A, B, C, h0):
    return _chunked(x, dt, A, B, C, h0, _CHUNK)


def choose_selective_method(
    num_timesteps: int, channels: int, state_dim: int, backend: str | None = None
) -> str:
    """The method that ``selective_scan(..., method="auto")`` runs.

    Measured with ``benchmarks/pallas.py`` on an H200 (8 sequences, D = 64, N = 16): the
    blocked Pallas kernel took 0.83x the time of the best XLA method at T = 1,024 and 0.06x
    to 0.27x from 4,096 up (it never writes the ``(T, D, N)`` decays or states); at T = 256
    all methods tied at the cost of a kernel launch. Under differentiation the kernel hands
    over to the method this function would choose without it (see
    :func:`~ssmcast.ssm.selective_scan`).

    Args:
        num_timesteps: Length of the sequence.
        channels: Number of channels ``D``.
        state_dim: States per channel ``N``.
        backend: ``"cpu"``, ``"gpu"`` or ``"tpu"``; the default backend when None.

    Returns:
        ``"sequential"`` on CPU; ``"pallas"`` on a GPU from T = 1,024; otherwise
        ``"associative"`` while its ``(T, D, N)`` temporaries stay under 2**27 values, else
        ``"chunked"``.

    Examples:
        >>> choose_selective_method(256, 64, 16, backend="gpu")
        'associative'
        >>> choose_selective_method(4096, 64, 16, backend="gpu")
        'pallas'
    """
    backend = backend or jax.default_backend()
    if backend == "gpu" and num_timesteps >= 1024:
        return "pallas"
    return _xla_method(num_timesteps, channels, state_dim, backend)


def _xla_method(num_timesteps: int, channels: int, state_dim: int, backend: str) -> str:
    """The fastest of the methods written in JAX itself (not the kernel)."""
    if backend == "cpu":
        return "sequential"
    if num_timesteps * channels * state_dim <= _ASSOCIATIVE_MAX_VALUES:
        return "associative"
    return "chunked"


def selective_scan(
    x, dt, A, B, C, D=None, *, method="auto", initial=None, return_state=False, chunk_size=None
):
    """Run the selective (Mamba) scan over one sequence.

    ``h[t] = exp(dt[t, :, None] * A) * h[t-1] + (dt[t] * x[t])[:, None] * B[t][None, :]`` and
    ``y[t] = h[t] @ C[t] + D * x[t]``. See the module docstring for the memory of each method.

    Args:
        x: Inputs, shape ``(T, D)``.
        dt: Positive step sizes, shape ``(T, D)``.
        A: Continuous-time diagonal state matrix, shape ``(D, N)`` (negative for stability).
        B: Input projections, shape ``(T, N)``.
        C: Output projections, shape ``(T, N)``.
        D: Skip connection, shape ``(D,)``; none when None.
        method: ``"auto"``, ``"sequential"``, ``"associative"``, ``"chunked"`` or
            ``"pallas"``.
        initial: State before the first step, shape ``(D, N)``; zero when None.
        return_state: Also return the last state ``h[T-1]``, to continue in recurrent mode.
        chunk_size: Chunk length for ``method="chunked"`` (256 when None).

    Returns:
        ``y`` of shape ``(T, D)``, or ``(y, h_last)`` when ``return_state`` is True.

    Raises:
        TypeError: If an argument is not a float array.
        ValueError: If shapes disagree, the method is unknown or ``chunk_size`` is not a
            positive int.

    Examples:
        >>> import jax.numpy as jnp
        >>> T, D, N = 5, 2, 3
        >>> x, dt, A = jnp.ones((T, D)), jnp.ones((T, D)), -jnp.ones((D, N))
        >>> y = selective_scan(x, dt, A, jnp.ones((T, N)), jnp.ones((T, N)))
        >>> y.shape
        (5, 2)
    """
    check_method(method, func=_FUNC)
    x = as_inexact("x", x, func=_FUNC)
    dt = as_inexact("dt", dt, func=_FUNC)
    A = as_inexact("A", A, func=_FUNC)
    B = as_inexact("B", B, func=_FUNC)
    C = as_inexact("C", C, func=_FUNC)
    if x.ndim != 2:
        raise ValueError(f"`x` of {_FUNC} must have shape (T, D). Got shape {x.shape}.")
    num_timesteps, channels = x.shape
    check_shape("dt", dt.shape, (num_timesteps, channels), func=_FUNC, hint="It must match `x`.")
    if A.ndim != 2 or A.shape[0] != channels:
        raise ValueError(f"`A` of {_FUNC} must have shape ({channels}, N). Got shape {A.shape}.")
    state_dim = A.shape[1]
    check_shape("B", B.shape, (num_timesteps, state_dim), func=_FUNC)
    check_shape("C", C.shape, (num_timesteps, state_dim), func=_FUNC)
    if D is not None:
        D = as_inexact("D", D, func=_FUNC)
        check_shape("D", D.shape, (channels,), func=_FUNC)
    dtype = jnp.result_type(x, dt, A, B, C)
    if initial is None:
        h0 = jnp.zeros((channels, state_dim), dtype)
    else:
        h0 = as_inexact("initial", initial, func=_FUNC)
        check_shape("initial", h0.shape, (channels, state_dim), func=_FUNC)
        h0 = h0.astype(dtype)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"`chunk_size` of {_FUNC} must be a positive int. Got {chunk_size!r}.")

    if method == "auto":
        method = choose_selective_method(num_timesteps, channels, state_dim)
    if num_timesteps == 0:
        y, h = jnp.zeros((0, channels), dtype), h0
    elif method == "sequential":
        y, h = _sequential(x, dt, A, B, C, h0)
    elif method == "associative":
        y, h = _associative(x, dt, A, B, C, h0)
    elif method == "pallas":
        from ssmcast.ssm._pallas_selective import selective_kernel_scan  # imported on use

        # The kernel is forward-only: differentiated, the method auto would otherwise run
        # does the forward and backward passes (see _pallas_selective).
        other = _xla_method(num_timesteps, channels, state_dim, jax.default_backend())
        reference = {"sequential": _sequential, "associative": _associative}.get(
            other, _chunked_default
        )
        y, h = selective_kernel_scan(x, dt, A, B, C, h0, reference=reference)
    else:
        y, h = _chunked(x, dt, A, B, C, h0, chunk_size or _CHUNK)
    if D is not None:
        y = y + D * x
    return (y, h) if return_state else y
