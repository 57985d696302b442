"""Test-session settings shared by the tests and the doctests.

Most of the suite's time goes into compiling small XLA programs on the CPU, not running them.
Two settings, applied before JAX starts, cut that time without changing what is tested:

* XLA's lowest backend optimisation level, which roughly thirds the compile time of a training
  step (the results change by float rounding at most);
* a persistent compilation cache in pytest's cache folder (git-ignored), shared by the test
  workers and by the subprocesses the docs and examples tests start, so a program compiled by
  one process is read from disk by the next.

A value already set in the environment wins.
"""

from __future__ import annotations

import importlib.util
import os

_OPT_LEVEL = "--xla_backend_optimization_level=0"

# The sktime adapter's doctests need the optional sktime (in the dev extra); without it they
# are not collected (tests/test_sktime.py then skips too).
collect_ignore = [] if importlib.util.find_spec("sktime") else ["ssmcast/sktime"]


def pytest_configure(config):
    """Set the compiler flags and the compilation cache before JAX starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {_OPT_LEVEL}".strip()
    cache = getattr(config, "cache", None)
    if cache is not None and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache.mkdir("ssmcast-jax"))
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
