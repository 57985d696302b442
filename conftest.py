"""Test-session settings shared by the tests and the doctests.

Most of the suite's time goes into compiling small XLA programs on the CPU, not running them.
Two settings, applied before JAX starts, cut that time without changing what is tested:

* XLA's lowest backend optimisation level, which roughly thirds the compile time of a training
  step (the results change by float rounding at most);
* a persistent compilation cache in pytest's cache folder (git-ignored), shared by the test
  workers and by the subprocesses the docs and examples tests start, so a program compiled by
  one process is read from disk by the next.

A value already set in the environment wins.

A test worker also hands its compiled programs back between tests once the process holds
many memory mappings. Every program XLA compiles for the CPU keeps its code mapped (about 900
mappings for a small fit's programs), JAX keeps every program it compiled, and a worker
runs hundreds of fits: near the kernel's limit (``vm.max_map_count``, 65,530 by default) a
mapping inside XLA fails and the worker dies with a segfault or an abort, in whichever
compile or cache write comes next. ``jax.clear_caches()`` unmaps them; later tests read
what they need from the persistent cache.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

_OPT_LEVEL = "--xla_backend_optimization_level=0"
_MAPPINGS_LIMIT = 30_000  # half the kernel's default vm.max_map_count (65,530)

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


def _mappings() -> int:
    """The number of memory mappings of this process (0 where /proc is not there)."""
    try:
        with open("/proc/self/maps", "rb") as maps:
            return sum(1 for _ in maps)
    except OSError:
        return 0


@pytest.fixture(autouse=True)
def _release_compiled_programs():
    """After a test: drop JAX's compiled programs once the process maps too much memory."""
    yield
    if _mappings() > _MAPPINGS_LIMIT:
        import jax

        jax.clear_caches()
