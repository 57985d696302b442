"""The accuracy benchmark's harness runs (smoke mode) and scores what the protocol says.

The smoke mode runs every ssmcast model (tiny) and every baseline on one small task; the
peers are not installed in the test environment. The checks compare the harness with
independent computations: the origins with ``backtest``'s cutoffs, and the scores of the
naive forecast with a plain NumPy loop over the origins.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import accuracy

from ssmcast import backtest
from ssmcast.baselines import Naive

TASK = next(t for t in accuracy.TASKS if t.name == "seattle_weather/temp_max")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("accuracy") / "accuracy.csv"
    assert accuracy.main(["--smoke", "--out", str(out)]) == 0
    return out


def test_smoke_runs_every_local_contestant(smoke):
    frame = pd.read_csv(smoke)
    local = [c.name for c in accuracy.contestants().values() if c.family != "statsforecast"]
    local = [name for name in local if name not in ("NHITS", "PatchTST")]
    assert sorted(frame["contestant"]) == sorted(local)
    assert frame["error"].isna().all(), frame["error"].dropna().tolist()
    assert (frame["task"] == TASK.name).all()
    scores = frame[["MASE", "MAE", "RMSE", "CRPS", "coverage"]].to_numpy(float)
    assert np.isfinite(scores).all()
    assert (frame["count"] == frame["count"].iloc[0]).all()  # the same points for everyone


def test_smoke_resumes_without_rerunning(smoke):
    before = pd.read_csv(smoke)
    assert accuracy.main(["--smoke", "--out", str(smoke)]) == 0
    assert len(pd.read_csv(smoke)) == len(before)


def test_naive_scores_match_a_numpy_loop(smoke):
    y = TASK.load()
    values = y.to_numpy(float)
    h = TASK.horizon
    train = values[: int(0.8 * len(values))]
    scale = np.mean(np.abs(train[7:] - train[:-7]))  # daily data: weekly season
    errors, squares = [], []
    for cutoff in range(int(0.8 * len(values)) - 1, len(values) - 1, h):
        for lead in range(1, h + 1):
            if cutoff + lead < len(values):
                errors.append(abs(values[cutoff + lead] - values[cutoff]))
                squares.append((values[cutoff + lead] - values[cutoff]) ** 2)
    row = pd.read_csv(smoke).set_index("contestant").loc["Naive"]
    assert row["count"] == len(errors)
    np.testing.assert_allclose(row["MAE"], np.mean(errors), rtol=1e-9)
    np.testing.assert_allclose(row["RMSE"], np.sqrt(np.mean(squares)), rtol=1e-9)
    np.testing.assert_allclose(row["MASE"], np.mean(errors) / scale, rtol=1e-9)


def test_origins_are_the_backtest_cutoffs():
    y = TASK.load()
    result = backtest(Naive(horizon=TASK.horizon), y, horizon=TASK.horizon, start=0.8,
                      progress=False)  # fmt: skip
    positions = accuracy.origins(y, TASK.horizon)
    assert pd.DatetimeIndex(y.index[positions]).equals(pd.DatetimeIndex(result.cutoffs))


def test_peer_frame_is_padded_and_gap_free():
    y = accuracy.Task("nyc_weather", "EWR_temp", 24).load()
    assert y.isna().any()
    positions = accuracy.origins(y, 24)
    frame = accuracy.peer_frame(y, positions, 24)
    assert len(frame) == positions[-1] + 24 + 1 >= len(y)
    assert frame["y"].notna().all()
    observed = y.notna().to_numpy()
    np.testing.assert_array_equal(frame["y"].to_numpy()[: len(y)][observed], y.dropna())


def test_quantile_columns_of_the_peers():
    assert accuracy.PEER_LEVELS == [90, 80, 70, 60, 50, 40, 30, 20, 10]
    assert accuracy._interval_column("AutoETS", 0.05, "AutoETS") == "AutoETS-lo-90"
    assert accuracy._interval_column("AutoETS", 0.9, "AutoETS") == "AutoETS-hi-80"
    assert accuracy._interval_column("NHITS", 0.5, "NHITS-median") == "NHITS-median"


def test_report_writes_tables_and_figure(smoke, tmp_path):
    text = accuracy.report(smoke, tmp_path / "report.txt", tmp_path / "mase.png")
    assert "| ssmcast s5 |" in text and "| SeasonalNaive |" in text
    assert "ssmcast s5 beats SeasonalNaive (MASE) on" in text
    assert (tmp_path / "mase.png").stat().st_size > 10_000


def test_a_failed_run_is_retried_and_reported_until_it_succeeds(smoke, tmp_path):
    path = tmp_path / "accuracy.csv"
    frame = pd.read_csv(smoke)
    failed = frame[frame["contestant"] == "Naive"].assign(contestant="AutoETS", MASE=np.nan)
    failed["error"] = "RuntimeError: boom"
    pd.concat([frame, failed]).to_csv(path, index=False)
    assert (TASK.name, "AutoETS", 0) not in accuracy._done(path)  # tried again next time
    text = accuracy.report(path, tmp_path / "report.txt", None)
    assert "Runs that failed" in text and "AutoETS: RuntimeError: boom" in text

    retried = frame[frame["contestant"] == "Naive"].assign(contestant="AutoETS")
    pd.concat([frame, failed, retried]).to_csv(path, index=False)
    assert (TASK.name, "AutoETS", 0) in accuracy._done(path)
    assert "Runs that failed" not in accuracy.report(path, tmp_path / "report.txt", None)


@pytest.mark.parametrize("option", [["--tasks", "beijing/TMP"], ["--contestants", "s6"]])
def test_unknown_names_are_refused(option, capsys):
    with pytest.raises(SystemExit):
        accuracy.main(option)
    assert "unknown" in capsys.readouterr().err


def test_holdout_series_are_new_and_load_on_a_regular_grid():
    names = [t.name for t in accuracy.HOLDOUT]
    assert len(set(names)) == len(names)
    assert not set(names) & {t.name for t in accuracy.TASKS}
    for task in accuracy.HOLDOUT:
        y = task.load()
        assert y.index.freq is not None, task.name
        assert y.notna().sum() > 20 * task.horizon, task.name
        assert len(accuracy.origins(y, task.horizon)) >= 10, task.name


def test_holdout_runs_only_its_own_series(capsys):
    with pytest.raises(SystemExit):
        accuracy.main(["--holdout", "--tasks", TASK.name])
    assert "unknown" in capsys.readouterr().err


def test_holdout_report_shows_the_held_out_series(smoke, tmp_path):
    held = accuracy.HOLDOUT[7]  # seattle_weather/temp_min: the smoke task's dataset
    path = tmp_path / "holdout.csv"
    pd.read_csv(smoke).assign(task=held.name).to_csv(path, index=False)
    text = accuracy.report(path, tmp_path / "report.txt", None, task_set=accuracy.HOLDOUT)
    assert "python benchmarks/accuracy.py --holdout" in text
    assert f"| contestant | {held.name} |" in text
    assert "ssmcast s5 beats SeasonalNaive (MASE) on" in text and "of 1 series" in text
    assert TASK.name not in text


@pytest.mark.parametrize("freq", ["W-SAT", "MS", "h"])
def test_peer_forecasts_count_leads_in_steps_of_any_frequency(freq):
    y = pd.Series(np.arange(40.0), pd.date_range("2020-01-04", periods=40, freq=freq), name="y")
    positions = accuracy.origins(y, 3)
    rows = [(y.index[p], p + k, k) for p in positions for k in (1, 2, 3)]
    stamps = pd.date_range(y.index[0], periods=positions[-1] + 4, freq=freq)
    cutoffs, targets, leads = zip(*rows, strict=True)
    cv = pd.DataFrame({"cutoff": cutoffs, "ds": stamps[list(targets)], "M": np.array(leads, float)})
    out = accuracy._peer_forecasts(cv, "M", y, positions, "M", lambda q: "M")
    np.testing.assert_array_equal(out["lead"], out["yhat"].astype(int))
    assert set(out["lead"]) == {1, 2, 3}
    assert out["ds"].max() <= y.index[-1]
