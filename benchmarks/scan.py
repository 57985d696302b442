"""Time every method of ``linear_recurrence`` on a grid of sizes, against the memory floor.

For each size it prints the milliseconds of each method (forward, float32), the fastest, what
``method="auto"`` chose and how far that is from the fastest, and the ratio of the fastest
time to the memory floor: the bytes that must move (read ``a`` and ``b``, write ``h``) over
the copy bandwidth that this script measures first on the same device. A second table times
the gradient (forward plus backward): our custom VJP against JAX's autodiff through
``jax.lax.associative_scan``. A third times ``selective_scan``, with its own memory floor
(read ``x``, ``dt``, ``B``, ``C``; write ``y``).

On an accelerator the blocked Pallas kernels (``method="pallas"``) are timed too; on a CPU they
would run in Pallas' interpreter, which measures nothing, so they are left out there (pass
``--pallas`` to force them).

Run:  python benchmarks/scan.py            (CPU grid; the GPU grid when a GPU is present)
      python benchmarks/scan.py --quick    (a few small sizes, seconds)
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from ssmcast.ssm import choose_method, choose_selective_method, linear_recurrence, selective_scan
from ssmcast.ssm._recurrence import _combine

METHODS = ["sequential", "associative", "chunked"]  # + "pallas" on an accelerator (main)


def timeit(fn, *args, repeats: int = 5, min_seconds: float = 0.2) -> float:
    """Milliseconds of ``fn(*args)`` after compiling (see :func:`timeit_together`)."""
    return timeit_together({"fn": fn}, *args, repeats=repeats, min_seconds=min_seconds)["fn"]


def timeit_together(fns: dict, *args, repeats: int = 7, min_seconds: float = 0.2) -> dict:
    """Milliseconds of each ``fn(*args)``: the best round, the functions timed in turn.

    Interleaving puts every method under the same machine load, and the best of the rounds
    is the least disturbed one (a noisy neighbour only ever adds time), so the ratios hold
    even where absolute times drift.
    """
    inner = {}
    for name, fn in fns.items():
        jax.block_until_ready(fn(*args))  # compile
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        once = time.perf_counter() - start
        inner[name] = max(1, int(min_seconds / repeats / max(once, 1e-6)))
    runs: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner[name]):
                out = fn(*args)
            jax.block_until_ready(out)
            runs[name].append((time.perf_counter() - start) / inner[name])
    return {name: 1e3 * float(np.min(r)) for name, r in runs.items()}


def copy_bandwidth(num_bytes: int) -> float:
    """Bytes per second of reading and writing one float32 array (``x + 1``)."""
    x = jnp.ones(num_bytes // 4, jnp.float32)
    ms = timeit(jax.jit(lambda x: x + 1.0), x)
    return 2 * num_bytes / (ms / 1e3)


def grid(backend: str, quick: bool):
    if quick:
        return [(t, 1, 64) for t in (256, 1024)] + [(1024, 16, 64)]
    lengths = (256, 1024, 4096, 16384, 65536)
    shapes = ((1, 64), (16, 64), (64, 64))
    limit = 2**24 if backend == "cpu" else 2**28  # elements per array
    return [(t, b, n) for b, n in shapes for t in lengths if t * b * n <= limit]


def forward_table(sizes, bandwidth: float, backend: str, chunk_sizes=()) -> list[dict]:
    rows = []
    key = jax.random.PRNGKey(0)
    for num_timesteps, batch, state in sizes:
        ka, kb = jax.random.split(jax.random.fold_in(key, num_timesteps * batch))
        shape = (num_timesteps, batch, state)
        a = jax.random.uniform(ka, shape, jnp.float32, 0.9, 0.999)
        b = jax.random.normal(kb, shape, jnp.float32)
        fns = {
            method: jax.jit(lambda a, b, m=method: linear_recurrence(a, b, method=m))
            for method in METHODS
        }
        for size in chunk_sizes:
            fns[f"chunked{size}"] = jax.jit(
                lambda a, b, c=size: linear_recurrence(a, b, method="chunked", chunk_size=c)
            )
        measured = timeit_together(fns, a, b)
        times = {m: measured[m] for m in METHODS}
        extra = {k: v for k, v in measured.items() if k not in METHODS}
        fastest = min(times, key=times.get)
        chosen = choose_method(num_timesteps, batch * state, backend)
        floor_ms = 1e3 * 3 * a.size * 4 / bandwidth
        rows.append(
            dict(
                T=num_timesteps,
                batch=batch,
                state=state,
                **{m: times[m] for m in METHODS},
                fastest=fastest,
                auto=chosen,
                auto_vs_fastest=times[chosen] / times[fastest],
                auto_vs_floor=times[chosen] / floor_ms,
                best_vs_floor=times[fastest] / floor_ms,
            )
        )
        r = rows[-1]
        print(
            f"{num_timesteps:>6} {batch:>5} {state:>5} "
            + " ".join(f"{times[m]:>11.3f}" for m in METHODS)
            + f"  {fastest:>11} {chosen:>11} {r['auto_vs_fastest']:>8.2f}x"
            f" {r['auto_vs_floor']:>8.2f}x {r['best_vs_floor']:>8.2f}x"
            + "".join(f"  {k}={v:.3f}" for k, v in extra.items()),
            flush=True,
        )
    return rows


def _autodiff_associative(a, b):
    return jax.lax.associative_scan(_combine, (a, b), axis=0)[1]


def gradient_table(sizes) -> None:
    print("\nGradient (forward + backward, ms): custom VJP vs autodiff through associative_scan")
    print(f"{'T':>6} {'batch':>5} {'state':>5} {'auto+VJP':>11} {'assoc+VJP':>11} {'assoc+AD':>11}")
    for num_timesteps, batch, state in sizes:
        shape = (num_timesteps, batch, state)
        a = jnp.full(shape, 0.95, jnp.float32)
        b = jnp.ones(shape, jnp.float32)

        def loss(fn):
            return jax.jit(jax.grad(lambda x, y: jnp.sum(fn(x, y) ** 2), argnums=(0, 1)))

        t_auto = timeit(loss(lambda a, b: linear_recurrence(a, b)), a, b)
        t_vjp = timeit(loss(lambda a, b: linear_recurrence(a, b, method="associative")), a, b)
        t_ad = timeit(loss(_autodiff_associative), a, b)
        print(
            f"{num_timesteps:>6} {batch:>5} {state:>5} {t_auto:>11.3f} {t_vjp:>11.3f} {t_ad:>11.3f}"
        )


def selective_table(quick: bool, backend: str, bandwidth: float) -> None:
    print("\nselective_scan (ms, forward, batch of 8 sequences by vmap, D=64 channels, N=16)")
    print(
        f"{'T':>6} "
        + " ".join(f"{m:>11}" for m in METHODS)
        + f" {'auto':>11} {'auto/best':>9} {'best/floor':>10}"
    )
    lengths = (256, 1024) if quick else (1024, 4096, 16384)
    batch, channels, state_dim = 8, 64, 16
    for num_timesteps in lengths:
        keys = jax.random.split(jax.random.PRNGKey(num_timesteps), 4)
        x = jax.random.normal(keys[0], (batch, num_timesteps, channels))
        dt = jax.nn.softplus(jax.random.normal(keys[1], (batch, num_timesteps, channels)))
        A = -jnp.exp(jax.random.normal(keys[2], (channels, state_dim)))
        B = jax.random.normal(keys[3], (batch, num_timesteps, state_dim))
        fns = {
            method: jax.jit(
                jax.vmap(lambda x, dt, B, A=A, m=method: selective_scan(x, dt, A, B, B, method=m))
            )
            for method in METHODS
        }
        times = timeit_together(fns, x, dt, B)
        chosen = choose_selective_method(num_timesteps, channels, state_dim, backend)
        best = min(times.values())
        floor_ms = 1e3 * batch * num_timesteps * (3 * channels + 2 * state_dim) * 4 / bandwidth
        print(
            f"{num_timesteps:>6} "
            + " ".join(f"{times[m]:>11.3f}" for m in METHODS)
            + f" {chosen:>11} {times[chosen] / best:>8.2f}x {best / floor_ms:>9.2f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small sizes only")
    parser.add_argument(
        "--chunk-sizes", default="", help="extra chunk sizes to time, comma-separated (e.g. 4,16)"
    )
    parser.add_argument(
        "--forward-only", action="store_true", help="the forward table of linear_recurrence only"
    )
    parser.add_argument(
        "--pallas", action="store_true", help="time the Pallas kernels on a CPU too (interpreted)"
    )
    args = parser.parse_args()
    backend = jax.default_backend()
    if backend != "cpu" or args.pallas:
        METHODS.append("pallas")
    device = jax.devices()[0]
    print(f"ssmcast scan benchmark: jax {jax.__version__}, backend {backend}, device {device}")
    print(f"host: {platform.processor() or platform.machine()}, float32")
    bandwidth = copy_bandwidth(2**24 if args.quick else (2**28 if backend != "cpu" else 2**27))
    print(f"measured copy bandwidth: {bandwidth / 1e9:.1f} GB/s (read + write)\n")
    print(
        f"{'T':>6} {'batch':>5} {'state':>5} "
        + " ".join(f"{m + ' ms':>11}" for m in METHODS)
        + f"  {'fastest':>11} {'auto':>11} {'auto/best':>9} {'auto/floor':>9} {'best/floor':>9}"
    )
    sizes = grid(backend, args.quick)
    chunk_sizes = [int(c) for c in args.chunk_sizes.split(",") if c]
    rows = forward_table(sizes, bandwidth, backend, chunk_sizes)
    worst = max(r["auto_vs_fastest"] for r in rows)
    print(f"\nauto is within {100 * (worst - 1):.0f}% of the fastest method at every size (worst).")
    long_rows = [r for r in rows if r["T"] >= 4096]
    if long_rows:
        print(
            "at T >= 4096: auto/floor from "
            f"{min(r['auto_vs_floor'] for r in long_rows):.2f}x to "
            f"{max(r['auto_vs_floor'] for r in long_rows):.2f}x"
        )
    if args.forward_only:
        return
    grad_sizes = sizes[:2] if args.quick else [s for s in sizes if s[0] in (1024, 16384)]
    gradient_table(grad_sizes)
    selective_table(args.quick, backend, bandwidth)


if __name__ == "__main__":
    main()
