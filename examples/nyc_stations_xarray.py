"""Three New York airports as one xarray ``station`` dimension: one global model.

What it shows:

* the shipped ``nyc_weather`` dataset as an ``xr.Dataset`` on ``(time, station)``, with
  ``station = [EWR, JFK, LGA]``; the hourly temperature (°F) is an ``xr.DataArray``;
* ``SSMForecaster.fit`` on the DataArray: every station is a series of one global model
  (shared weights, a state per station), and the gaps in the record (absent hours) are
  missing values, never imputed;
* a backtest over December 2013, scored by station (``metrics.by_series``) and with skill
  against persistence and climatology, laid out on ``init_time`` and ``lead_time`` with
  ``to_xarray``;
* a forecast that comes back as a DataArray on ``(time, station, quantile)``, with the
  stations' coordinates and units;
* in the output folder: ``stations_forecast.png`` (one panel per airport),
  ``stations_backtest.png``, ``metrics_by_station.csv``, ``forecast.csv``.

Run:
    python examples/nyc_stations_xarray.py --out results/nyc

Environment:
    SSMCAST_EXAMPLE_EPOCHS  training epochs (default 20; early stopping may stop sooner)
    SSMCAST_EXAMPLE_FAST=1  a tiny model on four weeks of data (seconds; for the tests)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib
import pandas as pd

from ssmcast import SSMForecaster, backtest, datasets
from ssmcast.data import MissingTimestampsWarning
from ssmcast.plot import plot_forecast, plot_grid

EPOCHS = int(os.environ.get("SSMCAST_EXAMPLE_EPOCHS", "20"))
FAST = os.environ.get("SSMCAST_EXAMPLE_FAST", "") == "1"


def make_forecaster(horizon: int) -> SSMForecaster:
    """The default model for real use; a tiny one in fast mode."""
    if FAST:
        return SSMForecaster(
            horizon=horizon, d_model=8, num_layers=1, ensemble_size=1, max_epochs=EPOCHS,
            random_state=0, progress=False,
        )  # fmt: skip
    return SSMForecaster(horizon=horizon, max_epochs=EPOCHS, random_state=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a new temp folder)")
    parser.add_argument("--show", action="store_true", help="also show the figures")
    args = parser.parse_args(argv)
    if not args.show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = args.out or Path(tempfile.mkdtemp(prefix="ssmcast-nyc-"))
    out.mkdir(parents=True, exist_ok=True)

    weather = datasets.load("nyc_weather", as_="xarray")  # Dataset on (time, station)
    temp = weather["temp"]  # DataArray (time, station), °F, NaN where an hour is absent
    if FAST:
        temp, horizon, start = temp.sel(time=slice("2013-06-01", "2013-06-28")), 6, "2013-06-25"
    else:
        horizon, start = 24, "2013-12-01"
    missing = int(temp.isnull().sum())
    print(f"{dict(temp.sizes)}, stations {temp['station'].values.tolist()}, {missing} NaN")

    # One global model for the three airports; a forecast from every 6 hours.
    result = backtest(
        make_forecaster(horizon), temp, horizon=horizon, start=start, stride=6,
        levels=[0.1, 0.5, 0.9], progress=not FAST,
    )  # fmt: skip
    by_station = result.metrics.by_series[["MAE", "CRPS", "coverage"]].join(
        result.skill("naive").by_series[["MAE"]].rename(columns={"MAE": "skill vs persistence"})
    )
    by_station = by_station.join(
        result.skill("climatology")
        .by_series[["MAE"]]
        .rename(columns={"MAE": "skill vs climatology"})
    )
    by_station.to_csv(out / "metrics_by_station.csv")
    print(by_station.round(2).to_string())

    verification = result.to_xarray()  # (series, init_time, lead_time), like NWP output
    error = abs(verification["yhat"] - verification["y"]).swap_dims(lead_time="lead")
    mae_by_lead = error.mean("init_time")
    print("\nMAE (°F) by station and lead time (hours):")
    print(mae_by_lead.to_pandas().iloc[:, :: max(1, horizon // 6)].round(2).to_string())

    fig = plot_grid(result, origins=[-9, -5, -1], ncols=3)  # the last two days
    fig.savefig(out / "stations_backtest.png", dpi=100, bbox_inches="tight")

    # Forecast past the end of the data: bring the backtested model up to date (no refit),
    # then forecast. The answer is a DataArray on the same stations.
    model = result.forecaster
    with warnings.catch_warnings():  # the record's absent hours were reported at fit
        warnings.simplefilter("ignore", MissingTimestampsWarning)
        model.update(temp.sel(time=temp["time"] > pd.Timestamp(model.cutoff_)))
    forecast = model.predict()
    bands = model.predict_quantiles([0.1, 0.5, 0.9])
    units = forecast.attrs.get("units")
    print(f"\nforecast {forecast.dims}, quantiles {bands.dims}, units {units}")
    forecast.to_dataframe().to_csv(out / "forecast.csv")

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.5), sharey=True)
    for ax, station in zip(axes, temp["station"].values, strict=True):
        q = bands.sel(station=station).to_pandas()  # time x quantile
        q.columns = [f"q{level}" for level in q.columns]
        plot_forecast(
            temp.sel(station=station), forecast.sel(station=station), q,
            ax=ax, history_steps=3 * 24, title=str(station),
        )  # fmt: skip
        ax.set_ylabel("temperature (°F)")
    fig.autofmt_xdate()
    fig.savefig(out / "stations_forecast.png", dpi=100, bbox_inches="tight")

    print(f"\nwrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
    if args.show:
        plt.show()


if __name__ == "__main__":
    main()
