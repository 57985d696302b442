"""Check and tune the blocked Pallas kernels on an accelerator, against the memory floor.

Three parts, each printed as it runs:

1. **Correctness on the device**: ``method="pallas"`` against the sequential method for the
   diagonal scan (real and complex), the selective scan (a batch by ``vmap``, states not a
   power of two) and the selective scan's gradient: the largest absolute differences.
2. **Tuning**: the diagonal kernel at one large size over block widths, warps per program,
   unrolled steps and chunk lengths (the number of programs); then the selective kernel over
   channel blocks and warps. Each line: milliseconds and the ratio to the memory floor.
3. **The best settings at every size** of ``benchmarks/scan.py``'s grid, beside the chunked
   and associative methods, with the ratio to the floor (read ``a`` and ``b``, write ``h``;
   for the selective scan read ``x``, ``dt``, ``B``, ``C``, write ``y``).

Run:  python benchmarks/pallas.py            (on a GPU; minutes)
      python benchmarks/pallas.py --quick    (small sizes; also runs interpreted on a CPU)
"""

from __future__ import annotations

import argparse
import itertools
import traceback
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scan import copy_bandwidth, timeit, timeit_together

from ssmcast.ssm import _pallas as kernels
from ssmcast.ssm import _pallas_selective as selective_kernels
from ssmcast.ssm import linear_recurrence, selective_scan
from ssmcast.ssm._selective import _sequential


def _max_error(got, want) -> float:
    return float(jnp.max(jnp.abs(jnp.asarray(got) - jnp.asarray(want))))


def correctness(quick: bool) -> None:
    print("1. pallas against sequential on this device (largest absolute difference)")
    rng = np.random.default_rng(0)
    T, W = (300, 40) if quick else (5000, 300)
    a = rng.uniform(0.5, 1.0, (T, W))
    b = rng.normal(size=(T, W))
    for name, (a_, b_) in {
        "diagonal real": (a, b),
        "diagonal complex": (a * np.exp(1j * rng.uniform(-1, 1, a.shape)), b + 1j * b[::-1]),
    }.items():
        dtype = jnp.complex64 if np.iscomplexobj(a_) else jnp.float32
        args = (jnp.asarray(a_, dtype), jnp.asarray(b_, dtype))
        got = linear_recurrence(*args, method="pallas")
        want = linear_recurrence(*args, method="sequential")
        largest = float(jnp.max(jnp.abs(want)))
        print(f"   {name:<28} {_max_error(got, want):.2e}  (|h| up to {largest:.1f})")
    batch, T, D, N = (2, 200, 24, 12) if quick else (4, 3000, 40, 12)
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    x = jax.random.normal(keys[0], (batch, T, D))
    dt = jax.nn.softplus(jax.random.normal(keys[1], (batch, T, D))) * 0.1
    A = -jnp.exp(jax.random.normal(keys[2], (D, N)))
    B = jax.random.normal(keys[3], (batch, T, N))

    def run(method):
        return jax.vmap(lambda x, dt, B: selective_scan(x, dt, A, B, B[::-1], method=method))

    got, want = run("pallas")(x, dt, B), run("sequential")(x, dt, B)
    print(f"   {'selective (vmap, N=12)':<28} {_max_error(got, want):.2e}")

    def loss(method):
        return jax.grad(lambda x, dt: jnp.sum(jnp.sin(run(method)(x, dt, B))), argnums=(0, 1))

    for g, w, name in zip(
        loss("pallas")(x, dt), loss("sequential")(x, dt), ("x", "dt"), strict=True
    ):
        print(f"   {'selective gradient d' + name:<28} {_max_error(g, w):.2e}")


def diagonal_tuning(bandwidth: float, quick: bool) -> dict:
    T, W = (1024, 256) if quick else (65536, 4096)
    print(f"\n2a. diagonal kernel at T={T}, width={W} (ms, and x the floor)")
    key = jax.random.PRNGKey(2)
    a = jax.random.uniform(key, (T, W), jnp.float32, 0.9, 0.999)
    b = jax.random.normal(jax.random.fold_in(key, 1), (T, W), jnp.float32)
    floor_ms = 1e3 * 3 * a.size * 4 / bandwidth
    results = {}

    def measure(block_w, num_warps, unroll, target):
        chunk = kernels.chunk_length(T, max(1, W // block_w), unroll=unroll, target_programs=target)
        fn = jax.jit(
            lambda a, b: kernels.diagonal_scan(
                a, b, jnp.zeros(W), chunk=chunk, block_w=block_w, unroll=unroll, num_warps=num_warps
            )
        )
        try:
            ms = timeit(fn, a, b)
        except Exception as error:  # a setting the compiler refuses: report it and go on
            print(
                f"   block_w={block_w} warps={num_warps} unroll={unroll} chunk={chunk}: "
                f"failed ({type(error).__name__}: {str(error)[:200]})"
            )
            return None
        results[(block_w, num_warps, unroll, target)] = ms
        print(
            f"   block_w={block_w:>4} warps={num_warps} unroll={unroll:>2} chunk={chunk:>5} "
            f"programs={max(1, W // block_w) * -(-T // chunk):>6}: "
            f"{ms:8.3f} ms {ms / floor_ms:6.2f}x",
            flush=True,
        )
        return ms

    blocks = (64, 128) if quick else (64, 128, 256)
    warps = (1, 4) if quick else (1, 2, 4)
    for block_w, num_warps in itertools.product(blocks, warps):
        if num_warps * 32 <= block_w * 2:
            measure(block_w, num_warps, kernels.UNROLL, kernels.TARGET_PROGRAMS)
    if not results:
        return {}
    block_w, num_warps, _, _ = min(results, key=results.get)
    for unroll, target in itertools.product((4, 8, 16), (1024, 4096, 16384)):
        if (block_w, num_warps, unroll, target) not in results:
            measure(block_w, num_warps, unroll, target)
    best = min(results, key=results.get)
    print(
        f"   best: block_w={best[0]} warps={best[1]} unroll={best[2]} target_programs={best[3]}: "
        f"{results[best]:.3f} ms, {results[best] / floor_ms:.2f}x the floor"
    )
    return dict(zip(("block_w", "num_warps", "unroll", "target"), best, strict=True))


def selective_tuning(bandwidth: float, quick: bool) -> dict:
    batch, T, D, N = (2, 512, 64, 16) if quick else (8, 16384, 64, 16)
    print(f"\n2b. selective kernel at batch={batch}, T={T}, D={D}, N={N} (ms, and x the floor)")
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    x = jax.random.normal(keys[0], (batch, T, D))
    dt = jax.nn.softplus(jax.random.normal(keys[1], (batch, T, D)))
    A = -jnp.exp(jax.random.normal(keys[2], (D, N)))
    B = jax.random.normal(keys[3], (batch, T, N))
    floor_ms = 1e3 * batch * T * (3 * D + 2 * N) * 4 / bandwidth
    results = {}

    def measure(block_d, num_warps, unroll, target):
        chunk = kernels.chunk_length(
            T, batch * max(1, D // block_d), unroll=unroll, target_programs=target
        )

        def scan(x, dt, B):
            return selective_kernels.selective_kernel_scan(
                x,
                dt,
                A,
                B,
                B,
                jnp.zeros((D, N)),
                reference=_sequential,
                chunk=chunk,
                block_d=block_d,
                unroll=unroll,
                num_warps=num_warps,
            )[0]

        try:
            ms = timeit(jax.jit(jax.vmap(scan)), x, dt, B)
        except Exception as error:
            print(
                f"   block_d={block_d} warps={num_warps} unroll={unroll} chunk={chunk}: "
                f"failed ({type(error).__name__}: {str(error)[:200]})"
            )
            return
        results[(block_d, num_warps, unroll, target)] = ms
        print(
            f"   block_d={block_d:>3} warps={num_warps} unroll={unroll} chunk={chunk:>5}: "
            f"{ms:8.3f} ms {ms / floor_ms:6.2f}x",
            flush=True,
        )

    blocks = (16, 32) if quick else (16, 32, 64, 128)
    for block_d, num_warps in itertools.product(blocks, (1, 2) if quick else (1, 2, 4)):
        measure(block_d, num_warps, kernels.UNROLL, kernels.TARGET_PROGRAMS)
    if results and not quick:
        block_d, num_warps, _, _ = min(results, key=results.get)
        for unroll, target in itertools.product((4, 8), (1024, 4096, 16384)):
            if (block_d, num_warps, unroll, target) not in results:
                measure(block_d, num_warps, unroll, target)
    if not results:
        return {}
    best = min(results, key=results.get)
    print(
        f"   best: block_d={best[0]} warps={best[1]} unroll={best[2]} target_programs={best[3]}: "
        f"{results[best]:.3f} ms, {results[best] / floor_ms:.2f}x the floor"
    )
    return dict(zip(("block_d", "num_warps", "unroll", "target"), best, strict=True))


def _row(cells) -> str:
    return " ".join(f"{c:>{w}}" for c, w in cells)


def sizes_table(bandwidth: float, quick: bool, best: dict) -> None:
    print("\n3a. diagonal scan at every size, best settings (ms; x the floor)")
    names = ("T", "width", "chunked", "assoc", "pallas", "pallas/best", "pallas/floor")
    print(_row(zip((*names, "chunked/floor"), (6, 6, 9, 9, 9, 12, 13, 14), strict=True)))
    lengths = (256, 1024) if quick else (1024, 4096, 16384, 65536)
    widths = (64, 256) if quick else (64, 1024, 4096)
    settings = {k: best[k] for k in ("block_w", "unroll", "num_warps")}
    for T, W in itertools.product(lengths, widths):
        if T * W > 2**28:
            continue
        key = jax.random.PRNGKey(T + W)
        a = jax.random.uniform(key, (T, W), jnp.float32, 0.9, 0.999)
        b = jax.random.normal(jax.random.fold_in(key, 1), (T, W), jnp.float32)
        chunk = kernels.chunk_length(
            T, max(1, W // best["block_w"]), unroll=best["unroll"], target_programs=best["target"]
        )
        pallas = partial(kernels.diagonal_scan, h0=jnp.zeros(W), chunk=chunk, **settings)
        fns = {
            "chunked": jax.jit(partial(linear_recurrence, method="chunked")),
            "associative": jax.jit(partial(linear_recurrence, method="associative")),
            "pallas": jax.jit(pallas),
        }
        t = timeit_together(fns, a, b)
        floor_ms = 1e3 * 3 * a.size * 4 / bandwidth
        cells = [
            (T, 6),
            (W, 6),
            *((f"{t[m]:.3f}", 9) for m in fns),
            (f"{t['pallas'] / min(t['chunked'], t['associative']):.2f}x", 12),
            (f"{t['pallas'] / floor_ms:.2f}x", 13),
            (f"{t['chunked'] / floor_ms:.2f}x", 14),
        ]
        print(_row(cells), flush=True)


def _selective_method(x, dt, B, A, method):
    return selective_scan(x, dt, A, B, B, method=method)


def _selective_kernel(x, dt, B, A, **settings):
    h0 = jnp.zeros(A.shape, A.dtype)
    return selective_kernels.selective_kernel_scan(
        x, dt, A, B, B, h0, reference=_sequential, **settings
    )[0]


def selective_sizes(bandwidth: float, quick: bool, best: dict) -> None:
    print("\n3b. selective scan, batch 8 by vmap, D=64, N=16, best settings (ms; x the floor)")
    names = ("T", "assoc", "chunked", "pallas", "pallas/best", "pallas/floor")
    print(_row(zip(names, (6, 9, 9, 9, 12, 13), strict=True)))
    batch, D, N = 8, 64, 16
    settings = {k: best[k] for k in ("block_d", "unroll", "num_warps")}
    for T in (256, 1024) if quick else (256, 1024, 4096, 16384, 65536):
        keys = jax.random.split(jax.random.PRNGKey(T), 4)
        x = jax.random.normal(keys[0], (batch, T, D))
        dt = jax.nn.softplus(jax.random.normal(keys[1], (batch, T, D)))
        A = -jnp.exp(jax.random.normal(keys[2], (D, N)))
        B = jax.random.normal(keys[3], (batch, T, N))
        chunk = kernels.chunk_length(
            T,
            batch * max(1, D // best["block_d"]),
            unroll=best["unroll"],
            target_programs=best["target"],
        )
        fns = {
            m: jax.jit(jax.vmap(partial(_selective_method, A=A, method=m)))
            for m in ("associative", "chunked")
        }
        if batch * T * D * N > 2**28:
            fns.pop("associative")  # its (T, D, N) temporaries for 8 sequences get too large
        kernel = partial(_selective_kernel, A=A, chunk=chunk, **settings)
        fns["pallas"] = jax.jit(jax.vmap(kernel))
        t = timeit_together(fns, x, dt, B)
        floor_ms = 1e3 * batch * T * (3 * D + 2 * N) * 4 / bandwidth
        others = min(v for k, v in t.items() if k != "pallas")
        cells = [
            (T, 6),
            *((f"{t[m]:.3f}" if m in t else "-", 9) for m in ("associative", "chunked", "pallas")),
            (f"{t['pallas'] / others:.2f}x", 12),
            (f"{t['pallas'] / floor_ms:.2f}x", 13),
        ]
        print(_row(cells), flush=True)


SECTIONS = ("check", "tune", "tune-selective", "sizes", "selective")
# Used when a tuning section is skipped: the best settings measured on an H200.
MEASURED = {
    "diagonal": dict(block_w=64, num_warps=1, unroll=8, target=4096),
    "selective": dict(block_d=32, num_warps=1, unroll=4, target=4096),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (runs on a CPU too)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated, of {SECTIONS}"
    )
    args = parser.parse_args()
    print(f"ssmcast Pallas kernels: jax {jax.__version__}, {jax.devices()[0].device_kind}")
    bandwidth = copy_bandwidth(2**24 if args.quick else 2**28)
    print(f"measured copy bandwidth: {bandwidth / 1e9:.1f} GB/s (read + write)\n")
    best: dict = dict(MEASURED)
    steps = {
        "check": lambda: correctness(args.quick),
        "tune": lambda: best.update(diagonal=diagonal_tuning(bandwidth, args.quick)),
        "tune-selective": lambda: best.update(selective=selective_tuning(bandwidth, args.quick)),
        "sizes": lambda: sizes_table(bandwidth, args.quick, best["diagonal"]),
        "selective": lambda: selective_sizes(bandwidth, args.quick, best["selective"]),
    }
    for name in args.sections.split(","):
        if name not in steps:
            parser.error(f"--sections: unknown section {name!r}; choose from {SECTIONS}")
        try:  # one part failing must not hide the others' figures
            steps[name]()
        except Exception:
            traceback.print_exc()


if __name__ == "__main__":
    main()
