"""Time a backtest that refits: compiled programs reused across refits of growing length.

Each refit trains on a few more steps than the one before. The compiled training epoch
depends on the architecture and the settings only (segments are cut on the host, the step
counts are arguments), so every refit reuses it; the validation window is padded to a bucket
length (``ssmcast.training.bucket_length``: 4, 5, 6 or 7 times a power of two), so refits
whose lengths share a bucket reuse the validation pass too. This script runs the same
refitting backtest twice, each in a fresh process: as shipped, and with the bucket padding
switched off (every validation length its own program), and prints the seconds, the
compilations of the training epoch and of the validation pass, and the ratio. The forecasts
of the two runs are compared too: padding must not change them beyond float rounding.

The backtest: the default ``SSMForecaster`` with one network and two epochs (the training
budget is not the point), hourly Beijing temperature of June-September 2014, daily origins
through September, a refit every 5 origins.

Run:  python benchmarks/refit.py            (about three minutes on a 2-core CPU)
      python benchmarks/refit.py --refit 10 (fewer refits)
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

_RUN = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from ssmcast import SSMForecaster, backtest, datasets
from ssmcast.training import _fit, _steps
if sys.argv[1] == "off":
    _fit.bucket_length = lambda n: n
y = datasets.load("beijing")["TEMP"].loc["2014-06-01":"2014-09-30"]
f = SSMForecaster(horizon=24, ensemble_size=1, max_epochs=2, random_state=0, progress=False)
start = time.perf_counter()
result = backtest(f, y, horizon=24, start="2014-09-01", refit=int(sys.argv[2]), progress=False)
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "compilations": _steps.train_members._cache_size(),
    "validations": _steps.evaluate_members._cache_size(),
    "fits": -(-result.forecasts["cutoff"].nunique() // int(sys.argv[2])),
    "yhat": result.forecasts["yhat"].tolist(),
}))
"""


def run(padding: str, refit: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _RUN, padding, str(refit)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refit", type=int, default=5, help="origins between refits")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    t = time.perf_counter()
    on, off = run("on", args.refit), run("off", args.refit)
    print(f"refit every {args.refit} origins, {on['fits']} fits in all")
    print(f"{'validation window':<28}{'seconds':>9}{'epoch compilations':>20}{'validation':>12}")
    for name, r in (("padded to a bucket (default)", on), ("each length its own", off)):
        print(f"{name:<28}{r['seconds']:>9.1f}{r['compilations']:>20}{r['validations']:>12}")
    print(f"speed-up: {off['seconds'] / on['seconds']:.2f}x")
    gap = max(abs(a - b) for a, b in zip(on["yhat"], off["yhat"], strict=True))
    print(f"largest forecast difference: {gap:.2e} (float rounding)")
    print(f"total {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
