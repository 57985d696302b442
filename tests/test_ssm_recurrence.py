"""linear_recurrence: every method against a float64 NumPy loop, each other, and gradients."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from ssmcast.ssm import choose_method, linear_recurrence, recurrence_step

METHODS = ["auto", "associative", "sequential", "chunked"]


def numpy_loop(a, b, initial=None, reverse=False):
    """The reference: a plain float64/complex128 loop."""
    a = np.broadcast_to(np.asarray(a), np.shape(b)).astype(np.complex128)
    b = np.asarray(b, np.complex128)
    h = np.zeros(b.shape[1:], np.complex128) if initial is None else np.asarray(initial)
    out = np.empty_like(b)
    steps = range(b.shape[0] - 1, -1, -1) if reverse else range(b.shape[0])
    for t in steps:
        h = a[t] * h + b[t]
        out[t] = h
    return out


def random_inputs(rng, shape, complex_):
    """Decays inside the unit disc (a stable system), inputs of unit scale."""
    radius = rng.uniform(0.3, 1.0, shape)
    if complex_:
        a = radius * np.exp(1j * rng.uniform(-np.pi, np.pi, shape))
        b = rng.normal(size=shape) + 1j * rng.normal(size=shape)
        return a.astype(np.complex64), b.astype(np.complex64)
    a = radius * rng.choice([-1.0, 1.0], shape)
    return a.astype(np.float32), rng.normal(size=shape).astype(np.float32)


def assert_close(actual, expected, scale=1.0):
    np.testing.assert_allclose(np.asarray(actual), expected, atol=2e-4 * scale, rtol=2e-4)


@settings(max_examples=25, deadline=None)
@given(
    num_timesteps=st.integers(1, 300),
    trailing=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    complex_=st.booleans(),
    reverse=st.booleans(),
    with_initial=st.booleans(),
    method=st.sampled_from(METHODS),
    chunk_size=st.sampled_from([None, 2, 3, 8]),
    seed=st.integers(0, 2**16),
)
def test_every_method_matches_numpy_loop(
    num_timesteps, trailing, complex_, reverse, with_initial, method, chunk_size, seed
):
    rng = np.random.default_rng(seed)
    shape = (num_timesteps, *trailing)
    a, b = random_inputs(rng, shape, complex_)
    initial = random_inputs(rng, shape[1:], complex_)[1] if with_initial else None
    h = linear_recurrence(
        a,
        b,
        initial,
        method=method,
        reverse=reverse,
        chunk_size=chunk_size if method == "chunked" else None,
    )
    assert h.shape == shape
    assert h.dtype == (jnp.complex64 if complex_ else jnp.float32)
    expected = numpy_loop(a, b, initial, reverse)
    assert_close(h, expected if complex_ else expected.real, scale=np.abs(expected).max() + 1)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("num_timesteps", [1, 7, 64, 65, 1000, 4099])
def test_methods_agree_on_long_sequences(method, num_timesteps):
    # Long enough for the chunked method to recurse (T > 64 with chunks of 8).
    rng = np.random.default_rng(num_timesteps)
    a, b = random_inputs(rng, (num_timesteps, 3), complex_=True)
    a = a / np.abs(a) * rng.uniform(0.9, 0.999, a.shape)  # long memory
    expected = numpy_loop(a, b, initial=np.ones(3))
    h = jax.jit(partial(linear_recurrence, method=method))(a, b, np.ones(3, np.complex64))
    assert_close(h, expected, scale=np.abs(expected).max())


@pytest.mark.parametrize("method", METHODS)
def test_decay_broadcasts_over_time_and_channels(method):
    rng = np.random.default_rng(0)
    b = rng.normal(size=(50, 2, 3)).astype(np.float32)
    for a in (np.float32(0.9), np.full(3, 0.8, np.float32), np.full((50, 1, 1), 0.7, np.float32)):
        assert_close(linear_recurrence(a, b, method=method), numpy_loop(a, b).real, scale=10)


def test_mixed_real_and_complex_promotes_to_complex():
    h = linear_recurrence(np.full(4, 0.5j, np.complex64), np.ones(4, np.float32))
    assert h.dtype == jnp.complex64
    assert_close(h, numpy_loop(np.full(4, 0.5j), np.ones(4)))


def test_empty_sequence_returns_empty():
    assert linear_recurrence(np.ones((0, 3), np.float32), np.ones((0, 3), np.float32)).shape == (
        0,
        3,
    )


def test_recurrent_steps_reproduce_the_parallel_pass():
    rng = np.random.default_rng(1)
    a, b = random_inputs(rng, (40, 5), complex_=True)
    h = jnp.zeros(5, jnp.complex64)
    states = []
    for t in range(40):
        h = recurrence_step(h, a[t], b[t])
        states.append(h)
    assert_close(jnp.stack(states), np.asarray(linear_recurrence(a, b)), scale=10)


def _plain_scan(a, b, h0):
    """Autodiff through a plain lax.scan: the gradient reference for the custom VJP."""

    def step(h, ab):
        h = ab[0] * h + ab[1]
        return h, h

    return jax.lax.scan(step, h0, (a, b))[1]


@pytest.mark.parametrize("method", ["associative", "sequential", "chunked"])
@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_gradients_match_autodiff_of_a_plain_scan(method, complex_, reverse):
    rng = np.random.default_rng(2)
    a, b = random_inputs(rng, (150, 3), complex_)
    h0 = random_inputs(rng, (3,), complex_)[1]
    weights = random_inputs(rng, (150, 3), complex_)[1]

    def loss(fn):
        def f(a, b, h0):
            h = fn(a, b, h0)
            return jnp.sum(jnp.abs(h * weights) ** 2)

        return jax.jit(jax.grad(f, argnums=(0, 1, 2)))

    def ours(a, b, h0):
        return linear_recurrence(a, b, h0, method=method, reverse=reverse)

    def reference(a, b, h0):
        if reverse:
            return _plain_scan(a[::-1], b[::-1], h0)[::-1]
        return _plain_scan(a, b, h0)

    for g, g_ref in zip(loss(ours)(a, b, h0), loss(reference)(a, b, h0), strict=True):
        scale = float(jnp.abs(g_ref).max())
        np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), atol=1e-4 * scale, rtol=1e-3)


@pytest.mark.parametrize("method", ["associative", "sequential", "chunked"])
def test_gradients_match_finite_differences(method):
    rng = np.random.default_rng(3)
    a, b = random_inputs(rng, (70, 2), complex_=False)
    a, b = a.astype(np.float32), b.astype(np.float32)

    def f(a, b, h0):
        return linear_recurrence(a, b, h0, method=method)

    check_grads(f, (a, b, np.ones(2, np.float32)), order=1, modes=["rev"], atol=5e-2, rtol=5e-2)


def test_choose_method_by_backend():
    assert choose_method(1024, 64, backend="gpu") == "associative"
    assert choose_method(65536, 64, backend="gpu") == "pallas"
    assert choose_method(1024, 1024, backend="gpu") == "pallas"
    assert choose_method(65536, 64, backend="tpu") == "chunked"
    assert choose_method(4096, 4096, backend="tpu") == "chunked"
    assert choose_method(4096, 64, backend="cpu") == "chunked"
    assert choose_method(16384, 1024, backend="cpu") == "sequential"
    for num_timesteps in (16, 4096, 65536):
        for width in (1, 64, 4096):
            assert choose_method(num_timesteps, width, backend="cpu") in METHODS[1:]


F32 = np.ones(3, np.float32)
M32 = np.ones((3, 2), np.float32)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(a=np.ones(3, np.int32), b=F32), TypeError, "`a`.*int32"),
        (dict(a=F32, b=np.ones(3, bool)), TypeError, "`b`.*bool"),
        (dict(a=M32, b=np.ones((3, 4), np.float32)), ValueError, r"`a`.*\(3, 4\).*\(3, 2\)"),
        (dict(a=F32, b=np.float32(1.0)), ValueError, "time axis"),
        (dict(a=F32, b=F32, method="fast"), ValueError, "'fast'"),
        (dict(a=F32, b=F32, method="chunked", chunk_size=1), ValueError, "chunk_size"),
        (dict(a=M32, b=M32, initial=F32), ValueError, "initial"),
        (dict(a="x", b=F32), TypeError, "`a`"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        linear_recurrence(**kwargs)
