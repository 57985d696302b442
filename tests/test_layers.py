"""Sequence layers: parallel == recurrent, time gaps, missing steps, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from ssmcast.layers import (
    CausalAttention,
    GatedMLP,
    LinearSSM,
    ResidualBlock,
    SelectiveSSM,
    SSMParam,
)

DIM = 4
T = 13


def _layers():
    return {
        "lru": lambda r: LinearSSM(DIM, 3, rngs=r),
        "lru_zoh_realpart": lambda r: LinearSSM(
            DIM, 3, normalization="zoh", conj_sym=False, rngs=r
        ),
        "hippo": lambda r: LinearSSM(DIM, 3, init="hippo", rngs=r),
        "s4d_lin": lambda r: LinearSSM(DIM, 3, init="s4d_lin", normalization="zoh", rngs=r),
        "s4d_inv": lambda r: LinearSSM(DIM, 3, init="s4d_inv", rngs=r),
        "selective": lambda r: SelectiveSSM(DIM, 3, rngs=r),
        "selective_associative": lambda r: SelectiveSSM(DIM, 3, method="associative", rngs=r),
        "attention_w1": lambda r: CausalAttention(DIM, num_heads=2, window=1, rngs=r),
        "attention_w4": lambda r: CausalAttention(DIM, num_heads=2, window=4, rngs=r),
        "attention_long_window": lambda r: CausalAttention(DIM, num_heads=1, window=32, rngs=r),
        "block": lambda r: ResidualBlock(DIM, LinearSSM(DIM, 3, rngs=r), rngs=r),
        "block_no_mlp": lambda r: ResidualBlock(
            DIM, SelectiveSSM(DIM, 2, rngs=r), mlp_ratio=0, rngs=r
        ),
    }


LAYERS = _layers()


def _inputs(seed=0, num_timesteps=T):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(k1, (num_timesteps, DIM))
    dt = jax.random.uniform(k2, (num_timesteps,), minval=0.3, maxval=3.0)
    mask = jax.random.bernoulli(k3, 0.7, (num_timesteps,)).at[0].set(False)
    return x, dt, mask


def run_steps(layer, x, dt, mask, state=None):
    state = layer.init_state() if state is None else state
    return jax.lax.scan(lambda s, inp: layer.step(s, *inp), state, (x, dt, mask))


def _close(a, b, atol=2e-5):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_step_reproduces_parallel_call(name):
    layer = LAYERS[name](nnx.Rngs(0))
    x, dt, mask = _inputs()
    y, last = jax.jit(lambda x, dt, m: layer(x, dt, m, return_state=True))(x, dt, mask)
    state, ys = jax.jit(lambda x, dt, m: run_steps(layer, x, dt, m))(x, dt, mask)
    assert y.shape == (T, DIM)
    _close(ys, y)
    jax.tree.map(_close, state, last)
    assert np.all(np.isfinite(np.asarray(y)))


@pytest.mark.parametrize("name", ["lru", "selective", "attention_w4", "block"])
def test_parallel_state_continues_in_recurrent_mode(name):
    layer = LAYERS[name](nnx.Rngs(1))
    x, dt, mask = _inputs(1)
    y_all = jax.jit(layer)(x, dt, mask)
    _, state = jax.jit(lambda *a: layer(*a, return_state=True))(x[:7], dt[:7], mask[:7])
    _, ys = jax.jit(lambda *a: run_steps(layer, *a))(x[7:], dt[7:], mask[7:], state)
    _close(ys, y_all[7:])


@pytest.mark.parametrize("name", ["lru", "hippo", "s4d_lin", "lru_zoh_realpart"])
def test_gap_of_two_equals_a_missing_step(name):
    layer = LAYERS[name](nnx.Rngs(2))
    x, _, _ = _inputs(2, 4)
    # Regular grid with the value at t=2 missing ...
    call = jax.jit(lambda x, dt, m: layer(x, dt, m, return_state=True)[1])
    h_missing = call(x, jnp.ones(4), jnp.array([True, True, False, True]))
    # ... against timestamps that skip t=2 (gap dt=2 before the last observation).
    keep = jnp.array([0, 1, 3])
    gaps = jnp.array([1.0, 1.0, 2.0])
    h_gap = call(x[keep], gaps, jnp.ones(3, bool))
    np.testing.assert_allclose(h_gap, h_missing, rtol=1e-5, atol=1e-6)
    h_steps, _ = jax.jit(lambda *a: run_steps(layer, *a))(x[keep], gaps, jnp.ones(3, bool))
    np.testing.assert_allclose(h_steps, h_missing, rtol=1e-5, atol=1e-6)


def test_missing_step_only_decays_linear_state():
    layer = LinearSSM(DIM, 3, rngs=nnx.Rngs(3))
    state, _ = layer.step(layer.init_state(), jnp.ones(DIM))
    nan_input = jnp.full(DIM, jnp.nan)
    new_state, y = layer.step(state, nan_input, 1.0, False)
    decay, _ = layer._coefficients(jnp.ones(()))
    np.testing.assert_allclose(new_state, decay * state, rtol=1e-6)
    assert np.all(np.isfinite(np.asarray(y)))


def test_missing_step_holds_selective_state():
    layer = SelectiveSSM(DIM, 3, rngs=nnx.Rngs(3))
    state, _ = layer.step(layer.init_state(), jnp.ones(DIM))
    new_state, y = layer.step(state, jnp.full(DIM, jnp.nan), 1.0, False)
    np.testing.assert_array_equal(new_state[1], state[1])
    assert np.all(np.isfinite(np.asarray(y)))


def test_nan_inputs_at_missing_steps_do_not_leak():
    x, dt, mask = _inputs(4)
    x = jnp.where(mask[:, None], x, jnp.nan)
    for name, make in LAYERS.items():
        if name.startswith(("attention", "block")):
            continue  # queries and the residual read every step; the network zeroes them first
        y = jax.jit(make(nnx.Rngs(0)))(x, dt, mask)
        assert np.all(np.isfinite(np.asarray(y))), name


def test_attention_cache_is_bounded_and_skips_missing_keys():
    layer = CausalAttention(DIM, num_heads=2, window=3, rngs=nnx.Rngs(0))
    x, dt, mask = _inputs(5, 40)
    state, _ = jax.jit(lambda *a: run_steps(layer, *a))(x, dt, mask)
    assert state[0].shape == (3, 2, 2)
    # With every key missing the output is zero, not NaN.
    y = jax.jit(layer)(x[:5], None, jnp.zeros(5, bool))
    np.testing.assert_array_equal(y, 0.0)


@pytest.mark.parametrize("name", ["lru", "hippo", "selective", "attention_w4", "block"])
def test_gradients_are_finite(name):
    layer = LAYERS[name](nnx.Rngs(0))
    x, dt, mask = _inputs(6)

    def loss(layer):
        return jnp.sum(layer(x, dt, mask) ** 2)

    grads = nnx.jit(nnx.grad(loss))(layer)
    leaves = jax.tree.leaves(grads)
    assert leaves
    assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)
    assert any(np.any(np.asarray(g) != 0) for g in leaves)


def test_vmap_batches_sequences():
    layer = LinearSSM(DIM, 3, rngs=nnx.Rngs(0))
    xs = jnp.stack([_inputs(s)[0] for s in range(3)])
    ys = jax.vmap(layer)(xs)
    _close(ys[1], layer(xs[1]))


def test_ssm_parameters_are_marked():
    layer = LinearSSM(DIM, 3, rngs=nnx.Rngs(0))
    names = {str(path[-1]) for path, _ in nnx.to_flat_state(nnx.state(layer, SSMParam))}
    assert {"lambda_log_neg_re", "lambda_im", "log_step", "b_re", "gamma_log"} <= names
    assert "c_re" not in names
    selective = {
        str(p[-1])
        for p, _ in nnx.to_flat_state(nnx.state(SelectiveSSM(DIM, rngs=nnx.Rngs(0)), SSMParam))
    }
    assert selective == {"a_log", "d", "dt_bias"}


def test_lru_init_puts_unit_step_eigenvalues_on_the_ring():
    layer = LinearSSM(DIM, 64, r_min=0.5, r_max=0.9, rngs=nnx.Rngs(0))
    decay, _ = layer._coefficients(jnp.ones(()))
    r = np.abs(np.asarray(decay))
    assert r.min() >= 0.5 - 1e-5 and r.max() <= 0.9 + 1e-5


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="init"):
        LinearSSM(DIM, 3, init="random", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="normalization"):
        LinearSSM(DIM, 3, normalization="batch", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="num_heads"):
        CausalAttention(DIM, num_heads=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="window"):
        CausalAttention(DIM, num_heads=2, window=0, rngs=nnx.Rngs(0))


def test_gated_mlp_is_pointwise():
    mlp = GatedMLP(DIM, 8, rngs=nnx.Rngs(0))
    x = _inputs()[0]
    _close(mlp(x)[3], mlp(x[3]))


@pytest.mark.parametrize("name", ["lru", "lru_zoh_realpart", "hippo", "s4d_lin"])
def test_linear_ssm_matches_a_float64_complex_loop(name):
    # the layer works in real arithmetic ([B_re; B_im] u and [Re h, Im h] [C_re, -C_im]);
    # the reference is the textbook complex recurrence, in float64
    layer = LAYERS[name](nnx.Rngs(3))
    x, dt, mask = _inputs(3)
    decay, gain = (np.asarray(a, np.complex128) for a in layer._coefficients(dt))
    b = np.asarray(layer.b_re[...], np.float64) + 1j * np.asarray(layer.b_im[...], np.float64)
    c = np.asarray(layer.c_re[...], np.float64) + 1j * np.asarray(layer.c_im[...], np.float64)
    d = np.asarray(layer.d[...], np.float64)
    u = np.where(np.asarray(mask)[:, None], np.asarray(x, np.float64), 0.0)
    h = np.zeros(layer.state_dim, np.complex128)
    expected = []
    for t in range(T):
        h = decay[t] * h + (gain[t] * (b @ u[t]) if mask[t] else 0.0)
        y = (c @ h).real * (2.0 if layer.conj_sym else 1.0)
        expected.append(y + d * u[t])
    _close(jax.jit(layer)(x, dt, mask), np.stack(expected), atol=1e-5)


@pytest.mark.parametrize("name", ["lru", "lru_zoh_realpart", "s4d_inv", "selective", "block"])
def test_no_dt_is_a_regular_grid_in_value_and_gradient(name):
    # dt=None discretises once for every step; it must be dt=ones, gradients included
    layer = LAYERS[name](nnx.Rngs(4))
    x, _, mask = _inputs(4)
    graphdef, params = nnx.split(layer, nnx.Param)

    def loss(params, dt):
        y = nnx.merge(graphdef, params)(x, dt, mask)
        return jnp.sum(jnp.sin(y))

    value, grads = jax.jit(jax.value_and_grad(loss), static_argnums=1)(params, None)
    ones, ones_grads = jax.jit(jax.value_and_grad(loss))(params, jnp.ones(T))
    _close(value, ones)
    jax.tree.map(_close, grads, ones_grads)
