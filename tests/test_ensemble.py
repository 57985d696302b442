"""Seed ensembles and the least-squares seasonal base, each against an independent reference.

* :func:`~ssmcast.training.fit_ensemble` (members in lock step under ``vmap``) against the
  same members trained one at a time;
* :func:`~ssmcast.models.mixture` against the moments of samples drawn from the mixture;
* the estimator's forecast against the mean of its members' forecasts, each from a plain
  single-network pass;
* :func:`~ssmcast.models._seasonal.least_squares_mix` against ``numpy.linalg.lstsq`` on a
  design matrix built with a loop.
"""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from flax import nnx

from ssmcast import SSMForecaster, datasets
from ssmcast.models import Forecast, build_model, mixture, parallel_pass
from ssmcast.models._seasonal import least_squares_mix
from ssmcast.training import TrainConfig, fit_ensemble

TINY = dict(d_model=8, num_layers=1, state_dim=4)


def _sine(num_timesteps=240, num_series=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(num_timesteps)
    phase = rng.uniform(0, 2 * np.pi, (num_series, 1))
    y = np.sin(2 * np.pi * t / 12 + phase) + 0.1 * rng.normal(size=(num_series, num_timesteps))
    return y[..., None].astype(np.float32)


def _model(seed):
    return build_model("s5", input_dim=1, output_dim=1, horizon=3, rngs=nnx.Rngs(seed), **TINY)


def test_an_ensemble_trains_each_member_as_if_it_were_alone():
    config = TrainConfig(
        epochs=3, steps_per_epoch=4, batch_size=4, segment_length=48, patience=3, progress=False
    )
    y = _sine()
    together = fit_ensemble([_model(s) for s in (0, 1, 2)], y, config=config)
    # member 0 draws the first stream of segments, as a lone network does
    alone = fit_ensemble([_model(0)], y, config=config)
    for a, b in zip(jax.tree.leaves(together.params), jax.tree.leaves(alone.params), strict=True):
        np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b[0]), rtol=2e-4, atol=1e-5)
    leaves = jax.tree.leaves(together.params)
    assert all(leaf.shape[0] == 3 for leaf in leaves)
    # different seeds: the members differ
    assert any(not np.allclose(leaf[0], leaf[1]) for leaf in leaves)


def test_mixture_moments_match_samples_from_the_mixture():
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(5, 3, 2))
    scale = rng.uniform(0.5, 2.0, size=(5, 3, 2))
    combined = mixture(Forecast(loc, scale))
    member = rng.integers(0, 5, size=200_000)
    draws = rng.normal(loc[member], scale[member])  # (N, 3, 2)
    np.testing.assert_allclose(np.asarray(combined.loc), draws.mean(0), atol=0.02)
    np.testing.assert_allclose(np.asarray(combined.scale), draws.std(0), rtol=0.01)


def test_the_forecast_is_the_mean_of_the_members_forecasts():
    y = datasets.load("beijing")["TEMP"].loc["2014-10-01":"2014-11-30"]
    f = SSMForecaster(
        horizon=6,
        d_model=8,
        num_layers=1,
        max_epochs=2,
        batch_size=4,
        segment_length=64,
        ensemble_size=3,
        calibrate=False,
        random_state=0,
        progress=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f.fit(y)
    state = f.fitted_.state
    from ssmcast._fitted_ssm import encode

    panel_values = y.to_numpy(float)[None, :, None]
    x, mask = encode(state.scaler, None, panel_values, y.index, f.freq_, None)
    locs = []
    for member in range(3):
        params = jax.tree.map(lambda leaf, m=member: leaf[m], state.params)
        forecast, _ = parallel_pass(state.graphdef, params, x, np.ones(len(y)), mask)
        locs.append(np.asarray(forecast.loc)[:, -1])
    expected = state.scaler.inverse_transform(np.mean(locs, axis=0).astype(np.float64))
    np.testing.assert_allclose(f.predict().to_numpy(), expected[0, :, 0], rtol=1e-4)
    # members disagree, so the mixture is wider than the average member
    assert np.all(np.asarray(state.scale) > 0)


def test_an_ensemble_saves_and_loads(tmp_path):
    y = datasets.load("beijing")["TEMP"].loc["2014-11-01":"2014-11-30"]
    f = SSMForecaster(
        horizon=4, d_model=8, num_layers=1, max_epochs=1, ensemble_size=2, random_state=1,
        progress=False,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f.fit(y)
    f.save(tmp_path / "m.ssmcast")
    g = SSMForecaster.load(tmp_path / "m.ssmcast")
    pd.testing.assert_frame_equal(f.predict_quantiles([0.1, 0.9]), g.predict_quantiles([0.1, 0.9]))
    new = y.iloc[-3:].set_axis(y.index[-3:] + pd.Timedelta(hours=3))
    np.testing.assert_allclose(f.update(new).predict(), g.update(new).predict(), rtol=1e-6)


def test_ensemble_size_is_checked():
    with pytest.raises(ValueError, match="ensemble_size"):
        SSMForecaster(ensemble_size=0).fit(datasets.load("beijing")["TEMP"].iloc[:200])


def test_least_squares_mix_matches_lstsq_on_a_loop_built_design():
    rng = np.random.default_rng(0)
    t = np.arange(300)
    y = np.sin(2 * np.pi * t / 6) + 0.3 * np.sin(2 * np.pi * t / 15) + 0.2 * rng.normal(size=300)
    y[50:60] = np.nan  # a gap: forward-filled as the network does
    seasons, horizon, end = (6, 15), 4, 280
    mix = least_squares_mix(seasons, horizon, y[None, :, None], end, ridge=0.0)
    filled = pd.Series(y).ffill().to_numpy()
    for k in range(1, horizon + 1):
        rows, targets = [], []
        for origin in range(max(seasons), end - k):
            if np.isnan(y[origin + k]):
                continue
            last = filled[origin]
            back = [m * math.ceil(k / m) - k for m in seasons]
            rows.append([filled[origin - b] - last for b in back] + [0.0 - last])
            targets.append(y[origin + k] - last)
        expected = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
        np.testing.assert_allclose(mix[k - 1, :, 0], expected, rtol=1e-4, atol=1e-5)


def test_least_squares_mix_with_the_running_level_matches_lstsq_on_a_loop_built_design():
    # The running level, an exponential moving average over uneven gaps computed here by a
    # float64 loop, is the last candidate.
    rng = np.random.default_rng(1)
    t = np.arange(300)
    y = np.sin(2 * np.pi * t / 6) + np.cumsum(0.1 * rng.normal(size=300))  # a wandering level
    y[40:55] = np.nan
    y[:3] = np.nan  # the average begins at the first observation
    dt = rng.choice([1.0, 1.0, 2.0], size=300)
    seasons, horizon, end, period = (6,), 3, 280, 6
    mix, spread = least_squares_mix(
        seasons,
        horizon,
        y[None, :, None],
        end,
        ridge=0.0,
        level_period=period,
        dt=dt,
        return_spread=True,
    )
    filled = pd.Series(y).ffill().fillna(0.0).to_numpy()
    level, mean, weight = np.zeros(300), 0.0, 0.0
    for i in range(300):
        if i >= 3:
            a = math.exp(-dt[i] / period)
            mean, weight = a * mean + (1 - a) * filled[i], a * weight + (1 - a)
        level[i] = mean / weight if weight > 0 else filled[i]
    for k in range(1, horizon + 1):
        rows, targets = [], []
        for origin in range(max(seasons), end - k):
            if np.isnan(y[origin + k]):
                continue
            last = filled[origin]
            back = 6 * math.ceil(k / 6) - k
            rows.append([filled[origin - back] - last, 0.0 - last, level[origin] - last])
            targets.append(y[origin + k] - last)
        expected = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
        np.testing.assert_allclose(mix[k - 1, :, 0], expected, rtol=1e-3, atol=1e-4)
        # and the spread is the root mean square error of that base
        residuals = np.array(targets) - np.array(rows) @ expected
        np.testing.assert_allclose(spread[k - 1, 0], np.sqrt(np.mean(residuals**2)), rtol=1e-3)


def test_least_squares_mix_with_the_last_change_matches_lstsq_on_a_loop_built_design():
    # The last change counts only where the step and the one before it are observed: not
    # across the gap, nor at the first observation after it.
    rng = np.random.default_rng(2)
    t = np.arange(300)
    y = np.sin(2 * np.pi * t / 8) + np.cumsum(0.2 * rng.normal(size=300))  # a local trend
    y[60:70] = np.nan
    y[100] = np.nan
    seasons, horizon, end = (8,), 4, 290
    mix = least_squares_mix(seasons, horizon, y[None, :, None], end, ridge=0.0, last_change=True)
    assert mix.shape == (horizon, 3, 1)
    filled = pd.Series(y).ffill().to_numpy()
    observed = ~np.isnan(y)
    for k in range(1, horizon + 1):
        rows, targets = [], []
        for origin in range(max(seasons), end - k):
            if np.isnan(y[origin + k]):
                continue
            last = filled[origin]
            back = 8 * math.ceil(k / 8) - k
            both = observed[origin] and observed[origin - 1]
            change = last - filled[origin - 1] if both else 0.0
            rows.append([filled[origin - back] - last, 0.0 - last, change])
            targets.append(y[origin + k] - last)
        expected = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
        np.testing.assert_allclose(mix[k - 1, :, 0], expected, rtol=1e-3, atol=1e-4)
    assert mix[0, 2, 0] > 0.1  # the trend is worth a weight at the first lead


def test_a_head_starts_at_the_spread_it_is_given_where_finite():
    from ssmcast.models._heads import NormalHead

    head = NormalHead(4, horizon=3, output_dim=2, rngs=nnx.Rngs(0))
    before = np.asarray(head(jnp.ones((1, 4)), jnp.zeros((1, 2))).scale[0])
    spread = np.array([[0.05, np.nan], [0.1, 0.3], [0.2, 0.5]])
    head.start_spread(spread)
    after = np.asarray(head(jnp.ones((1, 4)), jnp.zeros((1, 2))).scale[0])
    finite = np.isfinite(spread)
    np.testing.assert_allclose(after[finite], spread[finite], rtol=1e-5)
    np.testing.assert_allclose(after[~finite], before[~finite], rtol=1e-6)


def _scripted(monkeypatch, losses):
    from ssmcast.training import _fit as fit_module

    scripted = iter(losses)
    monkeypatch.setattr(
        fit_module, "evaluate_members", lambda *a, **k: np.asarray(next(scripted), np.float32)
    )


def test_a_member_keeps_its_fallback_unless_an_epoch_scores_better(monkeypatch):
    # Scripted validation losses for two members: the first line scores the fallbacks.
    # Member 0 never beats its fallback and keeps it; member 1 beats it at epoch 1.
    _scripted(monkeypatch, [[0.5, 0.5], [0.6, 0.7], [0.7, 0.4], [0.8, 0.45], [0.9, 0.5]])
    models, fallback = [_model(0), _model(1)], [_model(2), _model(3)]
    config = TrainConfig(
        epochs=4, steps_per_epoch=2, batch_size=2, segment_length=24, progress=False
    )
    result = fit_ensemble(models, _sine(), config=config, fallback=fallback)
    assert result.best_epoch == 1  # the latest of the members' best epochs
    kept = [jax.tree.map(lambda leaf, i=i: leaf[i], result.params) for i in range(2)]
    for a, b in zip(
        jax.tree.leaves(kept[0]), jax.tree.leaves(nnx.state(fallback[0], nnx.Param)), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    changed = jax.tree.leaves(kept[1])
    original = jax.tree.leaves(nnx.state(fallback[1], nnx.Param))
    assert not all(np.array_equal(a, b) for a, b in zip(changed, original, strict=True))


@pytest.mark.parametrize(
    "losses, best, epochs",
    [
        ([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2], 9, 10),  # beats it at the end
        ([0.5, 0.6, 0.6, 0.6, 0.4, 0.4], -1, 4),  # stops as it would alone, keeps the fallback
    ],
)
def test_a_better_fallback_does_not_stop_training_early(monkeypatch, losses, best, epochs):
    _scripted(monkeypatch, [[0.3], *[[v] for v in losses]])
    config = TrainConfig(
        epochs=10, steps_per_epoch=2, batch_size=2, segment_length=24, patience=3, progress=False
    )
    result = fit_ensemble([_model(0)], _sine(), config=config, fallback=[_model(1)])
    assert result.best_epoch == best
    assert len(result.history["val_loss"]) == epochs


def test_a_fallback_must_match_the_members():
    config = TrainConfig(epochs=1, steps_per_epoch=2, batch_size=2, segment_length=24)
    other = build_model("s5", input_dim=1, output_dim=1, horizon=4, rngs=nnx.Rngs(0), **TINY)
    with pytest.raises(ValueError, match="'fallback' must hold one network per member"):
        fit_ensemble([_model(0), _model(1)], _sine(), config=config, fallback=[_model(2)])
    with pytest.raises(ValueError, match="'fallback'"):
        fit_ensemble([_model(0)], _sine(), config=config, fallback=[other])
