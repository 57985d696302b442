"""Training: the loss falls, determinism, NaN handling, early stopping, input checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from ssmcast.layers import SSMParam
from ssmcast.models import build_model
from ssmcast.training import (
    TrainConfig,
    TrainingDivergedError,
    check_arrays,
    fit,
    make_optimizer,
)
from ssmcast.training._steps import schedule_steps

TINY = dict(d_model=8, num_layers=1, state_dim=4)


def _sine(num_timesteps=240, num_series=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(num_timesteps)
    phase = rng.uniform(0, 2 * np.pi, (num_series, 1))
    y = np.sin(2 * np.pi * t / 12 + phase) + 0.1 * rng.normal(size=(num_series, num_timesteps))
    return y[..., None].astype(np.float32)


def _model(name="s5", seed=0, **kwargs):
    return build_model(
        name, input_dim=1, output_dim=1, horizon=3, rngs=nnx.Rngs(seed), **{**TINY, **kwargs}
    )


def _config(**kwargs):
    base = dict(
        epochs=4,
        steps_per_epoch=6,
        batch_size=4,
        segment_length=48,
        learning_rate=1e-2,
        progress=False,
    )
    return TrainConfig(**{**base, **kwargs})


def _params(model):
    return jax.tree.leaves(nnx.state(model, nnx.Param))


def test_tiny_network_fits_a_noisy_sine():
    model = _model()
    result = fit(model, _sine(), config=_config(epochs=12))
    train, val = result.history["train_loss"], result.history["val_loss"]
    assert train[-1] < 0.6 * train[0]
    assert min(val) < 0.6 * val[0]
    assert result.best_epoch == int(np.argmin(val))
    assert all(np.all(np.isfinite(np.asarray(p))) for p in _params(model))
    # The model holds the best parameters, which are also returned.
    for a, b in zip(_params(model), jax.tree.leaves(result.params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_training_is_deterministic_for_a_seed():
    y = _sine()
    runs = []
    for _ in range(2):
        model = _model(seed=3)
        result = fit(model, y, config=_config(epochs=2, seed=5))
        runs.append((result.history["train_loss"], _params(model)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_nan_loss_stops_with_a_clear_error_and_keeps_finite_params():
    y = _sine(num_series=2)
    # Persistence is off by 2e20 and (2e20)^2 overflows float32: series 1 gives an inf loss.
    y[1, :, 0] = 1e20 * (-1.0) ** np.arange(y.shape[1])
    model = _model()
    with pytest.raises(TrainingDivergedError, match="NaN or infinite") as info:
        fit(
            model,
            y,
            config=_config(
                epochs=30, batch_size=1, steps_per_epoch=1, loss="mse", val_fraction=0.0
            ),
        )
    result = info.value.result
    assert all(np.all(np.isfinite(np.asarray(p))) for p in _params(model))
    for a, b in zip(_params(model), jax.tree.leaves(result.params), strict=True):
        np.testing.assert_array_equal(a, b)
    losses = result.history["train_loss"]
    if result.best_epoch >= 0:
        assert losses[result.best_epoch] == min(losses)


def test_divergence_at_the_first_step_keeps_the_initial_params():
    y = (1e20 * (-1.0) ** np.arange(80))[:, None]
    model = _model()
    before = [np.asarray(p) for p in _params(model)]
    with pytest.raises(TrainingDivergedError):
        fit(model, y, config=_config(loss="mse", val_fraction=0.0))
    for a, b in zip(_params(model), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_without_progress():
    model = _model("hybrid", num_layers=2, num_heads=2, window=8)
    config = _config(epochs=20, learning_rate=0.0, ssm_learning_rate=0.0, patience=2)
    result = fit(model, _sine(), config=config)
    assert result.stopped_early
    assert len(result.history["val_loss"]) == 3
    assert result.best_epoch == 0


def test_missing_values_and_gaps_train(capsys):
    y = _sine(num_series=1)
    y[0, 50:60] = np.nan
    dt = np.ones(y.shape[:2], np.float32)
    dt[0, 100] = 3.0
    model = _model(head="point")
    result = fit(model, y, dt, config=_config(epochs=2, progress=True))
    assert np.all(np.isfinite(result.history["train_loss"]))
    assert "training" in capsys.readouterr().err


def test_check_arrays_errors():
    with pytest.raises(ValueError, match="input_dim=2"):
        check_arrays(np.zeros((5, 1)), None, None, input_dim=2, output_dim=1)
    with pytest.raises(ValueError, match="'dt'"):
        check_arrays(np.zeros((5, 1)), np.zeros(5), None, input_dim=1, output_dim=1)
    with pytest.raises(ValueError, match="'dt' must have shape"):
        check_arrays(np.zeros((5, 1)), np.ones(4), None, input_dim=1, output_dim=1)
    with pytest.raises(ValueError, match="covariate"):
        check_arrays(np.full((5, 2), np.nan), None, None, input_dim=2, output_dim=1)
    with pytest.raises(ValueError, match="'mask'"):
        check_arrays(np.zeros((5, 1)), None, np.ones(3, bool), input_dim=1, output_dim=1)
    x, _, mask = check_arrays(
        np.array([[1.0, 0.5], [2.0, 0.5]]), None, [True, False], input_dim=2, output_dim=1
    )
    assert x[0, 1, 0] == 0.0 and not mask[0, 1, 0]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("val_fraction", 1.5),
        ("epochs", 0),
        ("batch_size", 2.5),
        ("loss", "hinge"),
        ("learning_rate", -1.0),
        ("burn_in", 48),
        ("steps_per_epoch", 0),
    ],
)
def test_invalid_settings_raise(setting, value):
    with pytest.raises(ValueError, match=f"'{setting}' setting of TrainConfig"):
        fit(_model(), _sine(), config=_config(**{setting: value}))


def test_optimizer_groups_use_their_learning_rates():
    import jax.numpy as jnp

    config = TrainConfig(learning_rate=1.0, ssm_learning_rate=0.0, warmup_fraction=0.0)
    tx = make_optimizer(config, total_steps=10)
    params = ({"a": jnp.ones(2)}, {"w": jnp.ones((2, 2))})
    grads = ({"a": jnp.ones(2)}, {"w": jnp.ones((2, 2))})
    state = tx.init(params)
    for _ in range(2):
        updates, state = tx.update(grads, state, params)
    np.testing.assert_array_equal(updates[0]["a"], 0.0)
    assert np.all(np.asarray(updates[1]["w"]) < 0)


def test_the_flat_optimizer_makes_the_updates_of_the_per_array_one():
    # train_epoch updates the two groups as flat vectors; the optimizer on the trees (weight
    # decay on matrices only, a learning rate per group) is the reference
    from ssmcast.training._steps import _optimizer, flatten_groups

    net = build_model("s5", input_dim=3, output_dim=1, horizon=2, d_model=4, rngs=nnx.Rngs(0))
    _, ssm, other, _ = nnx.split(net, SSMParam, nnx.Param, ...)
    params = (ssm, other)
    rng = np.random.default_rng(0)
    grads = [jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)]
    grads.append(jax.tree.map(lambda g: -2 * g, grads[0]))
    config = TrainConfig(weight_decay=0.3, warmup_fraction=0.2)
    tree_tx = make_optimizer(config, total_steps=10)
    flat, decay, unflatten = flatten_groups(params)
    assert 0 < decay.sum() < decay.size  # some matrices, some vectors in the second group
    flat_tx = _optimizer(config, *schedule_steps(config, 10), decay=decay)
    tree_state, flat_state = tree_tx.init(params), flat_tx.init(flat)
    for g in grads:
        tree_updates, tree_state = tree_tx.update(g, tree_state, params)
        flat_updates, flat_state = flat_tx.update(flatten_groups(g)[0], flat_state, flat)
        for a, b in zip(
            jax.tree.leaves(tree_updates), jax.tree.leaves(unflatten(flat_updates)), strict=True
        ):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_outages_hide_inputs_but_keep_the_targets():
    from ssmcast.training._fit import _outages
    from ssmcast.training._steps import sequence_loss

    rng = np.random.default_rng(0)
    spans = _outages(rng, (200, 16), 64, 0.25)
    hit = spans[..., 1] > 0
    assert abs(hit.mean() - 0.25) < 0.02 and spans[..., 1].max() <= 32
    assert not _outages(rng, (4, 4), 64, 0.0).any()

    model = build_model("s5", input_dim=1, output_dim=1, horizon=3, d_model=4, rngs=nnx.Rngs(0))
    x = jnp.sin(jnp.arange(40.0) / 3)[:, None]
    mask = jnp.ones((40, 1), bool)
    hidden = mask.at[10:25].set(False)
    full_sum, full_count = sequence_loss(model, x, jnp.ones(40), mask, loss="mae")
    gap_sum, gap_count = sequence_loss(model, x, jnp.ones(40), mask, loss="mae", input_mask=hidden)
    assert int(gap_count) == int(full_count)  # the hidden values are still targets
    assert float(gap_sum) > float(full_sum)  # persistence across the gap is stale


def test_padding_to_a_bucket_length_changes_nothing_and_shares_the_compilation(monkeypatch):
    from ssmcast.training import _fit, _steps

    y = _sine(num_timesteps=201)
    y[0, 150:160] = np.nan  # a gap inside, so the mask matters
    config = _config(epochs=3, val_fraction=0.2, segment_length=256)  # segments of 161 steps
    padded = fit(_model(), y, config=config)
    assert _fit.bucket_length(201) == 224  # 201 steps validate padded to 224
    assert _fit.bucket_length(161) == _fit.bucket_length(168) == 192  # and train padded to 192
    monkeypatch.setattr(_fit, "bucket_length", lambda n: n)  # the unpadded reference
    plain = fit(_model(), y, config=config)
    monkeypatch.undo()
    np.testing.assert_allclose(padded.history["val_loss"], plain.history["val_loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(padded.params), jax.tree.leaves(plain.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    # the epoch's program depends on the architecture and the settings, not on the data:
    # other lengths (segments of 168 steps, also padded to 192), other numbers of series,
    # epochs and steps share it
    compiled = _steps.train_members._cache_size()
    fit(_model(), _sine(num_timesteps=210), config=config)
    assert _steps.train_members._cache_size() == compiled
    fit(_model(), _sine(num_timesteps=640, num_series=3), config=_config(epochs=5))
    compiled = _steps.train_members._cache_size()
    fit(_model(), _sine(num_timesteps=500, num_series=1), config=_config(steps_per_epoch=7))
    assert _steps.train_members._cache_size() == compiled


def test_an_epoch_in_blocks_trains_as_one_block(monkeypatch):
    from ssmcast.training import _fit

    y = _sine(num_timesteps=300)
    config = _config(epochs=2, steps_per_epoch=10, val_fraction=0.2)
    whole = fit(_model(), y, config=config)
    # blocks of 4 steps: 4 + 4 + 2, the last one filled up with 2 steps that do nothing
    assert _fit.BLOCK_STEPS == 4
    # against blocks of 3 (when 4 would be too large a block of segments): 3 + 3 + 3 + 1
    step_bytes = 4 * 48 * (1 + 1 + 1) * 4
    monkeypatch.setattr(_fit, "_BLOCK_BYTES", 3 * step_bytes + 1)
    assert _fit._blocks(step_bytes) == 3
    blocks = fit(_model(), y, config=config)
    np.testing.assert_allclose(blocks.history["train_loss"], whole.history["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(blocks.history["val_loss"], whole.history["val_loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(blocks.params), jax.tree.leaves(whole.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_the_schedule_with_traced_step_counts_is_optax_warmup_cosine():
    import optax

    from ssmcast.training._steps import _warmup_cosine

    for peak, warmup, total in [(3e-3, 5, 100), (1e-3, 1, 2), (0.0, 3, 10), (1.0, 10, 160)]:
        reference = optax.warmup_cosine_decay_schedule(
            0.0, peak, warmup, total, end_value=peak * 0.05
        )
        ours = jax.jit(lambda c, w, t, peak=peak: _warmup_cosine(peak, 0.05, w, t)(c))
        counts = np.arange(total + 5)
        expected = np.array([float(reference(c)) for c in counts])
        got = np.array([float(ours(c, warmup, total)) for c in counts])
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_a_regular_grid_trains_without_per_step_gaps():
    # on a regular grid the steps pass dt=None (the SSM layers discretise once): the loss and
    # its gradient are those of dt=ones, and irregular gaps still reach the layers
    from ssmcast.training._fit import _split_model
    from ssmcast.training._steps import _batch_loss

    graphdef, params, rest = _split_model(_model())
    x = jnp.asarray(_sine(num_timesteps=40, num_series=3))
    mask = ~jnp.isnan(x)
    ones = jnp.ones(x.shape[:2])

    def loss(params, dt):
        return _batch_loss(graphdef, rest, params, x, dt, mask, mask, "crps", 5)

    value, grads = jax.value_and_grad(loss)(params, None)
    expected, expected_grads = jax.value_and_grad(loss)(params, ones)
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    for g, e in zip(jax.tree.leaves(grads), jax.tree.leaves(expected_grads), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)
    # (the untrained head reads nothing from the state yet, so compare the gradients)
    gapped = jax.grad(loss)(params, ones.at[:, 20].set(4.0))
    pairs = zip(jax.tree.leaves(gapped), jax.tree.leaves(grads), strict=True)
    assert not all(np.allclose(g, e) for g, e in pairs)


LUCKY = [1.0, 0.5, 0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.4]  # a dip at epoch 1
SHARP = [1.0, 0.5, 0.3, 0.6, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99]  # a real minimum at 2


@pytest.mark.parametrize(
    "losses, window, best, epochs",
    [(LUCKY, 1, 1, 5), (LUCKY, 3, 9, 10), (SHARP, 1, 2, 6), (SHARP, 3, 2, 7)],
)
def test_the_selection_window_ignores_one_lucky_epoch_and_keeps_a_sharp_minimum(
    losses, window, best, epochs, monkeypatch
):
    # scripted validation losses: read alone, the lucky dip is kept and stops training;
    # judged with its neighbours it is not, and training runs on to the real minimum. A
    # sharp minimum is kept where it is (a trailing mean would keep the epoch after it)
    from ssmcast.training import _fit as fit_module

    scripted = iter(losses)
    monkeypatch.setattr(
        fit_module, "evaluate_members", lambda *args, **kwargs: np.array([next(scripted)])
    )
    config = _config(epochs=10, patience=3, selection_window=window)
    result = fit(_model(), _sine(), config=config)
    assert result.best_epoch == best
    assert len(result.history["val_loss"]) == epochs
    assert result.stopped_early == (epochs < 10)


@pytest.mark.parametrize("window", [0, 2])
def test_the_selection_window_must_be_odd_and_positive(window):
    with pytest.raises(ValueError, match="selection_window"):
        fit(_model(), _sine(), config=_config(selection_window=window))


def test_the_parameter_average_matches_a_numpy_loop():
    from ssmcast.training._steps import _track_average, averaged_params

    rng = np.random.default_rng(0)
    decay = 0.8
    params = {"w": jnp.asarray(rng.normal(size=3), jnp.float32)}
    tx = _track_average(decay)
    state = tx.init(params)
    p, total = np.asarray(params["w"], np.float64), np.zeros(3)
    for step in range(1, 6):
        updates = {"w": jnp.asarray(rng.normal(size=3), jnp.float32)}
        same, state = tx.update(updates, state, params)
        assert same is updates  # the average never changes the step
        params = {"w": params["w"] + updates["w"]}
        p = p + np.asarray(updates["w"], np.float64)
        total = decay * total + (1 - decay) * p
        got = averaged_params((state,), decay)["w"]
        np.testing.assert_allclose(np.asarray(got), total / (1 - decay**step), rtol=1e-5)


def test_training_on_the_parameter_average():
    data = _sine()
    # No learning: the (debiased) average is the initial parameters themselves.
    model = _model()
    start = [np.asarray(p) for p in _params(model)]
    frozen = _config(epochs=2, learning_rate=0.0, ssm_learning_rate=0.0, average_decay=0.9)
    fit(model, data, config=frozen)
    for got, want in zip(_params(model), start, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    # A vanishing decay: the average is the last step's parameters, so the fit is the plain one.
    plain, tiny, smooth = _model(), _model(), _model()
    results = [
        fit(m, data, config=_config(average_decay=d))
        for m, d in ((plain, 0.0), (tiny, 1e-6), (smooth, 0.7))
    ]
    for key in ("train_loss", "val_loss"):
        assert results[1].history[key] == pytest.approx(results[0].history[key], rel=1e-4)
    for got, want in zip(_params(tiny), _params(plain), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)
    # A real decay validates (and keeps) other parameters than the last step's.
    assert results[2].history["val_loss"] != pytest.approx(results[0].history["val_loss"])
    assert results[2].history["train_loss"] == pytest.approx(results[0].history["train_loss"])
