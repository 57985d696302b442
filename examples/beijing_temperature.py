"""Forecast Beijing temperature with quantile bands, and backtest it against the references.

What it shows:

* ``SSMForecaster`` on a real hourly series (the shipped ``beijing`` dataset, °C);
* a rolling-origin backtest from June to December 2014, day-ahead forecasts from every
  midnight, scored by lead time (MAE, CRPS, 80 % interval coverage) with skill against
  persistence and climatology;
* ``update`` to bring the backtested model to the end of the data, then a 48-hour forecast
  with 50 % and 90 % bands;
* three figures and a metrics table in the output folder: ``forecast.png``,
  ``error_by_lead.png``, ``origins.png``, ``metrics_by_lead.csv``.

Run:
    python examples/beijing_temperature.py --out results/beijing

Environment:
    SSMCAST_EXAMPLE_EPOCHS  training epochs (default 20; early stopping may stop sooner)
    SSMCAST_EXAMPLE_FAST=1  a tiny model on two months of data (seconds; for the tests)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib
import pandas as pd

from ssmcast import SSMForecaster, backtest, datasets
from ssmcast.plot import plot_error_by_lead, plot_forecast, plot_origins

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

    out = args.out or Path(tempfile.mkdtemp(prefix="ssmcast-beijing-"))
    out.mkdir(parents=True, exist_ok=True)

    temp = datasets.load("beijing")["TEMP"]  # hourly, 2010-01-01 to 2014-12-31
    if FAST:
        temp, horizon, start = temp.loc["2014-10-01":"2014-11-30"], 6, "2014-11-24"
    else:
        horizon, start = 24, "2014-06-01"

    # Fit on everything before `start`, then forecast from every midnight after it. With
    # refit=False an SSM forecasts from all origins in one parallel pass.
    result = backtest(
        make_forecaster(horizon), temp, horizon=horizon, start=start, stride=24,
        levels=[0.05, 0.1, 0.5, 0.9, 0.95], progress=not FAST,
    )  # fmt: skip
    print(result)

    # Scores by lead time, with the references run on the same origins.
    naive, climatology = result.reference("naive"), result.reference("climatology")
    table = pd.DataFrame(
        {
            "MAE": result.metrics.by_lead["MAE"],
            "MAE persistence": naive.metrics.by_lead["MAE"],
            "MAE climatology": climatology.metrics.by_lead["MAE"],
            "skill vs persistence": result.skill("naive").by_lead["MAE"],
            "skill vs climatology": result.skill("climatology").by_lead["MAE"],
            "CRPS": result.metrics.by_lead["CRPS"],
            "90% coverage": result.metrics.by_lead["coverage"],
        }
    )
    table.to_csv(out / "metrics_by_lead.csv")
    print(table.iloc[:: max(1, horizon // 6)].round(2).to_string())
    for reference in ("naive", "climatology"):
        skill = result.skill(reference).overall["MAE"]
        print(f"overall MAE skill against {reference}: {skill:.3f}")

    ax = plot_error_by_lead(
        {"ssmcast s5": result, "persistence": naive, "climatology": climatology}, metric="MAE"
    )
    ax.set_title("Beijing temperature: MAE by lead time (°C)")
    ax.figure.savefig(out / "error_by_lead.png", dpi=110, bbox_inches="tight")

    ax = plot_origins(result, origins=[-3, -2, -1])  # the last three days, with 90 % bands
    ax.figure.autofmt_xdate()
    ax.figure.savefig(out / "origins.png", dpi=110, bbox_inches="tight")

    # The backtest's model stops at the last origin: bring it to the end of the data with
    # `update` (no refit), then forecast two horizons ahead (the second rolls out).
    model = result.forecaster
    model.update(temp[temp.index > model.cutoff_])
    forecast = model.predict(horizon=2 * horizon)
    bands = model.predict_quantiles([0.05, 0.25, 0.75, 0.95], horizon=2 * horizon)
    ax = plot_forecast(temp, forecast, bands, history_steps=7 * 24, title="Beijing temperature")
    ax.set_ylabel("temperature (°C)")
    ax.figure.autofmt_xdate()
    ax.figure.savefig(out / "forecast.png", dpi=110, bbox_inches="tight")
    print(f"\nforecast from {model.cutoff_}:\n{forecast.head(3).round(1).to_string()}")

    print(f"\nwrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
    if args.show:
        plt.show()


if __name__ == "__main__":
    main()
