"""A data pipeline: read a CSV, fit, save; elsewhere load, update, predict, write a CSV.

What it shows, as two jobs that share nothing but files:

* ``train``: read observations from a CSV file, fit an ``SSMForecaster``, ``save`` it to
  ``model.ssmcast`` (a zip of JSON and msgpack: data, never a pickle);
* ``serve``: ``SSMForecaster.load`` the file into a new object, ``update`` it with the
  observations that arrived since (a second CSV), forecast with quantiles, write
  ``forecast.csv``, and save the advanced model for the next run.

In production the two jobs run in different processes or on different machines (a nightly
training job and an hourly forecasting job); here they are two functions called in turn.

Run:
    python examples/pipeline_csv.py --out results/pipeline
    python examples/pipeline_csv.py --input my.csv --target temp --new my_new.csv --out results

Without ``--input``, the example writes ``observations.csv`` and ``new_observations.csv``
from the shipped Beijing data (hourly temperature, °C) and uses those. A CSV needs a time
column (``--time-col``, default ``time``) and the target column, one row per time step.

Environment:
    SSMCAST_EXAMPLE_EPOCHS  training epochs (default 20; early stopping may stop sooner)
    SSMCAST_EXAMPLE_FAST=1  a tiny model on three weeks of data (seconds; for the tests)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd

from ssmcast import SSMForecaster, datasets

EPOCHS = int(os.environ.get("SSMCAST_EXAMPLE_EPOCHS", "20"))
FAST = os.environ.get("SSMCAST_EXAMPLE_FAST", "") == "1"
LEVELS = [0.1, 0.5, 0.9]


def make_forecaster(horizon: int) -> SSMForecaster:
    """The default model for real use; a tiny one in fast mode."""
    if FAST:
        return SSMForecaster(
            horizon=horizon, d_model=8, num_layers=1, ensemble_size=1, max_epochs=EPOCHS,
            random_state=0, progress=False,
        )  # fmt: skip
    return SSMForecaster(horizon=horizon, max_epochs=EPOCHS, random_state=0)


def read_series(path: Path, target: str, time_col: str) -> pd.Series:
    """One column of a CSV file as a Series on its time column."""
    frame = pd.read_csv(path, parse_dates=[time_col], index_col=time_col)
    return frame[target].astype(float)


def train(csv: Path, model_path: Path, *, target: str, time_col: str, horizon: int) -> None:
    """The training job: CSV in, model file out."""
    y = read_series(csv, target, time_col)
    model = make_forecaster(horizon).fit(y)
    model.save(model_path)
    print(f"train: fitted on {len(y)} rows of {csv.name} up to {model.cutoff_}")
    print(f"train: saved {model_path.name}")


def serve(
    model_path: Path, new_csv: Path | None, forecast_csv: Path, *, target: str, time_col: str
) -> pd.DataFrame:
    """The forecasting job: model file and new observations in, forecast CSV out."""
    model = SSMForecaster.load(model_path)  # a new object; refuses a corrupted file
    if new_csv is not None:
        new = read_series(new_csv, target, time_col)
        new = new[new.index > model.cutoff_]  # only what the model has not seen
        if len(new):
            model.update(new)
    point = model.predict()
    quantiles = model.predict_quantiles(LEVELS)
    forecast = pd.concat([point.rename("yhat"), quantiles], axis=1).rename_axis(time_col)
    forecast.to_csv(forecast_csv)
    model.save(model_path)  # the advanced state, for the next run
    print(f"serve: updated to {model.cutoff_}; wrote {len(forecast)} rows to {forecast_csv.name}")
    return forecast


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a new temp folder)")
    parser.add_argument("--input", type=Path, help="training CSV (default: from the shipped data)")
    parser.add_argument("--new", type=Path, help="CSV of observations after the training data")
    parser.add_argument("--target", default="TEMP", help="the column to forecast")
    parser.add_argument("--time-col", default="time", help="the time column")
    parser.add_argument("--horizon", type=int, default=6 if FAST else 24, help="steps ahead")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="ssmcast-pipeline-"))
    out.mkdir(parents=True, exist_ok=True)
    csv, new_csv = args.input, args.new
    if csv is None:
        temp = datasets.load("beijing")["TEMP"]
        start = "2014-11-10" if FAST else "2012-01-01"
        temp.loc[start:"2014-11-30"].to_csv(csv := out / "observations.csv")
        temp.loc["2014-12-01":"2014-12-01 05:00"].to_csv(new_csv := out / "new_observations.csv")
        args.target, args.time_col = "TEMP", "time"

    model_path = out / "model.ssmcast"
    options = dict(target=args.target, time_col=args.time_col)
    train(csv, model_path, horizon=args.horizon, **options)
    forecast = serve(model_path, new_csv, out / "forecast.csv", **options)
    print(forecast.round(2).head().to_string())
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")


if __name__ == "__main__":
    main()
