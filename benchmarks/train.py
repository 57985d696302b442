"""Training throughput of each model: time steps per second, forward plus backward.

For every model and size this times one jitted loss-and-gradient step over a batch of
segments (the work of one training step, without the optimizer update), once with every SSM
layer on the parallel ``associative`` scan and once on the ``sequential`` scan, in the same
run, and prints the ratio. ``auto`` is what the kernels would pick on this backend.

    python benchmarks/train.py            # default sizes, under ~3 minutes on a 2-core CPU
    python benchmarks/train.py --quick    # smoke run
    (on a GPU the default run adds a larger size: d_model 128, 4 layers, T 4096, batch 16,
    and the blocked Pallas kernels, method "pallas")
"""

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast.models import build_model, set_scan_method
from ssmcast.training import sequence_loss

SIZES = {
    "quick": [dict(d_model=16, num_layers=1, num_timesteps=128, batch_size=2)],
    "default": [
        dict(d_model=32, num_layers=2, num_timesteps=256, batch_size=8),
        dict(d_model=64, num_layers=2, num_timesteps=1024, batch_size=2),
    ],
    # Added on GPU/TPU: sizes where the parallel scan has work to do.
    "accelerator": [
        dict(d_model=128, num_layers=4, num_timesteps=4096, batch_size=16),
    ],
}
METHODS = ["associative", "sequential", "auto"]  # + "pallas" on an accelerator (main)
INPUT_DIM = 7  # one target, six calendar channels
HORIZON = 24


def grad_step(model):
    graphdef, params = nnx.split(model)

    @jax.jit
    def step(params, x, dt, mask):
        def loss(p):
            m = nnx.merge(graphdef, p)
            s, n = jax.vmap(lambda *a: sequence_loss(m, *a, loss="crps"))(x, dt, mask)
            return jnp.sum(s) / jnp.sum(n)

        return jax.value_and_grad(loss)(params)

    return step, params


def _timed(step, params, data):
    t0 = time.perf_counter()
    jax.block_until_ready(step(params, *data))
    return time.perf_counter() - t0


def time_methods(model, data, repeats):
    """Median seconds per step of each method, timed in turn so load drifts hit all alike."""
    steps, compile_s, times = {}, {}, {}
    for method in METHODS:
        set_scan_method(model, method)
        steps[method] = grad_step(model)
        compile_s[method] = _timed(*steps[method], data)
        times[method] = []
    for _ in range(repeats):
        for method in METHODS:
            times[method].append(_timed(*steps[method], data))
    return {m: statistics.median(t) for m, t in times.items()}, compile_s


def run(models, sizes, repeats):
    rows = []
    for size in sizes:
        b, t = size["batch_size"], size["num_timesteps"]
        rng = np.random.default_rng(0)
        x = rng.normal(size=(b, t, INPUT_DIM)).astype(np.float32)
        data = (jnp.asarray(x), jnp.ones((b, t)), jnp.ones((b, t, 1), bool))
        for name in models:
            model = build_model(
                name,
                input_dim=INPUT_DIM,
                output_dim=1,
                horizon=HORIZON,
                d_model=size["d_model"],
                num_layers=size["num_layers"],
                rngs=nnx.Rngs(0),
            )
            row = dict(model=name, **size)
            seconds, compile_s = time_methods(model, data, repeats)
            for method in METHODS:
                row[f"{method}_s"] = seconds[method]
                row[f"{method}_steps_per_s"] = b * t / seconds[method]
                row[f"{method}_compile_s"] = compile_s[method]
            row["assoc_over_seq"] = row["associative_s"] / row["sequential_s"]
            rows.append(row)
            print(_format(row), flush=True)
    return rows


def _header():
    return (
        f"{'model':<7}{'d':>4}{'L':>3}{'T':>6}{'B':>4} | "
        + "".join(f"{m[:5] + ' steps/s':>15}" for m in METHODS)
        + f" | {'assoc/seq time':>15}"
    )


def _format(row):
    return (
        f"{row['model']:<7}{row['d_model']:>4}{row['num_layers']:>3}{row['num_timesteps']:>6}"
        f"{row['batch_size']:>4} | "
        + "".join(f"{row[m + '_steps_per_s']:>15,.0f}" for m in METHODS)
        + f" | {row['assoc_over_seq']:>15.2f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one tiny size, for a smoke run")
    parser.add_argument("--models", nargs="+", default=["s5", "mamba", "hybrid"])
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument(
        "--pallas", action="store_true", help="time the Pallas kernels on a CPU too (interpreted)"
    )
    args = parser.parse_args()
    if jax.default_backend() != "cpu" or args.pallas:
        METHODS.append("pallas")
    sizes = SIZES["quick" if args.quick else "default"]
    if not args.quick and jax.default_backend() != "cpu":
        sizes = sizes + SIZES["accelerator"]
    repeats = args.repeats or (2 if args.quick else 3)
    print(
        f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), "
        f"forward+backward of the loss, median of {repeats}"
    )
    print(_header())
    print("-" * len(_header()))
    rows = run(args.models, sizes, repeats)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
