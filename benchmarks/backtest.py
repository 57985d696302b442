"""Time rolling backtests: the loop of update + predict against a refit loop (and one pass).

Every contestant backtests the same series from the same origins (hourly temperature in
Beijing, daily origins, a 24-step horizon) and the table prints the median seconds over a
few repeats, the milliseconds per origin, and the ratio to its model's reference: the first
contestant of that model in ``CONTESTANTS`` (the update loop). A second table times one
``fit`` and one ``predict`` of each model on the history up to the last origin, the yardstick
of the evaluation issue (a 200-origin backtest of an SSM should cost at most 3 predicts).

The SSM estimator (default size, a short training budget: its accuracy is not the point
here) runs three ways: one parallel pass over all origins, the loop of update + predict, and
a refit every 50 origins. For it, the last table sets the forecasting cost of the one-pass
backtest (its time less one ``fit``) against one parallel pass over the same history.

Run:  python benchmarks/backtest.py            (200 origins over 2014)
      python benchmarks/backtest.py --quick    (20 origins, seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ssmcast import SSMForecaster, datasets
from ssmcast._inference import model_inputs, parallel_pass
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
make_ssm = functools.partial(SSMForecaster, max_epochs=2, random_state=0, progress=False)
CONTESTANTS.update(
    {
        "SSMForecaster: one pass": Contestant("SSMForecaster", make_ssm, method="one_pass"),
        "SSMForecaster: update loop": Contestant("SSMForecaster", make_ssm, method="loop"),
        "SSMForecaster: refit every 50": Contestant("SSMForecaster", make_ssm, refit=50),
    }
)


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
    fit_times = {}
    for model, make in {c.model: c.make for c in CONTESTANTS.values()}.items():
        fitted = make(horizon=HORIZON).fit(history)  # warm up (and jit, for the SSM)
        fit_ms = 1e3 * median_seconds(lambda make=make: make(horizon=HORIZON).fit(history), repeats)
        predict_ms = 1e3 * median_seconds(fitted.predict, max(repeats, 5))
        fit_times[model] = (fit_ms, fitted)
        print(f"{model:<{width}}{fit_ms:>10.2f}{predict_ms:>12.3f}")

    fit_ms, f = fit_times["SSMForecaster"]
    values = history.to_numpy()[None, :, None]
    from ssmcast.data import calendar_features

    x, mask = model_inputs(
        f.scaler_.transform(values), None, calendar_features(history.index, f.freq_).values
    )
    dt = np.ones(len(history))
    pass_ms = 1e3 * median_seconds(
        lambda: np.asarray(parallel_pass(f._graphdef, f._params, x, dt, mask)[0].loc), repeats
    )
    one_pass_ms = 1e3 * results["SSMForecaster: one pass"][0]
    forecasting_ms = one_pass_ms - fit_ms
    print(
        f"\nSSM one-pass backtest of {num_origins} origins: {one_pass_ms:.0f} ms in all, "
        f"{forecasting_ms:.0f} ms beyond one fit; one parallel pass over the history "
        f"(what predict costs a model that re-encodes): {pass_ms:.0f} ms; "
        f"ratio {forecasting_ms / pass_ms:.2f}x (goal: at most 3x)"
    )


if __name__ == "__main__":
    main()
