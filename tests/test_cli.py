"""The command line through click's runner, on small real files."""

from types import SimpleNamespace

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ssmcast import SSMForecaster, __version__, datasets, registry
from ssmcast.backtesting import REFERENCES
from ssmcast.cli import cli
from ssmcast.cli._models import _model_targets
from ssmcast.cli._options import make_forecaster


@pytest.fixture(scope="module")
def beijing_csv(tmp_path_factory):
    """Two months of real hourly Beijing weather as a CSV with a 'date' column and a label."""
    frame = datasets.load("beijing", categorical="drop").loc["2014-03-01":"2014-04-30"]
    frame = frame[["TEMP", "DEWP", "PRES"]].rename_axis("date").reset_index()
    frame["station"] = "airport"
    path = tmp_path_factory.mktemp("data") / "beijing.csv.gz"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def nyc_long_csv(tmp_path_factory):
    """A long file: three airports, one row per station and hour (real data, two weeks)."""
    ds = datasets.load("nyc_weather", as_="xarray").sel(time=slice("2013-05-01", "2013-05-14"))
    frame = ds[["temp"]].to_dataframe().reset_index()
    path = tmp_path_factory.mktemp("data") / "nyc.csv"
    frame.to_csv(path, index=False)
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def backtest(*args):
    return run("backtest", *args)


def test_version_and_help():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output
    for command in ([], ["backtest"], ["datasets"], ["datasets", "show"]):
        result = run(*command, "--help")
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_backtest_baseline_on_a_csv_writes_files(beijing_csv, tmp_path):
    out = tmp_path / "res"
    result = backtest(
        beijing_csv, "--target", "TEMP", "--model", "seasonal_naive", "--horizon", 24,
        "--start", "2014-04-15", "--quiet", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    forecasts = pd.read_csv(out / "forecasts.csv", parse_dates=["cutoff", "ds"])
    assert {"series", "cutoff", "ds", "lead", "y", "yhat", "q0.1", "q0.9"} <= set(forecasts)
    assert forecasts["cutoff"].min() == pd.Timestamp("2014-04-14 23:00")
    assert forecasts["lead"].between(1, 24).all()
    # The seasonal naive forecast is the value 24 hours before the target time.
    truth = pd.read_csv(beijing_csv, parse_dates=["date"]).set_index("date")["TEMP"]
    expected = truth.reindex(forecasts["ds"] - pd.Timedelta(hours=24)).to_numpy()
    lagged = forecasts["lead"] <= 24
    assert (forecasts.loc[lagged, "yhat"].to_numpy() == expected[lagged.to_numpy()]).all()
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["model"]) == {"seasonal_naive", "naive", "climatology"}
    assert "skill_MAE_vs_naive" in metrics
    assert (out / "backtest.png").stat().st_size > 1000
    # The summary table goes to stdout.
    assert "MAE" in result.stdout and "seasonal_naive" in result.stdout


def test_backtest_long_file_with_id_column(nyc_long_csv, tmp_path):
    result = backtest(
        nyc_long_csv, "--target", "temp", "--id-col", "station", "--model", "naive",
        "--horizon", 6, "--start", 0.8, "--compare", "", "--quantiles", "", "--quiet",
        "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    forecasts = pd.read_csv(tmp_path / "forecasts.csv")
    assert set(forecasts["series"]) == {"EWR", "JFK", "LGA"}


def test_backtest_builtin_dataset(tmp_path):
    result = backtest(
        "--dataset", "seattle_weather", "--target", "temp_max", "--model", "climatology",
        "--horizon", 7, "--quiet", "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "metrics.csv").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["missing.csv", "--target", "TEMP"], 1, "No such file"),
        (["--dataset", "bejing", "--target", "TEMP"], 1, "Did you mean 'beijing'"),
        (["{csv}", "--target", "TMEP"], 1, "Did you mean 'TEMP'"),
        (["{csv}", "--target", "station"], 1, "not numeric"),
        (["{csv}", "--target", "TEMP", "--time-col", "when"], 1, "--time-col 'when'"),
        (["{csv}", "--target", "TEMP", "--horizon", "0"], 2, "horizon"),
        (["{csv}", "--dataset", "beijing", "--target", "TEMP"], 2, "exactly one"),
        (["{csv}", "--target", "TEMP", "--start", "soon"], 2, "--start"),
        (["{csv}", "--target", "TEMP", "--model", "arima"], 2, "arima"),
        (["{csv}", "--target", "TEMP", "--compare", "ets"], 2, "ets"),
        (["{csv}", "--target", "TEMP", "--start", "0.999"], 1, "longer than the 2 steps"),
        (["{csv}", "--target", "TEMP", "--start", "1900-01-01"], 1, "outside the data"),
        (["{txt}", "--target", "TEMP"], 1, "Unknown file type"),
    ],
)
def test_bad_input_gets_a_short_error(beijing_csv, tmp_path, args, code, message):
    text_file = tmp_path / "notes.md"
    text_file.write_text("not data")
    args = [a.format(csv=beijing_csv, txt=text_file) for a in args]
    if "--horizon" not in args:
        args += ["--horizon", "24"]
    if "--model" not in args:
        args += ["--model", "naive"]
    result = backtest(*args, "--quiet", "--out", tmp_path / "o")
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_fit_then_predict_with_update(beijing_csv, tmp_path):
    frame = pd.read_csv(beijing_csv, parse_dates=["date"])
    history, new = frame.iloc[:-30], frame.iloc[-30:-20]
    history.to_csv(tmp_path / "history.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    model = tmp_path / "temp.ssmcast"
    result = run(
        "fit", tmp_path / "history.csv", "--target", "TEMP", "--horizon", 6, "--max-epochs", 1,
        "--ensemble-size", 1, "--quiet", "--out", model,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert SSMForecaster.load(model).ensemble_size == 1
    out = tmp_path / "forecast.csv"
    result = run(
        "predict", model, "--update", tmp_path / "new.csv", "--quantiles", "0.1,0.5,0.9",
        "--horizon", 12, "--save-model", tmp_path / "next.ssmcast", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    forecast = pd.read_csv(out, parse_dates=["time"])
    assert list(forecast.columns) == ["time", "q0.1", "q0.5", "q0.9"]
    assert forecast["time"].iloc[0] == new["date"].iloc[-1] + pd.Timedelta(hours=1)
    assert len(forecast) == 12
    assert (forecast["q0.1"] <= forecast["q0.9"]).all()
    # The saved, updated model continues from the new cutoff.
    result = run("predict", tmp_path / "next.ssmcast", "--out", tmp_path / "next.csv")
    assert result.exit_code == 0, result.output
    assert (
        pd.read_csv(tmp_path / "next.csv", parse_dates=["time"])["time"].iloc[0]
        == forecast["time"].iloc[0]
    )
    # Updating again with the same rows overlaps the model's data: a short error.
    result = run(
        "predict", tmp_path / "next.ssmcast", "--update", tmp_path / "new.csv", "--out", out
    )
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_predict_refuses_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "model.ssmcast"
    bad.write_text("not a model")
    result = run("predict", bad, "--out", tmp_path / "f.csv")
    assert result.exit_code == 1
    assert "not an ssmcast model file" in result.output and "Traceback" not in result.output


def test_backtest_ssm_model_one_pass(beijing_csv, tmp_path):
    result = backtest(
        beijing_csv, "--target", "TEMP", "--model", "s5", "--horizon", 12, "--max-epochs", 1,
        "--ensemble-size", 2, "--start", "2014-04-20", "--compare", "naive", "--quiet",
        "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert set(metrics["model"]) == {"s5", "naive"}
    assert metrics["MAE"].notna().all()


@pytest.mark.parametrize("suffix", [".parquet", ".nc"])
def test_backtest_reads_parquet_and_netcdf(beijing_csv, tmp_path, suffix):
    frame = pd.read_csv(beijing_csv, parse_dates=["date"]).drop(columns="station")
    path = tmp_path / f"beijing{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.set_index("date").to_xarray().to_netcdf(path, engine="h5netcdf")
    result = backtest(
        path, "--target", "TEMP", "--target", "DEWP", "--model", "naive", "--horizon", 6,
        "--compare", "", "--quiet", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    forecasts = pd.read_csv(tmp_path / "out" / "forecasts.csv")
    assert set(forecasts["series"]) == {"TEMP", "DEWP"}


def _choices(command, option):
    [param] = [p for p in cli.commands[command].params if p.name == option]
    return tuple(param.type.choices)


def test_model_names_come_from_the_registry():
    assert _choices("backtest", "model") == registry.names()
    assert _choices("fit", "model") == registry.names(capability="save")


def test_compare_accepts_the_references_of_a_backtest(tmp_path):
    result = backtest(
        tmp_path / "x.csv", "--target", "T", "--horizon", 1, "--compare", "naive,drift",
        "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"choose from {', '.join(REFERENCES)}." in result.output


def test_make_forecaster_passes_run_settings_to_models_only():
    baseline = make_forecaster("naive", horizon=3, max_epochs=5, seed=1, quiet=True)
    assert baseline.get_params()["horizon"] == 3
    assert "random_state" not in baseline.get_params()
    params = make_forecaster("mamba", horizon=3, max_epochs=5, seed=1, quiet=True).get_params()
    assert (params["model"], params["horizon"], params["max_epochs"]) == ("mamba", 3, 5)
    assert (params["random_state"], params["progress"]) == (1, False)
    default = make_forecaster("s5", horizon=3, max_epochs=None, seed=0, quiet=False)
    assert default.get_params()["max_epochs"] == registry.make("s5").get_params()["max_epochs"]


@pytest.mark.parametrize(
    ("columns", "targets", "id_col", "expected"),
    [
        (["TEMP", "DEWP"], (), None, ["TEMP", "DEWP"]),
        (["TEMP"], ("PRES",), None, ["PRES"]),
        (["TEMP"], (), "station", None),
        (None, (), None, None),
    ],
)
def test_predict_update_targets_from_the_model(columns, targets, id_col, expected):
    model = SimpleNamespace(layout_=SimpleNamespace(column_names=lambda: columns))
    if expected is None:
        with pytest.raises(click.UsageError, match="--target"):
            _model_targets(model, targets, id_col)
    else:
        assert _model_targets(model, targets, id_col) == expected


def _dated_csv(path, stamps):
    values = np.arange(len(stamps), dtype=float)
    pd.DataFrame({"date": stamps, "T": values}).to_csv(path, index=False)
    return path


def test_dates_whose_day_and_month_cannot_be_told_apart_need_an_answer(tmp_path):
    # hourly data on the 1st to the 3rd of a month: every field is 12 or less
    time = pd.date_range("2024-03-01", periods=60, freq="h")
    path = _dated_csv(tmp_path / "x.csv", time.strftime("%d/%m/%Y %H:%M"))
    args = [path, "--target", "T", "--model", "naive", "--horizon", 2, "--compare", ""]
    result = run("backtest", *args, "--out", tmp_path / "a")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot be told apart" in result.output and "--dayfirst" in result.output
    result = run("backtest", *args, "--dayfirst", "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    forecasts = pd.read_csv(tmp_path / "b" / "forecasts.csv", parse_dates=["ds"])
    assert forecasts["ds"].min() > pd.Timestamp("2024-03-01")  # March, not January
    assert forecasts["ds"].max() <= pd.Timestamp("2024-03-03 12:00")
    result = run("backtest", *args, "--date-format", "%d/%m/%Y %H:%M", "--out", tmp_path / "c")
    assert result.exit_code == 0, result.output
    # the data tells when a day is above 12, and a contrary flag is refused
    later = _dated_csv(
        tmp_path / "y.csv", (time + pd.Timedelta(days=12)).strftime("%d/%m/%Y %H:%M")
    )
    args[0] = later
    assert run("backtest", *args, "--out", tmp_path / "d").exit_code == 0
    result = run("backtest", *args, "--monthfirst", "--out", tmp_path / "e")
    assert result.exit_code == 1 and "day-first dates" in result.output


def test_an_out_path_that_cannot_be_written_fails_before_any_work(tmp_path, monkeypatch):
    from ssmcast.forecaster import SSMForecaster

    def no_training(*args, **kwargs):
        raise AssertionError("fit ran before --out was checked")

    monkeypatch.setattr(SSMForecaster, "fit", no_training)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run(
        "fit", "--dataset", "seattle_weather", "--target", "temp_max", "--horizon", 7,
        "--out", blocker / "sub" / "m.ssmcast",
    )  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Cannot write to --out" in result.output


def test_an_out_folder_that_does_not_exist_is_created(tmp_path):
    out = tmp_path / "new" / "nested"
    result = run(
        "backtest", "--dataset", "seattle_weather", "--target", "temp_max", "--model", "naive",
        "--horizon", 7, "--compare", "", "--quiet", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "forecasts.csv").exists()


def test_utc_offsets_that_change_at_a_daylight_saving_switch_are_read_as_instants(tmp_path):
    local = pd.date_range("2024-03-30 20:00", periods=30, freq="h", tz="Europe/Berlin")
    path = tmp_path / "dst.csv"
    pd.DataFrame({"time": [t.isoformat() for t in local], "T": np.arange(30.0)}).to_csv(
        path, index=False
    )  # offsets +01:00, then +02:00
    result = run(
        "backtest", path, "--target", "T", "--model", "naive", "--horizon", 1,
        "--compare", "", "--quiet", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    forecasts = pd.read_csv(tmp_path / "out" / "forecasts.csv", parse_dates=["ds"])
    # read in UTC: a regular hourly grid, no gap or repeat at the switch
    assert (forecasts["yhat"].to_numpy() == forecasts["y"].to_numpy() - 1).all()


def test_times_that_pandas_cannot_put_in_one_zone_get_a_message(tmp_path):
    # a time with an offset glued to a separator is not seen as one, and pandas 3.0 refuses
    # the column ("Mixed timezones detected") instead of reading it: a message, not a crash
    path = tmp_path / "data.csv"
    path.write_bytes(b"time\n2024-03-01T00:00:00+01:00;\n2024-03-01 01:00:00;0.0\n")
    result = run(
        "backtest", path, "--target", "T", "--model", "naive", "--horizon", 1,
        "--compare", "", "--quiet", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"time,T\n", "has no rows of data (only a header: time, T)"),
        (b"", "is empty: it has no header and no rows"),
        (bytes(range(256)) * 4, "is not a text CSV file"),
    ],
)
def test_files_without_usable_rows_get_a_message_that_says_why(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    result = run(
        "backtest", path, "--target", "T", "--model", "naive", "--horizon", 1, "--quiet",
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 1 and message in result.output


def test_a_semicolon_separated_file_is_read(tmp_path):
    time = pd.date_range("2024-01-01", periods=48, freq="h")
    path = tmp_path / "semi.csv"
    pd.DataFrame({"time": time.astype(str), "T": np.arange(48.0)}).to_csv(
        path, sep=";", index=False
    )
    result = run(
        "backtest", path, "--target", "T", "--model", "naive", "--horizon", 2, "--compare", "",
        "--quiet", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("option", "value"), [("--quantiles", "1.5"), ("--quantiles", "0.1,0.1"), ("--start", "1.5")]
)
def test_out_of_range_option_values_are_usage_errors(tmp_path, option, value):
    result = run(
        "backtest", "--dataset", "seattle_weather", "--target", "temp_max", "--model", "naive",
        "--horizon", 7, "--quiet", "--out", tmp_path, option, value,
    )  # fmt: skip
    assert result.exit_code == 2 and f"Invalid value for {option}" in result.output
