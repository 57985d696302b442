"""SSMForecaster beyond the shared conformance suite: models, roll-out, backtest, save/load."""

import functools
import json
import time
import warnings
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from flax import nnx, serialization

from ssmcast import backtest, datasets
from ssmcast.forecaster import SSMForecaster

# one network: the ensemble's own tests are in test_ensemble.py
TINY = dict(
    d_model=8,
    num_layers=1,
    max_epochs=2,
    batch_size=4,
    segment_length=64,
    ensemble_size=1,
    progress=False,
)


@functools.cache
def temperature() -> pd.Series:
    """Real hourly temperature in Beijing, autumn 2014."""
    return datasets.load("beijing")["TEMP"].loc["2014-09-01":"2014-11-30"]


@functools.cache
def fitted(model="s5", horizon=6) -> SSMForecaster:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SSMForecaster(model, horizon, random_state=0, **TINY).fit(temperature())


@pytest.mark.parametrize("model", ["s5", "mamba", "hybrid"])
def test_each_model_fits_predicts_and_updates(model):
    f = fitted(model)
    forecast = f.predict()
    assert forecast.index[0] == pd.Timestamp("2014-12-01 00:00")
    assert np.isfinite(forecast).all()
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 11:00"]
    g = SSMForecaster(model, 6, random_state=0, **TINY).fit(temperature())
    g.update(december.iloc[:5]).update(december.iloc[5:])
    h = SSMForecaster(model, 6, random_state=0, **TINY).fit(temperature()).update(december)
    np.testing.assert_allclose(g.predict().to_numpy(), h.predict().to_numpy(), rtol=1e-5)
    assert g.cutoff_ == december.index[-1]


def test_long_horizons_roll_out_with_widening_intervals():
    f = fitted()
    q = f.predict_quantiles([0.1, 0.5, 0.9], horizon=30)
    assert len(q) == 30 and np.isfinite(q.to_numpy()).all()
    width = (q["q0.9"] - q["q0.1"]).to_numpy()
    assert width[12:].mean() > width[:6].mean()
    np.testing.assert_allclose(f.predict(horizon=30).to_numpy(), q["q0.5"].to_numpy(), rtol=1e-5)
    # The first block of the roll-out is the plain forecast.
    np.testing.assert_allclose(f.predict(horizon=30).iloc[:6], f.predict(), rtol=1e-6)


@pytest.mark.parametrize("horizon", [6, 9])
def test_one_pass_backtest_equals_the_update_predict_loop(horizon):
    y = datasets.load("beijing")["TEMP"].loc["2014-09-01":"2014-12-10"]
    f = SSMForecaster("s5", 6, random_state=0, **TINY)
    kwargs = dict(horizon=horizon, start="2014-12-01", stride=12, levels=[0.1, 0.9], progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_pass = backtest(f, y, method="one_pass", **kwargs).forecasts
        loop = backtest(f, y, method="loop", **kwargs).forecasts
    pd.testing.assert_frame_equal(one_pass, loop, rtol=1e-4, atol=1e-4)


def test_learns_to_beat_persistence_on_real_temperature():
    # A small budget on three months of real data: the model must learn the daily cycle.
    # (One narrow layer and three epochs reach a skill of about 0.38.)
    y = datasets.load("beijing")["TEMP"].loc["2014-08-01":"2014-11-30"]
    f = SSMForecaster(
        "s5",
        24,
        d_model=8,
        num_layers=1,
        max_epochs=3,
        ensemble_size=1,
        random_state=0,
        progress=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = backtest(f, y, horizon=24, start="2014-11-01", progress=False)
    skill = result.skill("naive").overall["MAE"]
    assert skill > 0.2, f"MAE skill against persistence {skill:.3f}"


def test_save_and_load_predict_exactly_the_same(tmp_path):
    f = fitted()
    path = tmp_path / "temp.ssmcast"
    f.save(path)
    g = SSMForecaster.load(path)
    assert g.get_params() == f.get_params()
    assert g.cutoff_ == f.cutoff_ and g.freq_ == f.freq_
    pd.testing.assert_series_equal(g.predict(horizon=14), f.predict(horizon=14))
    pd.testing.assert_frame_equal(g.predict_quantiles([0.2, 0.8]), f.predict_quantiles([0.2, 0.8]))
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 05:00"]
    pd.testing.assert_series_equal(
        g.update(december).predict(), SSMForecaster.load(path).update(december).predict()
    )
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "params.msgpack", "state.msgpack"]


def test_a_model_in_a_named_time_zone_loads_in_that_zone(tmp_path):
    # Berlin switches to winter time on 2014-10-26: the zone's name must survive saving (its
    # offset alone would put forecasts after the switch an hour off in local time)
    y = temperature().loc["2014-10-01":"2014-10-24"].tz_localize("Europe/Berlin")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = SSMForecaster(horizon=6, random_state=0, **TINY).fit(y)
    f.save(tmp_path / "berlin.ssmcast")
    g = SSMForecaster.load(tmp_path / "berlin.ssmcast")
    assert str(g.cutoff_.tz) == "Europe/Berlin"
    pd.testing.assert_series_equal(g.predict(horizon=60), f.predict(horizon=60))
    assert str(g.predict().index.tz) == "Europe/Berlin"


def test_a_damaged_compressed_member_is_refused(tmp_path):
    good = tmp_path / "good.ssmcast"
    fitted().save(good)
    data = bytearray(good.read_bytes())
    start = data.index(b"params.msgpack") + len(b"params.msgpack") + 40
    data[start] ^= 0xFF  # inside the deflate stream of the weights
    bad = tmp_path / "bad.ssmcast"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"Cannot load .*bad.ssmcast: the file is truncated"):
        SSMForecaster.load(bad)


@pytest.mark.parametrize("path", [None, 3, b"model.ssmcast", ""])
def test_save_and_load_need_a_path(path):
    with pytest.raises(TypeError, match=r"'path' argument of save must be a file path"):
        fitted().save(path)
    with pytest.raises(TypeError, match=r"'path' argument of load must be a file path"):
        SSMForecaster.load(path)


def test_load_refuses_bad_files(tmp_path):
    good = tmp_path / "good.ssmcast"
    fitted().save(good)
    with pytest.raises(ValueError, match="no such file"):
        SSMForecaster.load(tmp_path / "missing.ssmcast")
    text = tmp_path / "notes.ssmcast"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an ssmcast model file"):
        SSMForecaster.load(text)
    truncated = tmp_path / "truncated.ssmcast"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"not an ssmcast model file|truncated"):
        SSMForecaster.load(truncated)

    def rewrite(name, edit):
        path = tmp_path / name
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
            for member in src.namelist():
                data = src.read(member)
                if member == "config.json":
                    data = json.dumps(edit(json.loads(data))).encode()
                dst.writestr(member, data)
        return path

    newer = rewrite("newer.ssmcast", lambda c: {**c, "format_version": 99})
    with pytest.raises(ValueError, match=r"format 99.*Upgrade ssmcast"):
        SSMForecaster.load(newer)
    foreign = rewrite("foreign.ssmcast", lambda c: {**c, "format": "other"})
    with pytest.raises(ValueError, match="not an ssmcast model file"):
        SSMForecaster.load(foreign)
    wrong = rewrite("wrong.ssmcast", lambda c: {**c, "params": {**c["params"], "d_model": 16}})
    with pytest.raises(ValueError, match="corrupted"):
        SSMForecaster.load(wrong)


def test_covariates_are_inputs_and_needed_to_roll_out():
    frame = datasets.load("beijing").loc["2014-10-01":"2014-11-30"]
    f = SSMForecaster("s5", 6, random_state=0, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f.fit(frame["TEMP"], X=frame[["DEWP", "PRES"]])
    assert f.input_dim_ > 1 + 2  # target, two covariates, calendar features
    assert np.isfinite(f.predict()).all()
    with pytest.raises(ValueError, match="pass `X` on the forecast timestamps"):
        f.predict(horizon=12)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(model="s4"), "'model'.*Did you mean 's5'"),
        (dict(horizon=0), "horizon"),
        (dict(d_model=0), "'d_model'"),
        (dict(loss="mse"), "'loss'"),
        (dict(validation_fraction=0.7), "'validation_fraction'"),
        (dict(learning_rate=0.0), "'learning_rate'"),
        (dict(ensemble_size=0), "'ensemble_size'"),
        (dict(random_state=-1), "'random_state'"),
        (dict(selection_window=2), "'selection_window' .* must be odd .* Got 2; use 3"),
        (dict(level_input="relative"), "'level_input' .* one of .*'local'.* Got 'relative'"),
    ],
)
def test_bad_parameters_get_clear_errors(params, match):
    with pytest.raises(ValueError, match=match):
        SSMForecaster(**{**TINY, **params}).fit(temperature())


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(d_model="8"), r"'d_model' parameter .* positive int. Got '8' \(str\)"),
        (dict(learning_rate="0.01"), r"'learning_rate' parameter .* number > 0. Got '0.01'"),
        (dict(validation_fraction="0.1"), r"'validation_fraction' parameter .* Got '0.1'"),
        (dict(random_state="3"), r"'random_state' .* None, an int or a numpy.random"),
        (dict(patience=2.5), r"'patience' parameter .* positive int"),
    ],
)
def test_parameters_of_the_wrong_type_get_type_errors(params, match):
    with pytest.raises(TypeError, match=match):
        SSMForecaster(**{**TINY, **params}).fit(temperature())


@pytest.mark.parametrize("window", [1, 3])
def test_the_selection_window_and_learning_rate_reach_training(monkeypatch, window):
    from ssmcast import training

    seen = []
    fit_ensemble = training.fit_ensemble

    def spy(*args, config, **kwargs):
        seen.append(config)
        return fit_ensemble(*args, config=config, **kwargs)

    monkeypatch.setattr(training, "fit_ensemble", spy)
    f = SSMForecaster(**{**TINY, "selection_window": window}).fit(temperature().iloc[-300:])
    (config,) = seen
    assert config.selection_window == window
    assert config.learning_rate == f.learning_rate
    assert config.ssm_learning_rate == pytest.approx(f.learning_rate / 3)


def test_numpy_numbers_and_a_random_state_object_are_accepted():
    y = temperature().iloc[-300:]
    params = dict(
        TINY,
        horizon=np.int64(4),
        d_model=np.int32(8),
        learning_rate=np.float32(1e-2),
        ensemble_size=np.int64(1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = SSMForecaster(random_state=np.random.RandomState(5), **params).fit(y).predict()
        b = SSMForecaster(random_state=np.random.RandomState(5), **params).fit(y).predict()
    assert len(a) == 4 and np.isfinite(a).all()
    pd.testing.assert_series_equal(a, b)  # the same RandomState state: the same model


def test_too_short_series_is_refused():
    with pytest.raises(ValueError, match="needs at least 50"):
        SSMForecaster(horizon=24, **TINY).fit(temperature().iloc[:30])


DATA = Path(__file__).parent / "data"


def test_a_model_saved_by_ssmcast_0_1_loads_and_predicts_as_it_did():
    # Written by ssmcast 0.1 (format 1): a hybrid model, so attention caches are in the state.
    expected = json.loads((DATA / "hybrid-format1.json").read_text())
    g = SSMForecaster.load(DATA / "hybrid-format1.ssmcast")
    assert str(g.cutoff_) == expected["cutoff"] and g.get_params()["model"] == "hybrid"
    # the parameters say what that model was: no seasonal base, staleness or calibration
    assert g.get_params()["seasons"] == () and g.get_params()["calibrate"] is False
    np.testing.assert_allclose(g.predict(horizon=9).to_numpy(), expected["predict"], rtol=1e-6)
    q = g.predict_quantiles([0.1, 0.9]).to_numpy()
    # quantiles are now loc + scale * z in float64 NumPy (0.1 did it in float32 under XLA):
    # they agree to float32 rounding of the network's outputs (about 1e-6 degrees here)
    np.testing.assert_allclose(q, expected["q"], rtol=1e-6, atol=1e-5)


def test_update_makes_a_new_fitted_value_and_leaves_the_old_one_alone():
    f = SSMForecaster("s5", 6, random_state=0, **TINY).fit(temperature())
    before, first = f.fitted_, f.predict()
    carry = [np.array(leaf) for leaf in jax.tree.leaves(before.state.carry)]
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 05:00"]
    f.update(december)
    assert f.fitted_ is not before and f.cutoff_ == december.index[-1]
    assert before.meta.cutoff == temperature().index[-1]
    for old, kept in zip(jax.tree.leaves(before.state.carry), carry, strict=True):
        np.testing.assert_array_equal(np.asarray(old), kept)
    assert set(vars(f)) == {*f.get_params(), "fitted_"}  # no other state on the estimator
    f.fitted_ = before  # the old value still forecasts as before the update
    pd.testing.assert_series_equal(f.predict(), first)


def test_a_failed_save_keeps_the_earlier_file(tmp_path, monkeypatch):
    path = tmp_path / "model.ssmcast"
    fitted().save(path)
    good = path.read_bytes()

    def broken(self, name, data, *args, **kwargs):
        if name.endswith(".msgpack"):
            raise OSError("disk full")
        return original(self, name, data, *args, **kwargs)

    original = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    with pytest.raises(OSError, match="disk full"):
        fitted().save(path)
    monkeypatch.undo()
    assert path.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert SSMForecaster.load(path).predict().equals(fitted().predict())


def test_load_refuses_non_finite_weights(tmp_path):
    good = tmp_path / "good.ssmcast"
    fitted().save(good)
    bad = tmp_path / "nan.ssmcast"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for member in src.namelist():
            data = src.read(member)
            if member == "params.msgpack":
                tree = serialization.msgpack_restore(data)
                leaves, treedef = jax.tree.flatten(tree)
                leaves[0] = np.full_like(np.asarray(leaves[0]), np.nan)
                data = serialization.msgpack_serialize(jax.tree.unflatten(treedef, leaves))
            dst.writestr(member, data)
    with pytest.raises(ValueError, match="NaN or infinite"):
        SSMForecaster.load(bad)


def test_auto_seasons_follow_the_frequency():
    f = SSMForecaster()
    assert f._seasons("h") == (24, 168) and f._seasons("30min") == (48, 336)
    assert f._seasons("D") == (7,) and f._seasons("YS") == () and f._seasons("7h") == ()
    assert SSMForecaster(seasons=(12,))._seasons("h") == (12,)
    with pytest.raises(TypeError, match="'seasons' parameter"):
        SSMForecaster(seasons="daily", **TINY).fit(temperature())
    with pytest.raises(ValueError, match=r"'seasons' parameter .* positive int"):
        SSMForecaster(seasons=(24, 0), **TINY).fit(temperature())


def test_calibration_factor_matches_the_coverage_of_a_known_spread():
    from ssmcast._calibration import calibration_factor
    from ssmcast.models import Forecast

    rng = np.random.default_rng(0)
    truth = rng.normal(0.0, 2.0, size=(1, 4000, 1))  # white noise with sd 2
    loc = np.zeros((1, 4000, 3, 1))
    scale = np.ones((1, 4000, 3, 1))  # the network's spread is half the true one
    factor = calibration_factor(Forecast(loc, scale), truth, tail=0.5)
    np.testing.assert_allclose(factor, 2.0, rtol=0.06)
    z = np.abs(truth[0, 2000:, 0]) / (scale[0, 0, 0, 0] * factor[0])
    assert abs(np.mean(z <= 1.2816) - 0.8) < 0.01  # the 80% interval now covers 80%
    wide = Forecast(loc, 4 * scale)  # too wide: narrowed, unless asked to widen only
    assert (calibration_factor(wide, truth, tail=0.5, widen_only=True) == 1.0).all()
    narrowed = calibration_factor(wide, truth, tail=0.5, widen_only=False)
    np.testing.assert_allclose(narrowed, 0.5, rtol=0.06)


def test_a_seasonal_model_learns_a_daily_profile_that_persistence_misses():
    # Hourly temperature with the model's base restricted to the daily season: after
    # training, the forecast 12 h ahead follows the daily cycle, not the last value.
    y = datasets.load("beijing")["TEMP"].loc["2014-06-01":"2014-08-31"]
    kwargs = dict(horizon=12, start="2014-08-15", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSMForecaster("s5", 12, random_state=0, seasons=(24,), **{**TINY, "max_epochs": 8})
        seasonal = backtest(model, y, **kwargs)
    naive = seasonal.reference("naive")
    assert seasonal.metrics.by_lead.loc[12, "MAE"] < 0.8 * naive.metrics.by_lead.loc[12, "MAE"]


def test_covariates_are_matched_by_name_and_refused_when_unknown(tmp_path):
    frame = datasets.load("beijing").loc["2014-10-01":"2014-11-30"]
    y, X = frame["TEMP"], frame[["DEWP", "PRES"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = SSMForecaster(horizon=6, random_state=0, **TINY).fit(y, X)
    assert f.fitted_.meta.covariates == ("DEWP", "PRES")
    future = pd.date_range(y.index[-1] + pd.Timedelta(hours=1), periods=12, freq="h")
    X_future = pd.DataFrame(
        {"DEWP": np.linspace(-5, 0, 12), "PRES": np.linspace(1020, 1030, 12)}, index=future
    )
    expected = f.predict(12, X=X_future)
    # the same columns in another order: the same forecast (matched by name, not position)
    pd.testing.assert_series_equal(f.predict(12, X=X_future[["PRES", "DEWP"]]), expected)
    with pytest.raises(ValueError, match=r"Missing: \['PRES'\]; unknown: \['P'\]"):
        f.predict(12, X=X_future.rename(columns={"PRES": "P"}))
    with pytest.raises(ValueError, match=r"Missing: \['PRES'\]; unknown: none"):
        f.predict(12, X=X_future[["DEWP"]])
    f.save(tmp_path / "m.ssmcast")  # the names are saved with the model
    g = SSMForecaster.load(tmp_path / "m.ssmcast")
    pd.testing.assert_series_equal(g.predict(12, X=X_future[["PRES", "DEWP"]]), expected)
    new = frame["2014-11-30 23:00":"2014-11-30 23:00"]  # no overlap: shift one day on
    new = new.set_axis(new.index + pd.Timedelta(hours=1))
    with pytest.raises(ValueError, match=r"Missing: \['DEWP'\]"):
        g.update(new["TEMP"], new[["PRES"]])


def test_covariates_given_to_a_model_fitted_without_them_are_refused():
    model = fitted()
    future = pd.date_range(model.cutoff_ + pd.Timedelta(hours=1), periods=6, freq="h")
    X = pd.DataFrame({"DEWP": np.zeros(6)}, index=future)
    with pytest.raises(ValueError, match=r"fitted without covariates, so `X` cannot be used"):
        model.predict(X=X)
    new = pd.Series([1.0], index=future[:1])
    with pytest.raises(ValueError, match=r"`X_new` cannot be used by 'update'"):
        model.update(new, X_new=X.iloc[:1])


def test_training_that_diverges_keeps_a_model_that_forecasts_finite_values():
    y = temperature().iloc[-600:]
    f = SSMForecaster(horizon=6, learning_rate=1e3, random_state=0, **{**TINY, "ensemble_size": 2})
    with pytest.warns(RuntimeWarning, match="diverged"):
        f.fit(y)
    forecast = f.predict()
    assert np.isfinite(forecast.to_numpy()).all()
    assert np.isfinite(f.predict_quantiles([0.1, 0.9]).to_numpy()).all()
    # the members kept their initial parameters: the seasonal base, near the last values
    assert abs(forecast.iloc[0] - y.iloc[-1]) < 5 * y.diff().abs().mean()


def test_a_forecast_longer_than_the_history_is_refused_at_once():
    model = fitted()
    seen = model.fitted_.meta.num_timesteps
    assert seen == len(temperature())
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"\(1000000\) is longer than the {seen} time steps"):
        model.predict(horizon=10**6)
    with pytest.raises(ValueError, match=r"Ask for at most"):
        model.predict_quantiles([0.5], horizon=seen + 1)
    assert time.perf_counter() - start < 5  # refused before any work


def test_baselines_refuse_a_forecast_longer_than_the_history_too():
    from ssmcast.baselines import Naive

    y = temperature().iloc[:48]
    model = Naive(horizon=6).fit(y)
    assert len(model.predict(horizon=48)) == 48
    with pytest.raises(ValueError, match=r"\(49\) is longer than the 48 time steps"):
        model.predict(horizon=49)
    later = pd.Series([1.0, 2.0], index=pd.date_range(y.index[-1], periods=3, freq="h")[1:])
    assert len(model.update(later).predict(horizon=50)) == 50  # updates count as seen


def _rewrite_config(source, target, edit):
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)


def test_load_checks_cheap_limits_before_building_or_inflating(tmp_path, monkeypatch):
    from ssmcast import io

    good = tmp_path / "good.ssmcast"
    fitted().save(good)
    huge = tmp_path / "huge.ssmcast"  # the config names a far bigger network than stored
    _rewrite_config(good, huge, lambda c: c["params"].update(d_model=4096, num_layers=64))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"name a network of at least [\d,]+ bytes of weights"):
        SSMForecaster.load(huge)
    assert time.perf_counter() - start < 5  # nothing of that size was built
    bad = tmp_path / "bad.ssmcast"
    _rewrite_config(good, bad, lambda c: c["params"].update(d_model=-3))
    with pytest.raises(ValueError, match="'d_model'"):
        SSMForecaster.load(bad)
    monkeypatch.setattr(io, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(ValueError, match=r"would inflate to [\d,]+ bytes, more than the limit"):
        SSMForecaster.load(good)


@pytest.mark.parametrize("factor", [1e-12, 1e9])
def test_forecasts_scale_with_the_data_at_any_magnitude(factor):
    y = temperature().iloc[-400:] + 30.0  # kelvin-like: no zero crossing
    params = dict(horizon=6, random_state=0, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = SSMForecaster(**params).fit(y).predict_quantiles([0.1, 0.5, 0.9])
        scaled = SSMForecaster(**params).fit(y * factor).predict_quantiles([0.1, 0.5, 0.9])
    np.testing.assert_allclose(scaled.to_numpy(), factor * base.to_numpy(), rtol=1e-3)


def test_one_extreme_outlier_neither_moves_the_scale_nor_blows_up_the_forecast():
    y = temperature().iloc[-400:]
    spiky = y.copy()
    spiky.iloc[200] = 1e9  # a sensor glitch in the middle of the data
    params = dict(horizon=6, random_state=0, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = SSMForecaster(**params).fit(y)
    with pytest.warns(UserWarning, match=r"1 values farther than clip_outliers=20"):
        f = SSMForecaster(**params).fit(spiky)
    np.testing.assert_allclose(f.scaler_.std, clean.scaler_.std, rtol=0.05)
    forecast = f.predict_quantiles([0.1, 0.5, 0.9]).to_numpy()
    assert np.isfinite(forecast).all()
    low, high = y.min() - 10, y.max() + 10
    assert ((forecast > low) & (forecast < high)).all(), forecast
    # a glitch in an update is read clipped too: the forecast stays in range
    glitch = pd.Series([1e9], index=[y.index[-1] + pd.Timedelta(hours=1)])
    after = f.update(glitch).predict().to_numpy()
    assert np.isfinite(after).all() and (np.abs(after) < 1e4).all()
    # clip_outliers=None reads every value as it is (the old behaviour)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = SSMForecaster(clip_outliers=None, **params).fit(spiky)
    assert raw.scaler_.std.item() > 1e6
    with pytest.raises(ValueError, match="clip_outliers"):
        SSMForecaster(clip_outliers=-1.0).fit(y)


def test_a_model_seeded_by_a_random_state_object_saves_the_seed_it_used(tmp_path):
    from sklearn.base import clone

    y = temperature().iloc[-300:]
    params = dict(horizon=4, random_state=np.random.RandomState(5), **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = SSMForecaster(**params).fit(y)
        f.save(tmp_path / "m.ssmcast")
        g = SSMForecaster.load(tmp_path / "m.ssmcast")
        seed = g.get_params()["random_state"]
        assert isinstance(seed, int)
        refit = clone(g).fit(y)  # the saved seed rebuilds the same model
    pd.testing.assert_series_equal(refit.predict(), f.predict())


def test_a_model_saved_in_format_2_loads_with_fixed_calibration():
    # Written before the online calibration (format 2): it loads with calibration_rate=0, so
    # it forecasts, and follows updates, exactly as it did.
    expected = json.loads((DATA / "s5-format2.json").read_text())
    g = SSMForecaster.load(DATA / "s5-format2.ssmcast")
    assert str(g.cutoff_) == expected["cutoff"]
    assert g.get_params()["calibration_rate"] == 0.0 and g.fitted_.state.tracker is None
    np.testing.assert_allclose(g.predict(horizon=9).to_numpy(), expected["predict"], rtol=1e-6)
    np.testing.assert_allclose(g.predict_quantiles([0.1, 0.9]), expected["q"], rtol=1e-6)
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 23:00"]
    after = g.update(december).predict_quantiles([0.1, 0.9])
    np.testing.assert_allclose(after, expected["q_after_update"], rtol=1e-5, atol=1e-5)


def test_a_model_saved_in_format_3_loads_reading_absolute_levels():
    # Written before the level input (format 3, with online calibration): it loads with
    # level_input="absolute", the network it was trained as, and forecasts and follows
    # updates exactly as it did.
    expected = json.loads((DATA / "s5-format3.json").read_text())
    g = SSMForecaster.load(DATA / "s5-format3.ssmcast")
    assert str(g.cutoff_) == expected["cutoff"]
    assert g.get_params()["level_input"] == "absolute"
    assert g.fitted_.state.level_input == "absolute" and g.fitted_.state.tracker is not None
    np.testing.assert_allclose(g.predict(horizon=9).to_numpy(), expected["predict"], rtol=1e-6)
    np.testing.assert_allclose(g.predict_quantiles([0.1, 0.9]), expected["q"], rtol=1e-6)
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 23:00"]
    after = g.update(december).predict_quantiles([0.1, 0.9])
    np.testing.assert_allclose(after, expected["q_after_update"], rtol=1e-5, atol=1e-5)


def test_a_model_saved_in_format_4_loads_without_a_running_level_in_its_base():
    # Written before the running level joined the seasonal base (format 4): it loads with the
    # base it was trained with, and forecasts and follows updates exactly as it did.
    expected = json.loads((DATA / "s5-format4.json").read_text())
    g = SSMForecaster.load(DATA / "s5-format4.ssmcast")
    assert str(g.cutoff_) == expected["cutoff"]
    assert not g.fitted_.state.base_level
    np.testing.assert_allclose(g.predict(horizon=9).to_numpy(), expected["predict"], rtol=1e-6)
    np.testing.assert_allclose(g.predict_quantiles([0.1, 0.9]), expected["q"], rtol=1e-6)
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 23:00"]
    after = g.update(december).predict_quantiles([0.1, 0.9])
    np.testing.assert_allclose(after, expected["q_after_update"], rtol=1e-5, atol=1e-5)


def test_a_model_saved_in_format_5_loads_without_the_last_change_in_its_base():
    # Written before the last change joined the seasonal base (format 5, with the running
    # level): it loads with the base it was trained with, and forecasts and follows updates
    # exactly as it did.
    expected = json.loads((DATA / "s5-format5.json").read_text())
    g = SSMForecaster.load(DATA / "s5-format5.ssmcast")
    assert str(g.cutoff_) == expected["cutoff"]
    assert g.fitted_.state.base_level and not g.fitted_.state.base_change
    np.testing.assert_allclose(g.predict(horizon=9).to_numpy(), expected["predict"], rtol=1e-6)
    np.testing.assert_allclose(g.predict_quantiles([0.1, 0.9]), expected["q"], rtol=1e-6)
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 23:00"]
    after = g.update(december).predict_quantiles([0.1, 0.9])
    np.testing.assert_allclose(after, expected["q_after_update"], rtol=1e-5, atol=1e-5)


def test_a_new_model_starts_from_the_least_squares_base_and_falls_back_to_it(monkeypatch):
    import ssmcast.forecaster as module
    from ssmcast import training

    starts, fits = [], []

    def spy_mix(*args, **kwargs):
        starts.append((args, kwargs, module_mix(*args, **kwargs)))
        return starts[-1][-1]

    def spy_fit(models, *args, fallback=None, **kwargs):
        fits.append(([nnx.clone(m) for m in models], fallback))
        return module_fit(models, *args, fallback=fallback, **kwargs)

    module_mix, module_fit = module.least_squares_mix, training.fit_ensemble
    monkeypatch.setattr(module, "least_squares_mix", spy_mix)
    monkeypatch.setattr(training, "fit_ensemble", spy_fit)
    y = temperature()
    f = SSMForecaster("s5", 6, random_state=0, **{**TINY, "ensemble_size": 2}).fit(y)
    ((args, kwargs, (mix, spread)),) = starts
    assert args[0] == (24, 168) and kwargs["level_period"] == 24  # the shortest season
    np.testing.assert_array_equal(kwargs["dt"], np.ones(len(y)))
    assert kwargs["last_change"] is True
    # two seasons, the mean level, the running level and the last change
    assert mix.shape == (6, 5, 1)
    assert f.fitted_.state.base_level and f.fitted_.state.base_change
    ((members, fallback),) = fits
    assert len(fallback) == len(members) == 2
    x = jnp.asarray(np.random.default_rng(0).normal(size=(400, members[0].input_dim)), jnp.float32)
    for member, back in zip(members, fallback, strict=True):
        np.testing.assert_array_equal(member.base.mix[...], mix)  # training starts at the mix
        np.testing.assert_array_equal(back.base.mix[...], mix)
        a, b = member(x), back(x)
        np.testing.assert_allclose(a.loc, b.loc, rtol=1e-6)  # both forecast the base...
        np.testing.assert_allclose(b.scale[-1], spread, rtol=1e-4)  # ...with its own spread
        assert not np.allclose(a.scale[-1], spread, rtol=1e-2)  # not where training starts


@pytest.mark.parametrize("level_input", ["local", "both"])
def test_a_level_input_survives_save_and_load(tmp_path, level_input):
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-01 23:00"]
    f = SSMForecaster("s5", 6, random_state=0, level_input=level_input, **TINY).fit(temperature())
    f.save(tmp_path / "level.ssmcast")
    g = SSMForecaster.load(tmp_path / "level.ssmcast")
    assert g.fitted_.state.level_input == level_input
    pd.testing.assert_frame_equal(g.predict_quantiles([0.1, 0.9]), f.predict_quantiles([0.1, 0.9]))
    pd.testing.assert_series_equal(g.update(december).predict(), f.update(december).predict())


def test_the_online_calibration_survives_save_and_load(tmp_path):
    december = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-02 23:00"]
    f = SSMForecaster("s5", 6, random_state=0, **TINY).fit(temperature())
    f.update(december.iloc[:30])
    f.save(tmp_path / "tracked.ssmcast")
    g = SSMForecaster.load(tmp_path / "tracked.ssmcast")
    pd.testing.assert_frame_equal(g.predict_quantiles([0.1, 0.9]), f.predict_quantiles([0.1, 0.9]))
    rest = december.iloc[30:]
    pd.testing.assert_frame_equal(
        g.update(rest).predict_quantiles([0.1, 0.9]), f.update(rest).predict_quantiles([0.1, 0.9])
    )
