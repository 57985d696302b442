"""Rolling-origin backtests: against hand-written loops, pandas computations and the hook."""

from __future__ import annotations

import copy
import functools
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.base import clone

import ssmcast
from ssmcast import datasets
from ssmcast.backtesting import BacktestMetrics, BacktestResult, backtest
from ssmcast.base import Capabilities
from ssmcast.baselines import Climatology, Drift, Naive, SeasonalNaive

LEVELS = [0.9, 0.1, 0.5, 0.25, 0.75]  # unsorted on purpose
SORTED = sorted(LEVELS)
QCOLS = [f"q{level:g}" for level in SORTED]


@functools.cache
def _beijing() -> pd.DataFrame:
    return datasets.load("beijing").loc["2014-01-01":"2014-01-20", ["TEMP", "DEWP"]]


def temp() -> pd.Series:
    return _beijing()["TEMP"]  # 480 hourly steps


@functools.cache
def _nyc() -> xr.Dataset:
    return datasets.load("nyc_weather", as_="xarray")[["temp", "dewp"]].isel(time=slice(0, 400))


def run(forecaster, y, X=None, **kwargs) -> BacktestResult:
    kwargs.setdefault("progress", False)
    return backtest(forecaster, y, X, **kwargs)


def hand_loop(forecaster, y, *, horizon, start, stride, refit=0, train_size=None, levels=None):
    """The plain loop of fit / update / predict that backtest must reproduce."""
    rows, estimator, previous = [], None, None
    cutoffs = range(start - 1, len(y) - 1, stride)
    for i, cutoff in enumerate(cutoffs):
        if estimator is None or (refit and i % refit == 0):
            lo = 0 if train_size is None else cutoff + 1 - train_size
            estimator = clone(forecaster).fit(y.iloc[lo : cutoff + 1])
        else:
            estimator.update(y.iloc[previous + 1 : cutoff + 1])
        steps = min(horizon, len(y) - 1 - cutoff)
        frame = pd.DataFrame({"yhat": estimator.predict(steps)})
        if levels:
            frame = frame.join(estimator.predict_quantiles(levels, steps)[QCOLS])
        frame.insert(0, "cutoff", y.index[cutoff])
        frame.insert(1, "lead", np.arange(1, steps + 1))
        frame.insert(2, "y", y.iloc[cutoff + 1 : cutoff + 1 + steps].to_numpy())
        rows.append(frame.rename_axis("ds").reset_index())
        previous = cutoff
    return pd.concat(rows, ignore_index=True)


def check_against(result: BacktestResult, expected: pd.DataFrame) -> None:
    columns = ["cutoff", "ds", "lead", "y", "yhat", *[c for c in QCOLS if c in expected]]
    got = result.forecasts[columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected[columns], check_dtype=False, check_names=False)


# --- the loop against a hand-written loop -------------------------------------------------


@pytest.mark.parametrize("make", [Naive, SeasonalNaive, Climatology, Drift])
def test_loop_matches_hand_written_loop(make):
    y = temp()
    result = run(make(), y, horizon=6, start=400, stride=5, levels=LEVELS)
    check_against(result, hand_loop(make(), y, horizon=6, start=400, stride=5, levels=SORTED))
    assert result.method == "loop"
    assert result.forecaster.cutoff_ == result.cutoffs[-1]
    assert list(result.forecasts.columns) == ["series", "cutoff", "ds", "lead", "y", "yhat", *QCOLS]


@pytest.mark.parametrize(
    ("refit", "every"), [(True, 1), (3, 3), (False, 0)], ids=["every origin", "every 3", "never"]
)
def test_refit_schedules(refit, every):
    y = temp()
    result = run(SeasonalNaive(), y, horizon=12, start=360, stride=12, refit=refit, levels=LEVELS)
    expected = hand_loop(
        SeasonalNaive(), y, horizon=12, start=360, stride=12, refit=every, levels=SORTED
    )
    check_against(result, expected)


def test_refit_changes_quantiles_but_not_seasonal_naive_points():
    once = run(SeasonalNaive(), temp(), horizon=12, start=360, levels=[0.1, 0.9])
    every = run(SeasonalNaive(), temp(), horizon=12, start=360, refit=True, levels=[0.1, 0.9])
    pd.testing.assert_series_equal(once.forecasts["yhat"], every.forecasts["yhat"])
    assert not np.allclose(once.forecasts["q0.1"], every.forecasts["q0.1"])


def test_sliding_window_refits_on_the_last_train_size_steps():
    y = temp()
    result = run(
        Drift(), y, horizon=6, start=400, stride=6, refit=True, window="sliding", train_size=48
    )
    check_against(
        result, hand_loop(Drift(), y, horizon=6, start=400, stride=6, refit=1, train_size=48)
    )
    expanding = run(Drift(), y, horizon=6, start=400, stride=6, refit=True)
    assert not np.allclose(result.forecasts["yhat"], expanding.forecasts["yhat"])


def test_sliding_window_without_refit_fits_once_on_the_window():
    y = temp()
    result = run(Drift(), y, horizon=6, start=400, window="sliding", train_size=48)
    check_against(result, hand_loop(Drift(), y, horizon=6, start=400, stride=6, train_size=48))


# --- origins, strides and the end of the data ---------------------------------------------


def test_start_as_timestamp_fraction_and_index_agree():
    y = temp()
    position = int(0.8 * len(y))  # 384
    cutoffs = [
        run(Naive(), y, horizon=24, start=start).cutoffs
        for start in (y.index[position], str(y.index[position]), 0.8, position, position - len(y))
    ]
    for other in cutoffs[1:]:
        assert other.equals(cutoffs[0])
    assert cutoffs[0][0] == y.index[position - 1]
    off_grid = run(Naive(), y, horizon=24, start="2014-01-17 00:30").cutoffs[0]
    assert off_grid == pd.Timestamp("2014-01-17 00:00")  # first forecast at 01:00


def test_start_in_the_time_zone_of_the_data():
    y = temp().tz_localize("Asia/Shanghai")
    result = run(Naive(), y, horizon=24, start="2014-01-17")
    assert result.cutoffs[0] == pd.Timestamp("2014-01-16 23:00", tz="Asia/Shanghai")


def test_missing_timestamps_are_gaps_with_missing_truth():
    y = temp().drop(temp().index[[420, 421, 460]])
    with pytest.warns(UserWarning, match="3 missing timestamp"):
        result = run(Naive(), y, horizon=12, start=400, levels=[0.1, 0.9])
    frame = result.forecasts
    gaps = frame[frame["ds"].isin(temp().index[[420, 421, 460]])]
    assert len(gaps) == 3 and gaps["y"].isna().all() and gaps["yhat"].notna().all()
    assert result.metrics.overall["count"] == len(frame) - 3


def test_origins_and_partial_horizon_at_the_end():
    y = temp()
    result = run(Naive(), y, horizon=24, start=400, stride=10)
    frame = result.forecasts
    assert list(result.cutoffs) == list(y.index[399:479:10])
    assert frame["ds"].max() == y.index[-1]
    assert (frame["ds"] == frame["cutoff"] + frame["lead"] * pd.Timedelta("1h")).all()
    last = frame[frame["cutoff"] == result.cutoffs[-1]]
    assert last["lead"].tolist() == list(range(1, 11))  # 10 steps left after position 469
    assert frame["y"].notna().all() and len(frame) == 6 * 24 + 20 + 10


def test_forecaster_is_left_unfitted():
    forecaster = SeasonalNaive(horizon=3)
    run(forecaster, temp(), horizon=6, start=400, refit=True)
    assert not hasattr(forecaster, "cutoff_") and forecaster.get_params()["horizon"] == 3


# --- layouts and series labels --------------------------------------------------------------


def test_wide_frame_series_match_single_series_backtests():
    frame = _beijing()
    wide = run(SeasonalNaive(), frame, horizon=12, start=400, levels=[0.1, 0.9]).forecasts
    assert wide["series"].unique().tolist() == ["TEMP", "DEWP"]  # the order of the data
    for column in frame.columns:
        alone = run(SeasonalNaive(), frame[column], horizon=12, start=400, levels=[0.1, 0.9])
        part = wide[wide["series"] == column].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone.forecasts)


def test_long_frame_uses_ids():
    frame = _beijing()
    long = frame.melt(ignore_index=False, var_name="unique_id", value_name="y")
    long = long.rename_axis("ds").reset_index()[["unique_id", "ds", "y"]]
    result = run(Naive(), long, horizon=6, start=400)
    wide = run(Naive(), frame, horizon=6, start=400)
    pd.testing.assert_frame_equal(result.forecasts, wide.forecasts)


def test_xarray_series_labels_and_values():
    data = _nyc()
    array = run(SeasonalNaive(), data["temp"], horizon=12, start=300, stride=24)
    assert array.series == ["EWR", "JFK", "LGA"]
    dataset = run(SeasonalNaive(), data, horizon=12, start=300, stride=24)
    assert dataset.series[:2] == ["EWR/temp", "EWR/dewp"] and len(dataset.series) == 6
    jfk = run(SeasonalNaive(), data["temp"].sel(station="JFK"), horizon=12, start=300, stride=24)
    same = dataset.forecasts[dataset.forecasts["series"] == "JFK/temp"]
    np.testing.assert_array_equal(same["yhat"], jfk.forecasts["yhat"])
    np.testing.assert_array_equal(same["y"], jfk.forecasts["y"])


class SpyNaive(Naive):
    """Records the covariates that reach the private methods."""

    seen: ClassVar[list] = []

    def _fit(self, panel, covariates):
        type(self).seen.append(("fit", panel.time, covariates))
        return super()._fit(panel, covariates)

    def _update(self, fitted, panel, covariates):
        type(self).seen.append(("update", panel.time, covariates))
        return super()._update(fitted, panel, covariates)

    def _predict(self, fitted, horizon, covariates):
        type(self).seen.append(("predict", None, covariates))
        return super()._predict(fitted, horizon, covariates)


def test_covariates_are_sliced_and_passed():
    y, X = temp(), _beijing()[["DEWP"]]
    SpyNaive.seen.clear()
    with_x = run(SpyNaive(), y, X, horizon=6, start=400, stride=30, refit=2)
    without = run(Naive(), y, horizon=6, start=400, stride=30, refit=2)
    pd.testing.assert_frame_equal(with_x.forecasts, without.forecasts)
    kinds = [kind for kind, _, _ in SpyNaive.seen]
    assert kinds == ["fit", "predict", "update", "predict", "fit", "predict"]
    dewp = X["DEWP"].to_numpy()
    (_, fit_time, fit_x), (_, _, future_x), (_, update_time, update_x) = SpyNaive.seen[:3]
    assert fit_time.equals(y.index[:400]) and np.array_equal(fit_x[0, :, 0], dewp[:400])
    assert np.array_equal(future_x[0, :, 0], dewp[400:406])
    assert update_time.equals(y.index[400:430]) and np.array_equal(update_x[0, :, 0], dewp[400:430])
    assert SpyNaive.seen[4][1].equals(y.index[:460])  # the refit at the third origin
    with pytest.raises(ValueError, match="same timestamps"):
        run(Naive(), y, X.iloc[:-5], horizon=6, start=400)


# --- metrics, skill, xarray -----------------------------------------------------------------


def test_metrics_equal_a_direct_pandas_computation():
    y = temp().copy()
    y.iloc[[410, 411, 450]] = np.nan  # missing truth is not scored
    result = run(Naive(), y, horizon=12, start=400, stride=7, levels=LEVELS)
    frame = result.forecasts
    error = frame["yhat"] - frame["y"]
    scale = np.nanmean(np.abs(y.iloc[24:400].to_numpy() - y.iloc[:376].to_numpy()))
    pinball = sum(
        np.maximum(q * (frame["y"] - frame[c]), (q - 1) * (frame["y"] - frame[c]))
        for q, c in zip(SORTED, QCOLS, strict=True)
    )
    direct = pd.DataFrame(
        {
            "count": frame["y"].notna(),
            "MAE": error.abs(),
            "RMSE": error**2,
            "MASE": error.abs() / scale,
            "CRPS": 2 * pinball / len(SORTED),
            "coverage": ((frame["q0.1"] <= frame["y"]) & (frame["y"] <= frame["q0.9"])).where(
                frame["y"].notna()
            ),
            "width": (frame["q0.9"] - frame["q0.1"]).where(frame["y"].notna()),
            "lead": frame["lead"],
        }
    )
    by_lead = direct.groupby("lead").agg(
        {**dict.fromkeys(direct.columns[1:-1], "mean"), "count": "sum"}
    )
    by_lead["RMSE"] = np.sqrt(by_lead["RMSE"])
    metrics = result.metrics
    assert isinstance(metrics, BacktestMetrics) and metrics.interval == (0.1, 0.9)
    pd.testing.assert_frame_equal(
        metrics.by_lead, by_lead[metrics.by_lead.columns], check_dtype=False, check_index_type=False
    )
    assert metrics.overall["MAE"] == pytest.approx(error.abs().mean())
    assert metrics.overall["RMSE"] == pytest.approx(np.sqrt((error**2).mean()))
    assert metrics.overall["count"] == frame["y"].notna().sum()
    assert metrics.by_series.loc["TEMP", "MASE"] == pytest.approx(error.abs().mean() / scale)


def test_undefined_mase_scale_gives_nan_with_a_warning():
    y = temp().copy()
    y.iloc[:400] = 1.0  # constant training data: the seasonal naive scale is zero
    result = run(Naive(), y, horizon=6, start=400)
    with pytest.warns(RuntimeWarning, match="MASE is NaN"):
        metrics = result.metrics
    assert np.isnan(metrics.overall["MASE"]) and metrics.overall["MAE"] > 0


def test_seasonal_naive_skill_against_naive_on_hourly_temperature():
    y = datasets.load("beijing")["TEMP"].loc["2014-03-01":"2014-04-30"]
    result = run(SeasonalNaive(), y, horizon=24, start="2014-04-01", levels=[0.1, 0.9])
    skill = result.skill("naive")
    # at lead 24 both forecasts are the value at the cutoff: exactly no skill
    assert skill.by_lead.loc[24, "MAE"] == 0.0
    # persistence misses the daily cycle in the afternoon; repeating yesterday does not
    assert (skill.by_lead.loc[12:20, ["MAE", "RMSE"]] > 0.3).all().all()
    assert skill.by_lead.loc[1, "MAE"] < 0  # an hour ahead, persistence wins
    assert skill.overall["MAE"] > 0.3 and list(skill.overall.index) == ["MAE", "RMSE", "CRPS"]
    naive = run(Naive(), y, horizon=24, start="2014-04-01", levels=[0.1, 0.9])
    pd.testing.assert_frame_equal(result.skill(naive).by_lead, skill.by_lead)
    assert "against naive" in repr(skill)
    # the climatology of March alone is a poor forecast of April
    assert (result.skill("climatology").by_lead["MAE"] > 0.3).all()


def test_skill_refuses_other_origins_and_unknown_references():
    result = run(Naive(), temp(), horizon=6, start=400)
    other = run(Naive(), temp(), horizon=6, start=406)
    with pytest.raises(ValueError, match="same series, cutoffs and horizon"):
        result.skill(other)
    with pytest.raises(ValueError, match="'reference'"):
        result.skill("persistence")
    with pytest.raises(TypeError, match="'reference'"):
        result.skill(3)


def test_to_xarray():
    result = run(Naive(), _nyc()["temp"], horizon=12, start=350, stride=10, levels=[0.1, 0.9])
    ds = result.to_xarray()
    assert ds["yhat"].dims == ("series", "init_time", "lead_time")
    assert ds["quantiles"].dims == ("series", "init_time", "lead_time", "quantile")
    assert ds.sizes == {"series": 3, "init_time": 5, "lead_time": 12, "quantile": 2}
    assert ds["lead_time"].values[0] == np.timedelta64(1, "h")
    assert list(ds["series"].values) == ["EWR", "JFK", "LGA"]
    row = result.forecasts.iloc[13]
    point = ds.sel(series=row["series"], init_time=row["cutoff"]).isel(lead_time=row["lead"] - 1)
    assert (
        point["yhat"].item() == row["yhat"]
        and point["valid_time"].values == row["ds"].to_datetime64()
    )
    assert np.isnan(ds["y"].isel(init_time=-1, lead_time=-1)).all()  # beyond the data


# --- the one-pass hook ------------------------------------------------------------------------


class OnePassSeasonalNaive(SeasonalNaive):
    """A fake forecaster whose one-pass hook is its own loop, to test the contract."""

    capabilities = Capabilities(one_pass_backtest=True)
    calls: ClassVar[list] = []

    def _backtest_one_pass(self, panel, origins, horizon, levels):
        type(self).calls.append((panel, origins.copy(), horizon, levels, self.cutoff_))
        model = copy.deepcopy(self)  # the hook must not change the forecaster
        point, quantiles = [], []
        previous = int(origins[0])
        for origin in origins:
            if origin > previous:
                model.update(
                    panel.layout.restore(
                        panel.values[:, previous + 1 : origin + 1],
                        panel.time[previous + 1 : origin + 1],
                    )
                )
            point.append(model._predict(model.fitted_, horizon, None))
            if levels is not None:
                quantiles.append(model._predict_quantiles(model.fitted_, horizon, levels, None))
            previous = int(origin)
        return np.stack(point), (np.stack(quantiles) if levels is not None else None)


@pytest.mark.parametrize(
    ("data", "window"),
    [("series", {}), ("dataset", {}), ("series", {"window": "sliding", "train_size": 100})],
)
def test_one_pass_hook_gives_the_frames_of_the_loop(data, window):
    y = temp() if data == "series" else _nyc()
    OnePassSeasonalNaive.calls.clear()
    options = {"horizon": 12, "start": 300, "stride": 9, "levels": LEVELS, **window}
    fast = run(OnePassSeasonalNaive(), y, **options)
    assert fast.method == "one_pass" and len(OnePassSeasonalNaive.calls) == 1
    slow = run(OnePassSeasonalNaive(), y, **options, method="loop")
    assert slow.method == "loop" and len(OnePassSeasonalNaive.calls) == 1
    pd.testing.assert_frame_equal(fast.forecasts, slow.forecasts)
    assert fast.forecaster.cutoff_ == slow.forecaster.cutoff_ == fast.cutoffs[-1]
    panel, origins, horizon, levels, cutoff = OnePassSeasonalNaive.calls[0]
    first = 299 - (200 if window else 0)  # the panel starts with the fitted window
    assert origins.dtype == np.int64 and origins[0] == first and np.all(np.diff(origins) == 9)
    assert panel.time[origins[0]] == cutoff and panel.time[-1] == fast.cutoffs[-1]
    assert horizon == 12 and levels == tuple(SORTED)


def test_one_pass_is_skipped_for_refits_and_covariates():
    OnePassSeasonalNaive.calls.clear()
    assert run(OnePassSeasonalNaive(), temp(), horizon=6, start=400, refit=True).method == "loop"
    assert (
        run(OnePassSeasonalNaive(), temp(), _beijing()[["DEWP"]], horizon=6, start=400).method
        == "loop"
    )
    assert not OnePassSeasonalNaive.calls
    with pytest.raises(ValueError, match="refit is not False"):
        run(OnePassSeasonalNaive(), temp(), horizon=6, start=400, refit=True, method="one_pass")
    with pytest.raises(ValueError, match="has no _backtest_one_pass"):
        run(Naive(), temp(), horizon=6, start=400, method="one_pass")


def test_one_pass_hook_is_used_only_when_declared():
    class Undeclared(OnePassSeasonalNaive):  # has the method, declares no capability
        capabilities = Capabilities()

    OnePassSeasonalNaive.calls.clear()
    assert run(Undeclared(), temp(), horizon=6, start=400).method == "loop"
    assert not OnePassSeasonalNaive.calls
    with pytest.raises(ValueError, match="do not declare one_pass_backtest"):
        run(Undeclared(), temp(), horizon=6, start=400, method="one_pass")


def test_one_pass_output_shapes_are_checked():
    class Broken(SeasonalNaive):
        capabilities = Capabilities(one_pass_backtest=True)

        def _backtest_one_pass(self, panel, origins, horizon, levels):
            return np.zeros((len(origins), 1, horizon + 1, 1)), None

    with pytest.raises(
        ValueError, match=r"Broken._backtest_one_pass returned point forecasts of shape"
    ):
        run(Broken(), temp(), horizon=6, start=400)


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"window": "rolling"}, ValueError, "'window'"),
        ({"window": "sliding"}, ValueError, "'train_size' argument of backtest is required"),
        ({"train_size": 48}, ValueError, "'train_size'.*sliding"),
        ({"window": "sliding", "train_size": 500}, ValueError, "'train_size'.*exceeds"),
        ({"start": "2013-01-01"}, ValueError, "'start'.*outside"),
        ({"start": "2014-02-01"}, ValueError, "'start'.*outside"),
        ({"start": "2014-01-01 00:00"}, ValueError, "'start'.*outside"),
        ({"start": 0}, ValueError, "'start'.*outside"),
        ({"start": 480}, ValueError, "'start'.*outside"),
        ({"start": -480}, ValueError, "'start'.*outside"),
        ({"start": 1.5}, ValueError, "'start'.*fraction"),
        ({"start": [400]}, TypeError, "'start'"),
        ({"stride": 0}, ValueError, "'stride'"),
        ({"stride": -3}, ValueError, "'stride'"),
        ({"horizon": 0}, ValueError, "'horizon'"),
        ({"horizon": 2.5}, TypeError, "'horizon'"),
        ({"refit": 0}, ValueError, "'refit'"),
        ({"refit": "yes"}, ValueError, "'refit'"),
        ({"levels": [0.5, 1.5]}, ValueError, "'levels'"),
        ({"method": "fast"}, ValueError, "'method'"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    arguments = {"horizon": 6, "start": 400, **kwargs}
    with pytest.raises(error, match=match):
        run(Naive(), temp(), **arguments)


def test_bad_forecaster():
    with pytest.raises(TypeError, match=r"'forecaster'.*a class"):
        run(Naive, temp(), horizon=6, start=400)
    with pytest.raises(TypeError, match="'forecaster'"):
        run(object(), temp(), horizon=6, start=400)


def test_progress_bar_only_when_asked(capsys):
    backtest(Naive(), temp(), horizon=6, start=400, refit=True, progress=True)
    assert "backtest Naive" in capsys.readouterr().err
    backtest(Naive(), temp(), horizon=6, start=400, refit=True, progress=False)
    assert capsys.readouterr().err == ""


def test_backtest_is_a_function_and_the_old_module_path_still_imports():
    from ssmcast.backtest import BacktestResult as OldResult  # the 0.1 module path
    from ssmcast.backtest import backtest as old_backtest

    assert ssmcast.backtest is backtest is old_backtest and callable(ssmcast.backtest)
    assert OldResult is BacktestResult
