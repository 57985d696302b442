"""Time rolling backtests: the loop of update + predict against a refit loop (and one pass).

Every contestant backtests the same series from the same origins (hourly temperature in
Beijing, daily origins, a 24-step horizon) and the table prints the median seconds over a
few repeats, the milliseconds per origin, and the ratio to its model's reference: the first
contestant of that model in ``CONTESTANTS`` (the update loop). A second table times one
``fit`` and one ``predict`` of each model on the history up to the last origin, the yardstick
of the evaluation issue (a 200-origin backtest of an SSM should cost at most 3 predicts).

Adding the SSM estimator is one line per path in ``CONTESTANTS``::

    "SSMForecaster: one pass": Contestant("SSMForecaster", make_ssm, method="one_pass"),
    "SSMForecaster: update loop": Contestant("SSMForecaster", make_ssm, method="loop"),

Run:  python benchmarks/backtest.py            (200 origins over 2014)
      python benchmarks/backtest.py --quick    (20 origins, seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from ssmcast import datasets
from ssmcast.backtest import backtest
from ssmcast.baselines import Climatology, Naive, SeasonalNaive

HORIZON = 24
STRIDE = 24


@dataclasses.dataclass(frozen=True)
class Contestant:
    """A forecaster factory and the backtest options that make one timed run."""

    model: str
    make: Callable[[], Any]
    refit: bool | int = False
    method: str = "auto"


CONTESTANTS: dict[str, Contestant] = {
    "Naive: update loop": Contestant("Naive", Naive, method="loop"),
    "Naive: refit loop": Contestant("Naive", Naive, refit=True),
    "SeasonalNaive: update loop": Contestant("SeasonalNaive", SeasonalNaive, method="loop"),
    "SeasonalNaive: refit every 10": Contestant("SeasonalNaive", SeasonalNaive, refit=10),
    "SeasonalNaive: refit loop": Contestant("SeasonalNaive", SeasonalNaive, refit=True),
    "Climatology: update loop": Contestant("Climatology", Climatology, method="loop"),
    "Climatology: refit loop": Contestant("Climatology", Climatology, refit=True),
}


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 origins, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    num_origins = 20 if args.quick else 200
    repeats = 1 if args.quick else args.repeats
    temp = datasets.load("beijing")["TEMP"].loc["2013-01-01":]
    start = len(temp) - num_origins * STRIDE + 1  # the last origin has one step left
    print(
        f"backtest of {len(temp)} hourly steps, {num_origins} origins every {STRIDE} steps, "
        f"horizon {HORIZON}; {platform.processor() or platform.machine()}, median of {repeats}"
    )

    results, reference = {}, {}
    for name, contestant in CONTESTANTS.items():

        def run(contestant=contestant):
            return backtest(
                contestant.make(),
                temp,
                horizon=HORIZON,
                start=start,
                stride=STRIDE,
                refit=contestant.refit,
                method=contestant.method,
                progress=False,
            )

        result = run()  # warm up (and jit, for the SSM)
        assert len(result.cutoffs) == num_origins, len(result.cutoffs)
        seconds = median_seconds(run, repeats)
        reference.setdefault(contestant.model, seconds)
        results[name] = (seconds, result.method, seconds / reference[contestant.model])

    width = max(map(len, results)) + 2
    print(f"\n{'contestant':<{width}}{'path':>9}{'seconds':>10}{'ms/origin':>11}{'ratio':>8}")
    for name, (seconds, path, ratio) in results.items():
        per_origin = 1e3 * seconds / num_origins
        print(f"{name:<{width}}{path:>9}{seconds:>10.3f}{per_origin:>11.2f}{ratio:>8.2f}")

    history = temp.iloc[: start - 1 + (num_origins - 1) * STRIDE + 1]
    print(f"\nyardstick on the {len(history)}-step history up to the last origin")
    print(f"{'model':<{width}}{'fit ms':>10}{'predict ms':>12}")
    for model, make in {c.model: c.make for c in CONTESTANTS.values()}.items():
        fit_ms = 1e3 * median_seconds(lambda make=make: make(horizon=HORIZON).fit(history), repeats)
        fitted = make(horizon=HORIZON).fit(history)
        predict_ms = 1e3 * median_seconds(fitted.predict, max(repeats, 5))
        print(f"{model:<{width}}{fit_ms:>10.2f}{predict_ms:>12.3f}")


if __name__ == "__main__":
    main()
