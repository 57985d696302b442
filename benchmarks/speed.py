"""Speed of every accuracy contestant on one series: fit, backtest, update + predict.

The series and protocol are those of ``benchmarks/accuracy.py`` (default: ``beijing/TEMP``,
horizon 24, fit on the first 80%, 365 origins over the last 20%). For each contestant:

* **first fit**: the first fit on the first 80% in the process (for ssmcast it includes
  JAX's compilation, which a user pays once per process and model size), then **fit**: a
  second fit, the cost without compilation;
* **backtest**: the whole accuracy protocol (fit plus the rolling forecasts);
* **update + predict**: after the fit, the latency of taking one new observation and
  forecasting the horizon with quantiles, the median over ``--repeats`` new steps.
  ssmcast: ``update`` (one recurrent step) then ``predict_quantiles``. statsforecast: the
  model's ``forward`` over the history plus the new step (its no-refit path re-reads the
  whole series; AutoTheta and MSTL the last 2,000 steps, as in the accuracy protocol).
  neuralforecast: ``predict`` on the history plus the new step (it reads the last
  ``input_size`` steps).

The output is a Markdown table (``docs/benchmarks/speed.txt`` holds the last run). Each
figure is also given as a ratio to ssmcast's default model (``ssmcast s5``) measured in
the same run. Libraries use their default threading (all cores). Peers need the ``bench``
extra and are skipped without it.

Run:  python benchmarks/speed.py                      (about 15 minutes on 2 cores)
      python benchmarks/speed.py --quick              (ssmcast and baselines only, a minute)
      python benchmarks/speed.py --contestants NHITS,PatchTST   (s5 against the deep peers)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy

from ssmcast import SSMForecaster, baselines


class Estimator:
    """An ssmcast forecaster (SSM or baseline) behind the timing interface."""

    def __init__(self, make: Callable[[], Any], levels=accuracy.LEVELS):
        self.make, self.levels = make, levels

    def fit(self, y: pd.Series) -> None:  # noqa: D102
        self.model = self.make().fit(y)

    def step(self, y_new: pd.Series) -> Any:  # noqa: D102
        self.model.update(y_new)
        return self.model.predict_quantiles(levels=self.levels)


class StatsforecastModel:
    """A statsforecast model: ``fit`` on the values, then ``forward`` over the longer history."""

    def __init__(self, make: Callable[[], Any], horizon: int, window: int | None):
        self.make, self.horizon, self.window = make, horizon, window

    def _history(self) -> np.ndarray:
        return self.values if self.window is None else self.values[-self.window :]

    def fit(self, y: pd.Series) -> None:  # noqa: D102
        self.values = y.ffill().bfill().to_numpy(float)
        self.model = self.make().fit(y=self._history())

    def step(self, y_new: pd.Series) -> Any:  # noqa: D102
        self.values = np.append(self.values, y_new.to_numpy(float))
        return self.model.forward(y=self._history(), h=self.horizon, level=accuracy.PEER_LEVELS)


class NeuralModel:
    """A neuralforecast model: ``fit`` on the frame, then ``predict`` on the longer history."""

    def __init__(self, name: str, task: accuracy.Task):
        self.name, self.task = name, task

    def fit(self, y: pd.Series) -> None:  # noqa: D102
        from neuralforecast import NeuralForecast

        model = accuracy.neural_model(self.name, self.task, seed=0)
        self.frame = pd.DataFrame({"unique_id": y.name, "ds": y.index, "y": y.to_numpy(float)})
        self.nf = NeuralForecast(models=[model], freq=y.index.freqstr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.nf.fit(df=self.frame)

    def step(self, y_new: pd.Series) -> Any:  # noqa: D102
        new = pd.DataFrame({"unique_id": y_new.name, "ds": y_new.index, "y": y_new.to_numpy()})
        self.frame = pd.concat([self.frame, new], ignore_index=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.nf.predict(df=self.frame)


def timers(task: accuracy.Task, quick: bool) -> dict[str, Any]:
    """The timing adapter of each contestant that can run here."""
    h = task.horizon
    out: dict[str, Any] = {
        f"ssmcast {m}": Estimator(lambda m=m: SSMForecaster(model=m, horizon=h, progress=False))
        for m in ("s5", "mamba", "hybrid")
    }
    for cls in (baselines.SeasonalNaive, baselines.Climatology):
        out[cls.__name__] = Estimator(lambda cls=cls: cls(horizon=h))
    if quick:
        return out
    try:
        import statsforecast  # noqa: F401

        for name, make in accuracy.statsforecast_models().items():
            window = accuracy.statsforecast_window(name)
            out[name] = StatsforecastModel(lambda make=make: make(task), h, window)
    except ImportError:
        print('statsforecast is not installed: skipped (pip install ".[bench]")')
    try:
        import neuralforecast  # noqa: F401

        for name in ("NHITS", "PatchTST"):
            out[name] = NeuralModel(name, task)
    except ImportError:
        print('neuralforecast is not installed: skipped (pip install ".[bench]")')
    return out


def seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(name: str, timer: Any, task: accuracy.Task, y: pd.Series, repeats: int) -> dict:
    train = y.iloc[: int(accuracy.TRAIN_FRACTION * len(y))]
    first_fit = seconds(lambda: timer.fit(train))  # with JAX's (or numba's) compilation
    fit = seconds(lambda: timer.fit(train))
    latencies = []
    for i in range(repeats + 1):  # the first step warms up (and compiles)
        new = y.iloc[len(train) + i : len(train) + i + 1]
        latencies.append(seconds(lambda new=new: timer.step(new)))
    contestant = accuracy.contestants()[name]
    backtest = seconds(lambda: contestant.run(task, y, 0))
    return {
        "first fit": first_fit,
        "fit": fit,
        "backtest": backtest,
        "step": statistics.median(latencies[1:]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="beijing/TEMP", help="a task of accuracy.py")
    parser.add_argument("--repeats", type=int, default=20, help="update + predict steps")
    parser.add_argument("--quick", action="store_true", help="ssmcast and baselines only")
    parser.add_argument(
        "--contestants",
        help="comma-separated contestants (default: all); ssmcast s5, the reference, always runs",
    )
    args = parser.parse_args(argv)
    task = next((t for t in accuracy.TASKS if t.name == args.task), None)
    if task is None:
        parser.error(f"unknown task {args.task!r}; choose from {[t.name for t in accuracy.TASKS]}")
    y = task.load()
    print(
        f"speed on {task.name} (horizon {task.horizon}, {len(y)} steps, fit on 80%, "
        f"measured {pd.Timestamp.now():%Y-%m-%d}, "
        f"{len(accuracy.origins(y, task.horizon))} origins); "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{accuracy.versions()}"
    )
    chosen = timers(task, args.quick)
    if args.contestants:
        wanted = {"ssmcast s5", *(n.strip() for n in args.contestants.split(",") if n.strip())}
        unknown = sorted(wanted - set(chosen))
        if unknown:
            parser.error(
                f"unknown or unavailable contestants {unknown}; choose from {list(chosen)}"
            )
        chosen = {name: timer for name, timer in chosen.items() if name in wanted}
    results = {}
    for name, timer in chosen.items():
        try:
            results[name] = measure(name, timer, task, y, args.repeats)
        except Exception as err:  # a peer that fails is reported, not fatal
            print(f"{name}: failed ({type(err).__name__}: {err})")
    ref = results["ssmcast s5"]
    print(
        "\n| contestant | first fit s | fit s | fit ratio | backtest s | backtest ratio "
        "| update+predict ms | update+predict ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for name, r in results.items():
        print(
            f"| {name} | {r['first fit']:.2f} | {r['fit']:.2f} | {r['fit'] / ref['fit']:.2f} | "
            f"{r['backtest']:.2f} | {r['backtest'] / ref['backtest']:.2f} | "
            f"{1e3 * r['step']:.2f} | {r['step'] / ref['step']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
