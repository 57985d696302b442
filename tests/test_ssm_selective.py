"""selective_scan: every method against a float64 NumPy loop, the step function and gradients."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmcast.ssm import choose_selective_method, selective_scan, selective_step

METHODS = ["auto", "associative", "sequential", "chunked"]


def numpy_loop(x, dt, A, B, C, D=None, initial=None):
    x, dt, A, B, C = (np.asarray(v, np.float64) for v in (x, dt, A, B, C))
    h = np.zeros(A.shape) if initial is None else np.asarray(initial, np.float64)
    ys = []
    for t in range(x.shape[0]):
        h = np.exp(dt[t, :, None] * A) * h + (dt[t] * x[t])[:, None] * B[t][None, :]
        ys.append(h @ C[t] + (0 if D is None else D * x[t]))
    return np.array(ys).reshape(x.shape), h


def random_inputs(rng, num_timesteps, channels, state_dim):
    x = rng.normal(size=(num_timesteps, channels))
    dt = rng.uniform(0.01, 0.5, (num_timesteps, channels))
    A = -rng.uniform(0.1, 2.0, (channels, state_dim))
    B = rng.normal(size=(num_timesteps, state_dim))
    C = rng.normal(size=(num_timesteps, state_dim))
    D = rng.normal(size=channels)
    return [np.asarray(v, np.float32) for v in (x, dt, A, B, C, D)]


@settings(max_examples=20, deadline=None)
@given(
    num_timesteps=st.integers(1, 120),
    channels=st.integers(1, 4),
    state_dim=st.integers(1, 5),
    method=st.sampled_from(METHODS),
    with_skip=st.booleans(),
    with_initial=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_method_matches_numpy_loop(
    num_timesteps, channels, state_dim, method, with_skip, with_initial, seed
):
    rng = np.random.default_rng(seed)
    x, dt, A, B, C, D = random_inputs(rng, num_timesteps, channels, state_dim)
    D = D if with_skip else None
    initial = rng.normal(size=(channels, state_dim)).astype(np.float32) if with_initial else None
    y, h = selective_scan(
        x, dt, A, B, C, D, method=method, initial=initial, return_state=True, chunk_size=16
    )
    y_ref, h_ref = numpy_loop(x, dt, A, B, C, D, initial)
    scale = np.abs(y_ref).max() + 1
    np.testing.assert_allclose(np.asarray(y), y_ref, atol=1e-4 * scale, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(h), h_ref, atol=1e-4 * scale, rtol=1e-4)


def test_steps_reproduce_the_parallel_pass():
    rng = np.random.default_rng(0)
    x, dt, A, B, C, D = random_inputs(rng, 30, 3, 4)
    y_par, h_par = selective_scan(x, dt, A, B, C, D, method="associative", return_state=True)
    h = jnp.zeros((3, 4))
    ys = []
    for t in range(30):
        h, y_t = selective_step(h, x[t], dt[t], A, B[t], C[t], D)
        ys.append(y_t)
    np.testing.assert_allclose(np.stack(ys), np.asarray(y_par), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(h), np.asarray(h_par), atol=1e-5, rtol=1e-5)


def test_continuing_from_the_returned_state_equals_one_pass():
    rng = np.random.default_rng(1)
    x, dt, A, B, C, D = random_inputs(rng, 50, 2, 3)
    y_all = selective_scan(x, dt, A, B, C, D)
    y1, h1 = selective_scan(x[:20], dt[:20], A, B[:20], C[:20], D, return_state=True)
    y2 = selective_scan(x[20:], dt[20:], A, B[20:], C[20:], D, initial=h1)
    np.testing.assert_allclose(np.concatenate([y1, y2]), np.asarray(y_all), atol=1e-5)


def test_gradients_agree_across_methods():
    rng = np.random.default_rng(2)
    inputs = random_inputs(rng, 70, 3, 4)

    def grads(method):
        def loss(*args):
            return jnp.sum(selective_scan(*args, method=method, chunk_size=16) ** 2)

        return jax.jit(jax.grad(loss, argnums=tuple(range(6))))(*inputs)

    reference = grads("sequential")
    for method in ("associative", "chunked"):
        for g, g_ref in zip(grads(method), reference, strict=True):
            assert np.isfinite(np.asarray(g)).all()
            scale = float(jnp.abs(g_ref).max())
            np.testing.assert_allclose(
                np.asarray(g), np.asarray(g_ref), atol=1e-4 * scale, rtol=1e-3
            )


def test_runs_under_jit_and_vmap():
    rng = np.random.default_rng(3)
    batch = [random_inputs(rng, 25, 2, 3) for _ in range(4)]
    stacked = [np.stack(parts) for parts in zip(*batch, strict=True)]
    fn = jax.jit(jax.vmap(partial(selective_scan, method="chunked", chunk_size=8)))
    out = fn(*stacked)
    for i, inputs in enumerate(batch):
        np.testing.assert_allclose(np.asarray(out[i]), numpy_loop(*inputs)[0], atol=1e-4)


def test_choose_selective_method():
    assert choose_selective_method(1024, 64, 16, backend="cpu") == "sequential"
    assert choose_selective_method(512, 64, 16, backend="gpu") == "associative"
    assert choose_selective_method(1024, 64, 16, backend="gpu") == "pallas"
    assert choose_selective_method(1024, 64, 16, backend="tpu") == "associative"
    assert choose_selective_method(2**20, 256, 16, backend="tpu") == "chunked"


def test_bad_input_gets_a_clear_error():
    x, dt, A, B, C, D = random_inputs(np.random.default_rng(4), 10, 2, 3)
    with pytest.raises(ValueError, match=r"`dt`.*\(10, 2\).*\(9, 2\)"):
        selective_scan(x, dt[:9], A, B, C)
    with pytest.raises(ValueError, match=r"`A`.*\(2, N\)"):
        selective_scan(x, dt, A.T, B, C)
    with pytest.raises(ValueError, match=r"`C`.*\(10, 3\)"):
        selective_scan(x, dt, A, B, C[:, :2])
    with pytest.raises(ValueError, match="`D`"):
        selective_scan(x, dt, A, B, C, D[:1])
    with pytest.raises(ValueError, match=r"`x`.*\(T, D\)"):
        selective_scan(x[:, 0], dt, A, B, C)
    with pytest.raises(TypeError, match=r"`x`.*int"):
        selective_scan(x.astype(np.int32), dt, A, B, C)
    with pytest.raises(ValueError, match="'parallel'"):
        selective_scan(x, dt, A, B, C, method="parallel")
    with pytest.raises(ValueError, match="initial"):
        selective_scan(x, dt, A, B, C, initial=np.zeros((3, 2), np.float32))
