"""Forecasting networks: parallel == recurrent, persistence start, heads, losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from flax import nnx

from ssmcast.models import (
    MODEL_NAMES,
    Forecast,
    build_model,
    crps_normal,
    elementwise_loss,
    forecast_quantiles,
    make_targets,
    masked_mean,
    nll_normal,
    set_scan_method,
)

T, INPUT_DIM, OUTPUT_DIM, HORIZON = 14, 4, 2, 3
SMALL = dict(d_model=8, num_layers=2, state_dim=4, num_heads=2, window=4)


@jax.jit
def _noisy(state, key):
    leaves, treedef = jax.tree.flatten(state)
    keys = jax.random.split(key, len(leaves))
    noisy = [a + 0.3 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(treedef, noisy)


def _perturb(model, seed=0):
    """Give the zero-initialised heads (and everything else) random weights."""
    nnx.update(model, _noisy(nnx.state(model, nnx.Param), jax.random.key(seed)))
    return model


@pytest.fixture(scope="module", params=MODEL_NAMES)
def network(request):
    model = build_model(
        request.param,
        input_dim=INPUT_DIM,
        output_dim=OUTPUT_DIM,
        horizon=HORIZON,
        rngs=nnx.Rngs(0),
        **SMALL,
    )
    return _perturb(model)


def _inputs(seed=0, num_timesteps=T):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(k1, (num_timesteps, INPUT_DIM))
    dt = jax.random.uniform(k2, (num_timesteps,), minval=0.5, maxval=2.0)
    mask = jax.random.bernoulli(k3, 0.7, (num_timesteps, OUTPUT_DIM))
    mask = mask.at[3].set(False)  # one step with every target missing
    x = x.at[:, :OUTPUT_DIM].set(jnp.where(mask, x[:, :OUTPUT_DIM], jnp.nan))
    return x, dt, mask


def _steps(model, x, dt, mask, state=None):
    state = model.init_state() if state is None else state
    return jax.lax.scan(lambda s, inp: model.step(s, *inp), state, (x, dt, mask))


def test_step_reproduces_parallel_call(network):
    x, dt, mask = _inputs()
    f, last = jax.jit(lambda *a: network(*a, return_state=True))(x, dt, mask)
    state, fs = jax.jit(lambda *a: _steps(network, *a))(x, dt, mask)
    assert f.loc.shape == f.scale.shape == (T, HORIZON, OUTPUT_DIM)
    assert np.all(np.isfinite(np.asarray(f.loc))) and np.all(np.asarray(f.scale) > 0)
    np.testing.assert_allclose(fs.loc, f.loc, rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(fs.scale, f.scale, rtol=1e-5, atol=2e-5)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(last), strict=True):
        np.testing.assert_allclose(np.asarray(a, complex), np.asarray(b, complex), atol=2e-5)


def test_parallel_state_continues_in_recurrent_mode(network):
    x, dt, mask = _inputs(1)
    f_all = jax.jit(network)(x, dt, mask)
    _, state = jax.jit(lambda *a: network(*a, return_state=True))(x[:9], dt[:9], mask[:9])
    _, fs = jax.jit(lambda *a: _steps(network, *a))(x[9:], dt[9:], mask[9:], state)
    np.testing.assert_allclose(fs.loc, f_all.loc[9:], rtol=1e-5, atol=2e-5)


def test_forecasts_are_causal(network):
    x, dt, mask = _inputs(2)
    f = jax.jit(network)(x, dt, mask)
    x2 = x.at[8:].set(5.0)
    f2 = jax.jit(network)(x2, dt, mask.at[8:].set(True))
    np.testing.assert_allclose(f2.loc[:8], f.loc[:8], rtol=1e-6, atol=1e-6)


def test_gradients_are_finite_with_missing_values(network):
    x, dt, mask = _inputs(3)
    targets, target_mask = make_targets(x[:, :OUTPUT_DIM], mask, HORIZON)

    def loss(model):
        f = model(x, dt, mask)
        return masked_mean(elementwise_loss(f, targets, "crps"), target_mask)

    grads = nnx.jit(nnx.grad(loss))(network)
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)


def test_untrained_network_forecasts_persistence():
    model = build_model(
        "s5", input_dim=1, output_dim=1, horizon=2, d_model=4, num_layers=1, rngs=nnx.Rngs(0)
    )
    y = jnp.array([1.0, jnp.nan, 3.0, jnp.nan, jnp.nan])[:, None]
    f = jax.jit(model)(y)
    np.testing.assert_array_equal(f.loc[:, 0, 0], [1.0, 1.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(f.loc[:, 1, 0], f.loc[:, 0, 0])
    # The scale grows like a random walk's: sqrt(lead).
    np.testing.assert_allclose(f.scale[0, 1, 0] / f.scale[0, 0, 0], np.sqrt(2), rtol=1e-3)


def test_quantiles_are_monotone_for_any_levels(network):
    x, dt, mask = _inputs(4)
    f = jax.jit(network)(x, dt, mask)
    levels = jnp.array([0.001, 0.1, 0.37, 0.5, 0.9, 0.999])
    q = forecast_quantiles(f, levels)
    assert q.shape == (T, HORIZON, OUTPUT_DIM, 6)
    assert np.all(np.diff(np.asarray(q), axis=-1) > 0)
    np.testing.assert_allclose(q[..., 3], f.loc, atol=1e-6)


def test_quantile_errors():
    with pytest.raises(ValueError, match="point head"):
        forecast_quantiles(Forecast(jnp.zeros(2)), [0.5])
    with pytest.raises(ValueError, match="between 0 and 1"):
        forecast_quantiles(Forecast(jnp.zeros(2), jnp.ones(2)), [0.0, 0.5])


def test_point_head_network():
    model = build_model(
        "mamba",
        input_dim=2,
        output_dim=1,
        horizon=2,
        head="point",
        rngs=nnx.Rngs(0),
        d_model=8,
        num_layers=1,
    )
    f = jax.jit(model)(jnp.ones((5, 2)))
    assert f.scale is None and f.loc.shape == (5, 2, 1)
    with pytest.raises(ValueError, match="probabilistic head"):
        elementwise_loss(f, jnp.zeros_like(f.loc), "crps")


def test_crps_and_nll_match_references():
    loc, scale, y = 0.3, 1.7, np.array([-2.0, 0.1, 4.0])
    draws = scipy.stats.norm(loc, scale).rvs(size=(200_000,), random_state=0)
    mc = np.abs(draws[:, None] - y).mean(0) - 0.5 * np.abs(draws[:100_000] - draws[100_000:]).mean()
    np.testing.assert_allclose(crps_normal(loc, scale, y), mc, rtol=2e-2)
    # and the closed form in float64 (SciPy's Phi), from the centre to far in the tails
    z = np.linspace(-9.0, 9.0, 181)
    exact = z * (2 * scipy.stats.norm.cdf(z) - 1) + 2 * scipy.stats.norm.pdf(z) - 1 / np.sqrt(np.pi)
    np.testing.assert_allclose(crps_normal(0.0, 1.0, z), exact, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        nll_normal(loc, scale, y), -scipy.stats.norm(loc, scale).logpdf(y), rtol=1e-5
    )


def test_missing_targets_do_not_change_the_loss_of_the_others():
    k1, k2 = jax.random.split(jax.random.key(0))
    f = Forecast(jax.random.normal(k1, (T, HORIZON, 1)), jnp.full((T, HORIZON, 1), 0.5))
    values = jax.random.normal(k2, (T, 1))
    full_targets, full_mask = make_targets(values, jnp.ones((T, 1), bool), HORIZON)
    per_target = elementwise_loss(f, full_targets, "crps")
    missing = jnp.zeros((T, 1), bool).at[jnp.array([2, 5, 6])].set(True)
    targets, target_mask = make_targets(jnp.where(missing, jnp.nan, values), ~missing, HORIZON)
    loss = masked_mean(elementwise_loss(f, targets, "crps"), target_mask)
    expected = np.asarray(per_target)[np.asarray(target_mask)].mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    assert int(target_mask.sum()) < int(full_mask.sum())
    grad = jax.grad(
        lambda loc: masked_mean(elementwise_loss(f._replace(loc=loc), targets, "crps"), target_mask)
    )(f.loc)
    assert np.all(np.isfinite(np.asarray(grad)))
    assert np.all(np.asarray(grad)[~np.asarray(target_mask)] == 0)


def test_set_scan_method_keeps_forecasts():
    model = _perturb(
        build_model(
            "s5",
            input_dim=INPUT_DIM,
            output_dim=OUTPUT_DIM,
            horizon=HORIZON,
            rngs=nnx.Rngs(1),
            **SMALL,
        )
    )
    x, dt, mask = _inputs(5)
    ref = jax.jit(model)(x, dt, mask).loc
    set_scan_method(model, "associative")
    np.testing.assert_allclose(jax.jit(model)(x, dt, mask).loc, ref, rtol=1e-5, atol=1e-5)


def test_build_model_errors():
    with pytest.raises(ValueError, match="model name"):
        build_model("lstm", input_dim=1, output_dim=1, horizon=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="input_dim"):
        build_model("s5", input_dim=1, output_dim=2, horizon=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="horizon"):
        build_model("s5", input_dim=1, output_dim=1, horizon=0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="head"):
        build_model("s5", input_dim=1, output_dim=1, horizon=1, head="t", rngs=nnx.Rngs(0))


def test_hybrid_interleaves_attention():
    model = build_model(
        "hybrid",
        input_dim=1,
        output_dim=1,
        horizon=1,
        num_layers=4,
        d_model=8,
        num_heads=2,
        hybrid_ssm="mamba",
        rngs=nnx.Rngs(0),
    )
    kinds = [type(b.mixer).__name__ for b in model.blocks]
    assert kinds == ["SelectiveSSM", "CausalAttention", "SelectiveSSM", "CausalAttention"]


@pytest.mark.parametrize(
    ("name", "seasons"),
    [("s5", (3, 5)), ("mamba", (20,)), ("hybrid", ())],  # a buffer longer than the sequence
)
def test_seasonal_base_and_staleness_agree_in_both_modes(name, seasons):
    model = build_model(
        name,
        input_dim=INPUT_DIM,
        output_dim=OUTPUT_DIM,
        horizon=HORIZON,
        rngs=nnx.Rngs(1),
        seasons=seasons,
        staleness=True,
        **SMALL,
    )
    model = _perturb(model, seed=1)
    x, dt, mask = _inputs(seed=2)
    f, last = jax.jit(lambda *a: model(*a, return_state=True))(x, dt, mask)
    state, fs = jax.jit(lambda *a: _steps(model, *a))(x, dt, mask)
    np.testing.assert_allclose(fs.loc, f.loc, rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(fs.scale, f.scale, rtol=1e-5, atol=2e-5)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(last), strict=True):
        np.testing.assert_allclose(np.asarray(a, complex), np.asarray(b, complex), atol=2e-5)
    # continuing from the parallel state equals stepping through everything
    x2, dt2, mask2 = _inputs(seed=3, num_timesteps=6)
    _, from_parallel = jax.jit(lambda *a: _steps(model, *a[1:], state=a[0]))(last, x2, dt2, mask2)
    _, from_steps = jax.jit(lambda *a: _steps(model, *a[1:], state=a[0]))(state, x2, dt2, mask2)
    np.testing.assert_allclose(from_parallel.loc, from_steps.loc, rtol=1e-5, atol=2e-5)


def test_seasonal_base_matches_a_numpy_loop():
    from ssmcast.models._seasonal import SeasonalBase

    rng = np.random.default_rng(0)
    base = SeasonalBase(5, 2, seasons=(3, 4), rngs=nnx.Rngs(0))
    mix = rng.normal(size=(5, 3, 2))
    stale = rng.normal(size=(5, 3, 2))
    base.mix[...] = jnp.asarray(mix, jnp.float32)
    base.stale_mix[...] = jnp.asarray(stale, jnp.float32)
    filled = rng.normal(size=(12, 2))
    age = rng.integers(0, 5, size=(12, 2)).astype(float)
    got = np.asarray(base(jnp.asarray(filled, jnp.float32), jnp.asarray(age, jnp.float32)))
    want = np.zeros((12, 5, 2))
    for t in range(12):
        for k in range(1, 6):
            cands = []
            for m in (3, 4):
                source = t + k - m * int(np.ceil(k / m))
                cands.append(filled[source] if source >= 0 else filled[t])
            cands.append(np.zeros(2))
            w = mix[k - 1] + stale[k - 1] * np.log1p(age[t])
            want[t, k - 1] = filled[t] + sum(w[j] * (cands[j] - filled[t]) for j in range(3))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.fixture(
    scope="module",
    params=[(m, lv, False, False) for m in MODEL_NAMES for lv in ("local", "both")]
    + [(m, "absolute", True, False) for m in MODEL_NAMES]
    + [(m, "absolute", True, True) for m in MODEL_NAMES]
    + [("s5", "local", True, False), ("s5", "local", False, True)],
)
def level_network(request):
    """A network that reads the targets' running level or has it (or the last change) in
    its seasonal base."""
    name, level_input, base_level, base_change = request.param
    model = build_model(
        name,
        input_dim=INPUT_DIM,
        output_dim=OUTPUT_DIM,
        horizon=HORIZON,
        seasons=(4,),
        staleness=True,
        level_input=level_input,
        base_level=base_level,
        base_change=base_change,
        rngs=nnx.Rngs(0),
        **SMALL,
    )
    assert model.base.num_candidates == 2 + base_level + base_change
    return _perturb(model)


def test_a_level_input_steps_as_it_runs_in_parallel(level_network):
    x, dt, mask = _inputs(4)
    f, last = jax.jit(lambda *a: level_network(*a, return_state=True))(x, dt, mask)
    state, fs = jax.jit(lambda *a: _steps(level_network, *a))(x, dt, mask)
    np.testing.assert_allclose(fs.loc, f.loc, rtol=1e-5, atol=2e-5)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(last), strict=True):
        np.testing.assert_allclose(np.asarray(a, complex), np.asarray(b, complex), atol=2e-5)
    # and the parallel state continues in recurrent mode
    _, half = jax.jit(lambda *a: level_network(*a, return_state=True))(x[:9], dt[:9], mask[:9])
    _, rest = jax.jit(lambda *a: _steps(level_network, *a))(x[9:], dt[9:], mask[9:], half)
    np.testing.assert_allclose(rest.loc, f.loc[9:], rtol=1e-5, atol=2e-5)


def _weighing_only_the_last_candidate(**candidate):
    """An s5 network with a season of 4 whose base puts all its weight on its last candidate."""
    model = build_model(
        "s5",
        input_dim=INPUT_DIM,
        output_dim=OUTPUT_DIM,
        horizon=HORIZON,
        seasons=(4,),
        rngs=nnx.Rngs(0),
        **candidate,
        **SMALL,
    )
    mix = np.zeros((HORIZON, model.base.num_candidates, OUTPUT_DIM), np.float32)
    mix[:, -1] = 1.0
    model.base.mix[...] = jnp.asarray(mix)
    return model


def test_the_base_level_candidate_is_the_running_level():
    # A base whose only nonzero weight is on the running level forecasts that level at every
    # lead, in both modes.
    from ssmcast.models._level import running_level

    model = _weighing_only_the_last_candidate(base_level=True)
    x, dt, mask = _inputs(6)
    filled, last = np.zeros((T, OUTPUT_DIM), np.float32), np.zeros(OUTPUT_DIM, np.float32)
    for t in range(T):  # the forward fill, 0 before a first value
        last = np.where(mask[t], x[t, :OUTPUT_DIM], last)
        filled[t] = last
    seen = np.asarray(jnp.cumsum(mask, axis=0) > 0)
    level, _ = running_level(jnp.asarray(filled), dt, model.level_period, seen)
    base = model.base(jnp.asarray(filled), jnp.zeros_like(filled), level)
    np.testing.assert_allclose(
        base, np.broadcast_to(np.asarray(level)[:, None], base.shape), atol=1e-6
    )


def test_the_base_change_candidate_is_the_last_value_plus_its_last_change():
    # A base whose only weight is on the last change forecasts y[t] + (y[t] - y[t-1]) where
    # both steps are observed and y[t] elsewhere, in parallel and in recurrent mode alike.
    model = _weighing_only_the_last_candidate(base_change=True)
    # the heads start at zero: the untrained network forecasts its base
    x, dt, mask = _inputs(7)
    mask = np.asarray(mask)
    assert (mask[1:] & mask[:-1]).any() and (~mask).any()
    expected = np.zeros((T, OUTPUT_DIM), np.float32)
    last = np.zeros(OUTPUT_DIM, np.float32)
    for t in range(T):  # a loop: the forward fill and the change where both steps are seen
        previous = last
        last = np.where(mask[t], np.asarray(x[t, :OUTPUT_DIM]), last)
        both = mask[t] & mask[t - 1] if t > 0 else np.zeros(OUTPUT_DIM, bool)
        expected[t] = last + np.where(both, last - previous, 0.0)
    want = np.broadcast_to(expected[:, None], (T, HORIZON, OUTPUT_DIM))
    np.testing.assert_allclose(jax.jit(model)(x, dt, mask).loc, want, atol=1e-5)
    _, stepped = jax.jit(lambda *a: _steps(model, *a))(x, dt, mask)
    np.testing.assert_allclose(stepped.loc, want, atol=1e-5)


def test_a_base_level_candidate_needs_the_level():
    from ssmcast.models._seasonal import SeasonalBase

    base = SeasonalBase(2, 1, seasons=(3,), running_level=True, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="pass 'level'"):
        base(jnp.zeros((5, 1)), jnp.zeros((5, 1)))


def test_a_local_level_input_ignores_a_shift_of_the_level_but_an_absolute_one_does_not():
    # The network's correction to the base reads the targets only through ``filled - level``:
    # a series shifted by a constant gets the same correction, so the forecast shifts by the
    # constant exactly (the base is linear in the values and its mix sums to one).
    x, dt, mask = _inputs(5)
    shifted = x.at[:, :OUTPUT_DIM].add(7.0)
    moved = {}
    for level_input in ("local", "absolute"):
        net = _perturb(
            build_model(
                "s5",
                input_dim=INPUT_DIM,
                output_dim=OUTPUT_DIM,
                horizon=HORIZON,
                level_input=level_input,
                rngs=nnx.Rngs(0),
                **SMALL,
            )
        )
        a, b = jax.jit(net)(x, dt, mask), jax.jit(net)(shifted, dt, mask)
        observed = np.asarray(jnp.cumsum(mask, axis=0) > 0)[:, None, :]  # after a first value
        moved[level_input] = np.abs(np.asarray(b.loc - a.loc) - 7.0)[
            np.broadcast_to(observed, a.loc.shape)
        ]
        if level_input == "local":  # the network's own output does not move at all
            np.testing.assert_allclose(b.scale, a.scale, rtol=1e-4, atol=1e-5)
    assert moved["local"].max() < 1e-4
    assert moved["absolute"].max() > 1e-2


def test_the_running_level_matches_a_float64_loop():
    from ssmcast.models._level import running_level

    rng = np.random.default_rng(0)
    filled = rng.normal(size=(50, 3))
    dt = rng.choice([1.0, 2.0, 3.5], size=50)
    level, (m, w) = running_level(jnp.asarray(filled, jnp.float32), jnp.asarray(dt), 6)
    mean, weight, expected = np.zeros(3), 0.0, []
    for t in range(50):
        a = np.exp(-dt[t] / 6)
        mean, weight = a * mean + (1 - a) * filled[t], a * weight + (1 - a)
        expected.append(mean / weight)
    np.testing.assert_allclose(level, np.array(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(level[0], filled[0], rtol=1e-6)  # debiased: starts at the value
    np.testing.assert_allclose(np.asarray(m) / np.asarray(w), expected[-1], rtol=1e-5)


def test_an_unknown_level_input_is_refused():
    with pytest.raises(ValueError, match="'level_input' must be one of"):
        build_model(
            "s5", input_dim=2, output_dim=1, horizon=2, level_input="relative", rngs=nnx.Rngs(0)
        )
