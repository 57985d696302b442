"""The fused Pallas kernels against float64 NumPy loops (Pallas' interpreter on the CPU).

``method="pallas"`` is built for accelerators; on the CPU it runs the same kernel code in
Pallas' interpreter, so these tests check the kernels' maths (blocks, padding, complex parts,
initial states, gradients), not their speed. ``method="auto"`` picks them on a GPU only, where
they were measured faster (the rules are tested below).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssmcast.ssm import (
    _pallas,
    _pallas_selective,
    choose_method,
    choose_selective_method,
    linear_recurrence,
    selective_scan,
)

T = 23  # not a whole number of time blocks: the padding is exercised


@pytest.fixture(autouse=True)
def _short_blocks(monkeypatch):
    # Short chunks and narrow blocks: T = 23 becomes 6 chunks of 4 steps (the carry recurses
    # twice: 6 chunks, then 2), channels span several blocks, and the interpreter, which
    # unrolls a loop iteration's steps at trace time, compiles fast.
    monkeypatch.setattr(_pallas, "UNROLL", 2)
    monkeypatch.setattr(_pallas, "MIN_CHUNK", 4)
    monkeypatch.setattr(_pallas, "BLOCK_W", 8)
    monkeypatch.setattr(_pallas_selective, "BLOCK_D", 8)
    monkeypatch.setattr(_pallas_selective, "UNROLL", 2)


def _reference_recurrence(a, b, h0, reverse=False):
    a, b = np.broadcast_to(a, b.shape), np.asarray(b)
    order = range(len(b) - 1, -1, -1) if reverse else range(len(b))
    h, out = np.asarray(h0, b.dtype).copy(), np.zeros_like(b)
    for t in order:
        h = a[t] * h + b[t]
        out[t] = h
    return out


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_diagonal_kernel_matches_the_float64_loop(complex_, reverse):
    rng = np.random.default_rng(0)
    shape = (T, 3, 5)  # trailing dimensions are flattened into channels
    a = rng.uniform(0.5, 1.0, shape)
    b = rng.normal(size=shape)
    h0 = rng.normal(size=shape[1:])
    if complex_:
        a = a * np.exp(1j * rng.uniform(-1, 1, shape))
        b = b + 1j * rng.normal(size=shape)
        h0 = h0 - 0.5j
    dtype = jnp.complex64 if complex_ else jnp.float32
    h = linear_recurrence(
        jnp.asarray(a, dtype),
        jnp.asarray(b, dtype),
        jnp.asarray(h0, dtype),
        method="pallas",
        reverse=reverse,
    )
    assert h.shape == shape and h.dtype == dtype
    expected = _reference_recurrence(a, b, h0, reverse)
    np.testing.assert_allclose(np.asarray(h), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("chunk", "unroll"), [(2, 1), (4, 4), (6, 2), (8, 2), (32, 4)]
)  # 12 chunks, a chunk of one iteration, not a power of two, 3 chunks, one chunk
def test_diagonal_kernel_is_exact_for_any_chunking(chunk, unroll):
    rng = np.random.default_rng(4)
    a = rng.uniform(0.5, 1.0, (T, 20))
    b = rng.normal(size=(T, 20))
    h0 = rng.normal(size=20)
    h = _pallas.diagonal_scan(
        *(jnp.asarray(v, jnp.float32) for v in (a, b, h0)), chunk=chunk, unroll=unroll
    )
    np.testing.assert_allclose(np.asarray(h), _reference_recurrence(a, b, h0), rtol=1e-5, atol=1e-5)


def test_chunks_shrink_until_there_are_enough_programs():
    for num_timesteps, blocks in [(65536, 32), (65536, 1), (4096, 32), (20, 1)]:
        chunk = _pallas.chunk_length(num_timesteps, blocks, unroll=8, min_chunk=16)
        assert chunk % 8 == 0 and 16 <= chunk <= _pallas.MAX_CHUNK
        assert chunk & (chunk - 1) == 0  # a power of two
        programs = blocks * -(-num_timesteps // chunk)
        assert programs <= _pallas.TARGET_PROGRAMS or chunk == 16
        # One halving more would pass the target (unless already at the floor).
        assert chunk == 16 or blocks * -(-num_timesteps // (chunk // 2)) > _pallas.TARGET_PROGRAMS


def test_diagonal_kernel_gradient_equals_the_sequential_one():
    rng = np.random.default_rng(1)
    a = jnp.asarray(rng.uniform(0.5, 1.0, (T, 6)), jnp.float32)
    b = jnp.asarray(rng.normal(size=(T, 6)), jnp.float32)
    weights = jnp.asarray(rng.normal(size=(T, 6)), jnp.float32)

    def loss(a, b, method):
        return jnp.sum(weights * linear_recurrence(a, b, method=method))

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)
    got, want = grad(a, b, "pallas"), grad(a, b, "sequential")
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)


def _reference_selective(x, dt, A, B, C, D, h0):
    h, ys = np.asarray(h0, np.float64).copy(), []
    for t in range(len(x)):
        h = np.exp(dt[t][:, None] * A) * h + (dt[t] * x[t])[:, None] * B[t][None, :]
        ys.append(h @ C[t] + D * x[t])
    return np.stack(ys), h


def _selective_inputs(seed: int, channels: int = 10, state_dim: int = 4):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(T, channels)),
        rng.uniform(0.01, 0.5, (T, channels)),
        -rng.uniform(0.5, 2.0, (channels, state_dim)),
        rng.normal(size=(T, state_dim)),
        rng.normal(size=(T, state_dim)),
        rng.normal(size=channels),
        rng.normal(size=(channels, state_dim)),
    )


def test_selective_kernel_matches_the_float64_loop():
    x, dt, A, B, C, D, h0 = _selective_inputs(2)
    f32 = [jnp.asarray(v, jnp.float32) for v in (x, dt, A, B, C, D, h0)]
    y, h = selective_scan(*f32[:6], method="pallas", initial=f32[6], return_state=True)
    want_y, want_h = _reference_selective(x, dt, A, B, C, D, h0)
    np.testing.assert_allclose(np.asarray(y), want_y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h), want_h, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("chunk", "state_dim"), [(2, 4), (8, 3), (32, 5)])
def test_selective_kernel_is_exact_for_any_chunking_batched(chunk, state_dim):
    # A batch by vmap (a grid axis of its own); states not a power of two (padded).
    inputs = [_selective_inputs(seed, 12, state_dim) for seed in (5, 6)]
    x, dt, _, B, C, _, h0 = (np.stack(v) for v in zip(*inputs, strict=True))
    A = inputs[0][2]

    def run(x, dt, B, C, h0):
        return _pallas_selective.selective_kernel_scan(
            x, dt, jnp.asarray(A, jnp.float32), B, C, h0, reference=None, chunk=chunk
        )

    f32 = [jnp.asarray(v, jnp.float32) for v in (x, dt, B, C, h0)]
    y, h = jax.vmap(run)(*f32)
    for i in range(2):
        want_y, want_h = _reference_selective(x[i], dt[i], A, B[i], C[i], 0.0, h0[i])
        np.testing.assert_allclose(np.asarray(y[i]), want_y, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(h[i]), want_h, rtol=1e-4, atol=1e-5)


def test_selective_kernel_gradient_equals_the_sequential_one():
    x, dt, A, B, C, D, _ = (jnp.asarray(v, jnp.float32) for v in _selective_inputs(3, 6, 3))

    weights = jnp.cos(jnp.arange(x.size, dtype=jnp.float32)).reshape(x.shape)

    def loss(x, dt, B, method):
        return jnp.sum(weights * selective_scan(x, dt, A, B, C, D, method=method))

    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)), static_argnums=3)
    got, want = grad(x, dt, B, "pallas"), grad(x, dt, B, "sequential")
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)


def test_auto_picks_the_kernels_only_on_a_gpu_where_they_were_measured_faster():
    for num_timesteps in (256, 4096, 65536):
        for backend in ("cpu", "tpu"):  # Triton kernels: interpreted off a GPU
            assert choose_method(num_timesteps, 4096, backend=backend) != "pallas"
            assert choose_selective_method(num_timesteps, 64, 16, backend=backend) != "pallas"
    assert choose_method(256, 64, backend="gpu") == "associative"  # launch-bound: a tie
    assert choose_method(65536, 4096, backend="gpu") == "pallas"
    assert choose_selective_method(256, 64, 16, backend="gpu") == "associative"
    assert choose_selective_method(4096, 64, 16, backend="gpu") == "pallas"
