"""Fit once, then follow a live feed hour by hour with ``update``: rolling forecasts.

What it shows:

* ``SSMForecaster.fit`` once on the history of Beijing temperature;
* a simulated live feed: every hour, one new observation arrives, ``update`` advances the
  recurrent state in O(1) (no refit, the history is never re-read), and ``predict`` /
  ``predict_quantiles`` give the next forecast;
* the time of each ``update`` + ``predict``, and the error of the rolling forecasts by
  lead time once the truth has arrived;
* in the output folder: ``rolling_forecasts.png`` (the truth and the forecast issued at
  each hour) and ``rolling_forecasts.csv`` (one row per issue time and lead).

Run:
    python examples/streaming_updates.py --out results/streaming

Environment:
    SSMCAST_EXAMPLE_EPOCHS  training epochs (default 20; early stopping may stop sooner)
    SSMCAST_EXAMPLE_FAST=1  a tiny model, three weeks of history, 12 hours of feed (tests)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from ssmcast import SSMForecaster, datasets

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
    parser.add_argument("--show", action="store_true", help="also show the figure")
    args = parser.parse_args(argv)
    if not args.show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = args.out or Path(tempfile.mkdtemp(prefix="ssmcast-streaming-"))
    out.mkdir(parents=True, exist_ok=True)

    temp = datasets.load("beijing")["TEMP"]
    if FAST:
        history, hours, horizon = temp.loc["2014-11-10":"2014-11-30"], 12, 6
    else:
        history, hours, horizon = temp.loc[:"2014-11-30"], 72, 24
    feed = temp.loc[history.index[-1] :].iloc[1 : hours + 1]  # what arrives, hour by hour

    model = make_forecaster(horizon).fit(history)
    print(f"fitted on {len(history)} hours up to {model.cutoff_}")

    rows, seconds = [], []
    for stamp, value in feed.items():
        tick = time.perf_counter()
        model.update(pd.Series([value], index=[stamp], name=feed.name))
        forecast = model.predict()
        bands = model.predict_quantiles([0.1, 0.9])
        seconds.append(time.perf_counter() - tick)
        rows.append(
            pd.DataFrame(
                {
                    "issued": stamp,
                    "ds": forecast.index,
                    "lead": np.arange(1, horizon + 1),
                    "yhat": forecast.to_numpy(),
                    "q0.1": bands["q0.1"].to_numpy(),
                    "q0.9": bands["q0.9"].to_numpy(),
                }
            )
        )
    rolling = pd.concat(rows, ignore_index=True)
    rolling["y"] = temp.reindex(rolling["ds"]).to_numpy()
    rolling.to_csv(out / "rolling_forecasts.csv", index=False)

    # The first update of a shape compiles; the rest reuse it.
    steady = seconds[1:] or seconds
    print(
        f"{len(seconds)} updates: first {1000 * seconds[0]:.0f} ms (compiles), then median "
        f"{1000 * statistics.median(steady):.1f} ms per update + predict + quantiles"
    )
    error = (rolling["yhat"] - rolling["y"]).abs().groupby(rolling["lead"]).mean()
    print("MAE (°C) of the rolling forecasts by lead:", error.round(2).tolist())

    fig, ax = plt.subplots(figsize=(10, 4))
    shown = temp.loc[feed.index[0] - pd.Timedelta(hours=horizon) : rolling["ds"].max()]
    ax.plot(shown.index, shown.to_numpy(), color="0.2", lw=2, label="truth")
    colours = plt.cm.viridis(np.linspace(0, 1, len(feed)))
    for colour, (_, block) in zip(colours, rolling.groupby("issued"), strict=True):
        ax.plot(block["ds"], block["yhat"], color=colour, lw=1, alpha=0.8)
    last = rolling[rolling["issued"] == rolling["issued"].max()]
    ax.fill_between(last["ds"], last["q0.1"], last["q0.9"], color=colours[-1], alpha=0.2,
                    label="80% interval of the last forecast")  # fmt: skip
    ax.axvline(feed.index[0], color="0.5", ls="--", lw=1, label="end of the fitted history")
    ax.set_title(f"Rolling {horizon}-hour forecasts, one per new hourly observation")
    ax.set_ylabel("temperature (°C)")
    ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    fig.savefig(out / "rolling_forecasts.png", dpi=110, bbox_inches="tight")

    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
    if args.show:
        plt.show()


if __name__ == "__main__":
    main()
