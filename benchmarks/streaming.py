"""A long run of the serving path: many single-step updates, each followed by a forecast.

A forecaster that serves a sensor stream calls ``update`` with one new observation and then
``predict_quantiles``, for months. This run checks that nothing grows or slows down over
that life: it fits the default ``SSMForecaster`` (one epoch: serving does not depend on
how well it trained) on real hourly Beijing temperature, then feeds it ``--steps`` hourly
observations one at a time (the real values, cycled, on timestamps that continue the grid;
one in 50 is NaN, a missing reading) and forecasts after each. It prints, for the first and
the last 1,000 calls, the median time per call and the process's resident memory, and
whether every forecast was finite.

Run:  python benchmarks/streaming.py                 (100,000 updates; about 15 minutes)
      python benchmarks/streaming.py --steps 20000   (a shorter run)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
import pandas as pd

from ssmcast import SSMForecaster, __version__, datasets

WINDOW = 1000  # calls per measured block


def resident_mib() -> float:
    """The process's resident memory now (Linux ``/proc``; peak RSS elsewhere), in MiB."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="single-step updates")
    parser.add_argument("--model", default="s5", help="s5, mamba or hybrid")
    args = parser.parse_args()
    steps = max(args.steps, 2 * WINDOW)

    temp = datasets.load("beijing")["TEMP"]
    history = temp.loc["2014-01-01":"2014-03-31"]
    values = temp.loc["2014-04-01":].to_numpy(np.float64)
    values = np.where(np.isnan(values), np.nanmean(values), values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = SSMForecaster(args.model, horizon=24, max_epochs=1, random_state=0, progress=False)
        f.fit(history)

    step = pd.Timedelta(hours=1)
    time_now = f.cutoff_
    finite = True
    seconds: list[float] = []
    memory: dict[str, float] = {"start": resident_mib()}
    started = time.perf_counter()
    for i in range(steps):
        time_now = time_now + step
        value = np.nan if i % 50 == 49 else values[i % len(values)]
        y_new = pd.Series([value], index=pd.DatetimeIndex([time_now], freq="h"), name="TEMP")
        t0 = time.perf_counter()
        f.update(y_new)
        quantiles = f.predict_quantiles([0.1, 0.5, 0.9])
        seconds.append(time.perf_counter() - t0)
        finite &= bool(np.isfinite(quantiles.to_numpy()).all())
        if i == WINDOW - 1:
            memory["after the first 1,000"] = resident_mib()
    memory["end"] = resident_mib()
    total = time.perf_counter() - started

    first = 1e3 * statistics.median(seconds[:WINDOW])
    last = 1e3 * statistics.median(seconds[-WINDOW:])
    print(
        f"streaming: {steps:,} single-step updates + 80% interval forecasts of ssmcast "
        f"{args.model} (ensemble of {f.ensemble_size}) on hourly Beijing temperature, "
        f"{pd.Timestamp.now():%Y-%m-%d}; {platform.machine()}, Python "
        f"{platform.python_version()}, ssmcast {__version__}"
    )
    print(f"time per call (median): first 1,000 {first:.2f} ms, last 1,000 {last:.2f} ms "
          f"(ratio {last / first:.2f}); {total:.0f} s in all")  # fmt: skip
    print(
        "resident memory: "
        + ", ".join(f"{k} {v:.0f} MiB" for k, v in memory.items())
        + f" (growth after the first 1,000: {memory['end'] - memory['after the first 1,000']:+.1f} MiB)"  # noqa: E501
    )
    print(f"every forecast finite: {finite}; cutoff_ {f.cutoff_}")


if __name__ == "__main__":
    main()
