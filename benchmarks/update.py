"""The cost of one new observation: ``update`` + ``predict``, against rebuilding from a window.

A forecaster that serves a sensor stream calls ``update`` with one new row and then
``predict`` (or ``predict_quantiles``). A state space model does that in O(1): the new
observation advances the recurrent state and the heads read the forecast from it. This
script times that path through the public API for every model and baseline, on real hourly
Beijing temperature, against rebuilding the state from the last 512 steps:

* ``one``: ``f.update(row)`` then ``f.predict()``, one new observation;
* ``one q``: the same with ``f.predict_quantiles([0.1, 0.5, 0.9])``;
* ``window``: ``f.update(block)`` with a block of 512 new steps, then ``f.predict()``;
* ``refit`` (baselines): ``fit`` on the last 512 steps, then ``predict()``: rebuilding a
  baseline's state from scratch;
* ``core`` (models): the jitted recurrent step alone (one observation through every layer,
  head and ensemble member), the floor under ``one``.

The rows and blocks are built before timing (a stream hands them over ready); the calls
alternate between the paths so that both see the same machine load, and each figure is a
median. Ratios are ``window / one`` (and ``refit / one``) from the same run.

Run:  python benchmarks/update.py           (all models and baselines)
      python benchmarks/update.py --quick   (s5 and two baselines, fewer repeats)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import jax
import numpy as np
import pandas as pd

from ssmcast import SSMForecaster, datasets
from ssmcast.baselines import Climatology, Drift, Naive, SeasonalNaive
from ssmcast.models import ensemble_advance

WINDOW = 512
LEVELS = [0.1, 0.5, 0.9]


def _stream(history: pd.Series, length: int) -> pd.Series:
    """Real values (recycled) on the hourly grid that continues ``history``."""
    temp = datasets.load("beijing")["TEMP"]
    values = np.resize(temp.loc["2013-01-01":].to_numpy(), length)
    start = history.index[-1] + pd.Timedelta(hours=1)
    return pd.Series(values, pd.date_range(start, periods=length, freq="h"), name=history.name)


def _interleaved(paths: dict, repeats: dict) -> dict[str, float]:
    """Median milliseconds of each path, calling them in turn (the first calls compile).

    A path is ``(prepare, run)``: ``prepare()`` makes the call's input outside the timing
    (the next rows of the stream) and ``run(input)`` is timed.
    """
    times: dict[str, list[float]] = {name: [] for name in paths}
    rounds = max(repeats.values())
    for i in range(rounds + 2):
        for name, (prepare, run) in paths.items():
            if i >= repeats[name] + 2:
                continue
            data = prepare()
            start = time.perf_counter()
            jax.block_until_ready(run(data))
            if i >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def measure(make, repeats: int, *, model: bool) -> dict[str, float]:
    temp = datasets.load("beijing")["TEMP"]
    history = temp.loc["2014-01-01":"2014-06-30"]
    windows = max(5, repeats // 10)
    stream = _stream(history, 2 * (repeats + 2) + (windows + 2) * WINDOW)
    position = [0]

    def take(steps: int):  # the next ``steps`` observations of the stream
        start = position[0]
        position[0] += steps
        return stream.iloc[start : start + steps]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = make().fit(history)
        rebuilt = make()
        paths = {
            "one": (lambda: take(1), lambda row: f.update(row).predict().to_numpy()),
            "one q": (
                lambda: take(1),
                lambda row: f.update(row).predict_quantiles(LEVELS).to_numpy(),
            ),
            "window": (lambda: take(WINDOW), lambda block: f.update(block).predict().to_numpy()),
        }
        counts = {"one": repeats, "one q": repeats, "window": windows}
        if model:
            s = f.fitted_.state
            x = np.zeros((1, 1, s.input_dim), np.float32)
            dt = np.ones(1, np.float32)
            mask = np.ones((1, 1, 1), bool)
            paths["core"] = (
                lambda: None,
                lambda _: ensemble_advance(s.graphdef, s.params, s.carry, x, dt, mask),
            )
            counts["core"] = repeats
        else:
            paths["refit"] = (
                lambda: stream.iloc[max(0, position[0] - WINDOW) : position[0]],
                lambda recent: rebuilt.fit(recent).predict().to_numpy(),
            )
            counts["refit"] = windows
        return _interleaved(paths, counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer contestants and repeats")
    args = parser.parse_args()
    repeats = 30 if args.quick else 200
    models = ["s5"] if args.quick else ["s5", "mamba", "hybrid"]
    baselines = [Naive, SeasonalNaive] if args.quick else [Naive, SeasonalNaive, Drift, Climatology]
    print(
        f"one new observation, default sizes, {jax.default_backend()} "
        f"({platform.processor() or platform.machine()}), medians of {repeats} calls "
        f"(window and refit: {max(5, repeats // 10)})"
    )
    header = (
        f"{'forecaster':<15}{'one ms':>9}{'one q ms':>10}{'window ms':>11}{'refit ms':>10}"
        f"{'core ms':>9}{'window/one':>12}{'refit/one':>11}"
    )
    print(header)

    def show(name: str, r: dict[str, float]) -> None:
        refit = r.get("refit")
        core = r.get("core")
        print(
            f"{name:<15}{r['one']:>9.3f}{r['one q']:>10.3f}{r['window']:>11.3f}"
            f"{refit if refit is not None else float('nan'):>10.3f}"
            f"{core if core is not None else float('nan'):>9.3f}"
            f"{r['window'] / r['one']:>11.1f}x"
            + (f"{refit / r['one']:>10.1f}x" if refit is not None else f"{'-':>11}")
        )

    for name in models:

        def make(name=name):
            return SSMForecaster(name, horizon=24, max_epochs=1, random_state=0, progress=False)

        show(name, measure(make, repeats, model=True))
    for cls in baselines:
        show(cls.__name__, measure(lambda cls=cls: cls(horizon=24), repeats, model=False))


if __name__ == "__main__":
    main()
