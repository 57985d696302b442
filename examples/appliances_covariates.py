"""Forecast a house's appliance energy use from its sensors: covariates ``X``.

What it shows:

* the shipped ``appliances_energy`` dataset: the energy used by a house's appliances every
  10 minutes (Wh), with indoor temperature and humidity sensors and outdoor weather;
* ``SSMForecaster.fit(y, X=...)``: the lights' energy, the kitchen's temperature and
  humidity and the outdoor weather as covariates, inputs alongside the target and the
  calendar (time of day, day of week);
* a backtest with covariates (``backtest(f, y, X, ...)``: the loop of ``update(y_new,
  X_new)`` and ``predict``) against the same model without them and against persistence;
* in the output folder: ``error_by_lead.png``, ``origins.png``, ``metrics.csv``.

Within its ``horizon`` the model reads the covariates up to the forecast origin only, so no
future covariates are needed; a forecast beyond ``horizon`` rolls out and needs ``X`` on
the future timestamps (for weather: a weather forecast).

Run:
    python examples/appliances_covariates.py --out results/appliances

Environment:
    SSMCAST_EXAMPLE_EPOCHS  training epochs (default 20; early stopping may stop sooner)
    SSMCAST_EXAMPLE_FAST=1  a tiny model on five days of data (seconds; for the tests)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib
import pandas as pd

from ssmcast import SSMForecaster, backtest, datasets
from ssmcast.plot import plot_error_by_lead, plot_origins

EPOCHS = int(os.environ.get("SSMCAST_EXAMPLE_EPOCHS", "20"))
FAST = os.environ.get("SSMCAST_EXAMPLE_FAST", "") == "1"

TARGET = "Appliances"  # Wh in each 10 minutes
COVARIATES = ["lights", "T1", "RH_1", "T_out", "RH_out", "Windspeed"]


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

    out = args.out or Path(tempfile.mkdtemp(prefix="ssmcast-appliances-"))
    out.mkdir(parents=True, exist_ok=True)

    house = datasets.load("appliances_energy")  # every 10 minutes, January to May 2016
    if FAST:
        house, horizon, start = house.loc["2016-03-01":"2016-03-05"], 6, -144
    else:
        horizon, start = 12, 0.8  # two hours ahead; the last 20 % of the record
    y, X = house[TARGET], house[COVARIATES]
    print(f"{TARGET}: {len(y)} steps of {y.index.freqstr}; covariates {COVARIATES}")

    settings = dict(horizon=horizon, start=start, stride=horizon, levels=[0.1, 0.5, 0.9])
    with_x = backtest(make_forecaster(horizon), y, X, progress=not FAST, **settings)
    without_x = backtest(make_forecaster(horizon), y, progress=not FAST, **settings)
    naive = with_x.reference("naive")
    print(f"with X: {with_x.method} path; without X: {without_x.method} path")

    rows = {"with covariates": with_x, "without covariates": without_x, "persistence": naive}
    table = pd.DataFrame({name: res.metrics.overall for name, res in rows.items()}).T
    table["MAE skill vs persistence"] = [
        with_x.skill(naive).overall["MAE"],
        without_x.skill(naive).overall["MAE"],
        0.0,
    ]
    table.to_csv(out / "metrics.csv")
    print(table[["MAE", "RMSE", "CRPS", "coverage", "MAE skill vs persistence"]].round(3))

    ax = plot_error_by_lead(rows, metric="MAE")
    ax.set_title(f"{TARGET} energy (Wh per 10 min): MAE by lead time")
    ax.figure.savefig(out / "error_by_lead.png", dpi=110, bbox_inches="tight")

    ax = plot_origins(with_x, origins=[-3, -2, -1])
    ax.set_title(f"{TARGET}: forecasts with covariates from the last three origins")
    ax.figure.autofmt_xdate()
    ax.figure.savefig(out / "origins.png", dpi=110, bbox_inches="tight")

    print(f"\nwrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
    if args.show:
        plt.show()


if __name__ == "__main__":
    main()
