"""The cost of one new observation: ``update`` + ``predict`` against re-encoding a window.

A state space model serves in recurrent mode: a new observation advances the state in O(1)
and the heads read the forecast from it. The alternative that window-based models pay is to
re-encode the recent history (here 512 steps) with a parallel pass at every new observation.
Both are timed in the same run, on the same fitted default model, for real hourly Beijing
temperature:

* ``api``: ``f.update(y_new)`` then ``f.predict()`` through the public estimator API
  (validation, layouts and the jitted step together);
* ``core``: the jitted recurrent step alone (one observation through every layer and head);
* ``re-encode``: one jitted parallel pass over the last 512 steps (what a window model does).

Run:  python benchmarks/update.py           (all three models)
      python benchmarks/update.py --quick   (s5 only, fewer repeats)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import jax
import numpy as np

from ssmcast import SSMForecaster, datasets
from ssmcast.data import calendar_features
from ssmcast.models import ensemble_advance, ensemble_pass, model_inputs

WINDOW = 512


def median_ms(fn, repeats: int) -> float:
    fn()  # compile
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        runs.append(time.perf_counter() - start)
    return 1e3 * statistics.median(runs)


def measure(model: str, repeats: int) -> dict[str, float]:
    temp = datasets.load("beijing")["TEMP"]
    history, new = temp.loc["2014-01-01":"2014-06-30"], temp.loc["2014-07-01":]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = SSMForecaster(model, horizon=24, max_epochs=1, random_state=0, progress=False)
        f.fit(history)

    steps = iter(range(len(new)))

    def api():
        i = next(steps)
        f.update(new.iloc[i : i + 1])
        return f.predict().to_numpy()

    api_ms = median_ms(api, repeats)

    s = f.fitted_.state  # the fitted value: network, recurrent state, scalers
    time_index = new.index[:WINDOW]
    cal = calendar_features(time_index, f.freq_).values
    x, mask = model_inputs(
        f.scaler_.transform(new.iloc[:WINDOW].to_numpy()[None, :, None]), None, cal
    )

    def core():
        return ensemble_advance(s.graphdef, s.params, s.carry, x[:, :1], np.ones(1), mask[:, :1])[
            1
        ].loc

    def reencode():
        return ensemble_pass(s.graphdef, s.params, x, np.ones(WINDOW), mask)[0].loc

    return {
        "api": api_ms,
        "core": median_ms(core, repeats),
        "reencode": median_ms(reencode, max(5, repeats // 10)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="s5 only, fewer repeats")
    args = parser.parse_args()
    models = ["s5"] if args.quick else ["s5", "mamba", "hybrid"]
    repeats = 20 if args.quick else 200
    print(
        f"one new observation, default model sizes, {jax.default_backend()} "
        f"({platform.processor() or platform.machine()}), median of {repeats}"
    )
    print(
        f"{'model':<8}{'api ms':>10}{'core ms':>10}{'re-encode ms':>14}"
        f"{'re-encode/api':>15}{'re-encode/core':>16}"
    )
    for model in models:
        r = measure(model, repeats)
        print(
            f"{model:<8}{r['api']:>10.3f}{r['core']:>10.3f}{r['reencode']:>14.3f}"
            f"{r['reencode'] / r['api']:>14.1f}x{r['reencode'] / r['core']:>15.1f}x"
        )


if __name__ == "__main__":
    main()
