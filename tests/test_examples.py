"""Every example in ``examples/`` runs, on a tiny budget, and writes what it promises.

Each example runs in a fresh process, as a user would run it, with
``SSMCAST_EXAMPLE_FAST=1`` (small data, a tiny model), ``SSMCAST_EXAMPLE_EPOCHS=1`` and
``MPLBACKEND=Agg``, and ``--out`` pointing at a temporary folder. As in ``test_docs.py``,
XLA compiles at its lowest optimisation level and compiled programs persist in pytest's
cache folder, which halves a second run.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Each example and the files it must write into its --out folder.
EXPECTED = {
    "beijing_temperature.py": [
        "forecast.png",
        "error_by_lead.png",
        "origins.png",
        "metrics_by_lead.csv",
    ],
    "nyc_stations_xarray.py": [
        "stations_forecast.png",
        "stations_backtest.png",
        "metrics_by_station.csv",
        "forecast.csv",
    ],
    "appliances_covariates.py": ["error_by_lead.png", "origins.png", "metrics.csv"],
    "streaming_updates.py": ["rolling_forecasts.png", "rolling_forecasts.csv"],
    "pipeline_csv.py": [
        "observations.csv",
        "new_observations.csv",
        "model.ssmcast",
        "forecast.csv",
    ],
    "distributed_training.py": ["forecast-0.csv", "weights-0.txt"],  # one process here
    "cli_backtest.sh": [
        "beijing.csv",
        "backtest/forecasts.csv",
        "backtest/metrics.csv",
        "backtest/backtest.png",
    ],
}


def test_every_example_is_tested():
    found = sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".sh"))
    assert found == sorted(EXPECTED), "add the new example and its outputs to EXPECTED"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_documents_itself(name):
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert "SSMCAST_EXAMPLE_EPOCHS" in text and "SSMCAST_EXAMPLE_FAST" in text
    assert "plt.show()" not in text or "args.show" in text, "show figures only on request"
    if name.endswith(".py"):
        assert text.startswith('"""'), "an example starts with a docstring that says what it shows"


def _run(
    name: str, out: Path, jax_cache: Path, *options: str, wait: bool = True
) -> subprocess.CompletedProcess | subprocess.Popen:
    """Run one example in a fresh process with the tiny budget; outputs go to ``out``.

    With ``wait=False``, the started process (output in pipes), for runs side by side.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        flags = f"{flags} --xla_backend_optimization_level=0".strip()
    env = {
        **os.environ,
        "SSMCAST_EXAMPLE_FAST": "1",
        "SSMCAST_EXAMPLE_EPOCHS": "1",
        "MPLBACKEND": "Agg",
        # The interpreter running the tests comes first on the PATH, for `python` and
        # `ssmcast` in the shell example.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # the flags and the compilation cache of the test session (conftest.py), so that
        # programs compiled by the tests are read from disk here and the other way round
        "XLA_FLAGS": flags,
        "JAX_COMPILATION_CACHE_DIR": os.environ.get("JAX_COMPILATION_CACHE_DIR", str(jax_cache)),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    program = ["bash"] if name.endswith(".sh") else [sys.executable]
    out.mkdir(parents=True, exist_ok=True)
    command = [*program, str(EXAMPLES / name), *options, "--out", str(out)]
    if not wait:
        pipe = subprocess.PIPE
        return subprocess.Popen(command, cwd=out, env=env, stdout=pipe, stderr=pipe, text=True)
    return subprocess.run(
        command,
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(pytestconfig):
    """The examples' runs, started together on a small pool of processes.

    Each example spends most of its time tracing and compiling small XLA programs in a
    single thread, so running two at a time halves the wall time on a 2-core machine.
    Under pytest-xdist the workers already run tests in parallel: each example then runs
    when its test asks for it. The outputs go to a private temporary folder (not pytest's
    numbered ``tmp_path`` folders, which other pytest sessions on the machine may clean up).
    """
    cache = getattr(pytestconfig, "cache", None)
    workers = 1 if "PYTEST_XDIST_WORKER" in os.environ else min(2, os.cpu_count() or 1)
    with (
        tempfile.TemporaryDirectory(prefix="ssmcast-examples-") as folder,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        root = Path(folder)
        jax_cache = cache.mkdir("ssmcast-examples-jax") if cache is not None else root / "jax"
        if workers == 1:  # lazily, one at a time, in the order the tests ask
            yield {
                name: _Lazy(functools.partial(_run, name, root / name, jax_cache))
                for name in EXPECTED
            }
        else:
            yield {name: pool.submit(_run, name, root / name, jax_cache) for name in EXPECTED}
            pool.shutdown(cancel_futures=True)  # after `pytest -x`: skip the ones not started


class _Lazy:
    """A callable run on first ``result()``, with the interface of a future."""

    def __init__(self, call):
        self._call, self._result = call, None

    def result(self):
        if self._result is None:
            self._result = self._call()
        return self._result


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name, runs):
    result = runs[name].result()
    assert result.returncode == 0, f"examples/{name} failed:\n{result.stdout}\n{result.stderr}"
    out = Path(result.args[-1])
    missing = [f for f in EXPECTED[name] if not (out / f).is_file()]
    assert not missing, f"examples/{name} did not write {missing}:\n{result.stdout}"


def test_distributed_training_two_processes(runs, tmp_path, pytestconfig):
    """Two processes on 127.0.0.1 (gloo collectives on the CPU) train one model together.

    Each process fits on its six stations, so the files show that the processes hold one
    model: both write the same weights and the same forecasts for all twelve stations, which
    match the one-process run of the generic test above to float rounding.
    """
    with socket.socket() as probe:  # a free port for the coordinator
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = getattr(pytestconfig, "cache", None)
    jax_cache = cache.mkdir("ssmcast-examples-jax") if cache is not None else tmp_path / "jax"
    coordinator = ("--coordinator", f"127.0.0.1:{port}", "--num-processes", "2")
    procs = [
        _run("distributed_training.py", tmp_path, jax_cache, *coordinator, "--process-id", str(i),
             wait=False)
        for i in range(2)
    ]  # fmt: skip
    try:
        logs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (stdout, stderr) in zip(procs, logs, strict=True):
        assert p.returncode == 0, f"{stdout}\n{stderr}"
    first, second = (tmp_path / f"forecast-{i}.csv" for i in range(2))
    assert first.read_bytes() == second.read_bytes()
    weights = {(tmp_path / f"weights-{i}.txt").read_text() for i in range(2)}
    assert len(weights) == 1
    alone = runs["distributed_training.py"].result()
    assert alone.returncode == 0, alone.stderr
    reference = pd.read_csv(Path(alone.args[-1]) / "forecast-0.csv", index_col=0)
    together = pd.read_csv(first, index_col=0)
    assert list(together.columns) == list(reference.columns) and len(together.columns) == 12
    np.testing.assert_allclose(together.to_numpy(), reference.to_numpy(), atol=1e-4)
