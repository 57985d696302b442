"""``jax.jit`` with the XLA options ssmcast compiles its large computations with.

On the CPU, recent XLA hands fusions of a matrix product with its elementwise neighbours to
the YNNPACK library. For ssmcast's shapes (many small products next to wide broadcasts, such
as the forecast head feeding the seasonal base) those fusions ran 2-3x slower than XLA's own
loops, and a default fit spent about a third of its training time in them
(``benchmarks/speed.py``). :func:`jit` compiles without them on the CPU and changes nothing
on other backends or on an XLA that does not know the option.

The options are chosen at the first call, not at import: choosing them needs the backend,
and initialising it at import would break :func:`jax.distributed.initialize` (which must
run first).
"""

from __future__ import annotations

import functools
from typing import Any

import jax

# An empty list of fusion kinds: no YNNPACK fusions (plain matrix products included).
_CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def compiler_options() -> dict[str, Any]:
    """The XLA options for the default backend: without YNNPACK fusions on the CPU.

    Returns an empty dict on other backends, and where this XLA does not know the option.

    Examples:
        >>> import jax
        >>> options = compiler_options()
        >>> jax.default_backend() != "cpu" or options in ({}, _CPU_OPTIONS)
        True
    """
    if jax.default_backend() != "cpu":
        return {}
    try:  # an XLA without the option refuses to compile with it
        jax.jit(lambda x: x + 1, compiler_options=_CPU_OPTIONS).lower(1.0).compile()
    except (RuntimeError, ValueError):  # this XLA refuses the option: use its defaults
        return {}
    return dict(_CPU_OPTIONS)


class _Jitted:
    """A function jitted at its first call with :func:`compiler_options`.

    Attributes the jitted function has (``lower``, ``_cache_size``, ``clear_cache``) are
    forwarded to it; ``__wrapped__`` is the Python function, as for ``jax.jit``.
    """

    def __init__(self, fun, kwargs: dict[str, Any]) -> None:
        self.__wrapped__ = fun
        self._kwargs = kwargs
        self._jitted = None
        functools.update_wrapper(self, fun)

    def _get(self):
        if self._jitted is None:
            self._jitted = jax.jit(
                self.__wrapped__, compiler_options=compiler_options(), **self._kwargs
            )
        return self._jitted

    def __call__(self, *args, **kwargs):
        jitted = self._jitted if self._jitted is not None else self._get()
        return jitted(*args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._get(), name)


def jit(fun=None, **kwargs):
    """:func:`jax.jit` compiled with :func:`compiler_options`; usable as a decorator.

    Args:
        fun: The function; when None, returns a decorator taking it.
        **kwargs: Arguments of :func:`jax.jit` (``static_argnames``, ``out_shardings``, ...).

    Returns:
        A callable that behaves like ``jax.jit(fun, **kwargs)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> @jit(static_argnames=("k",))
        ... def scale(x, *, k):
        ...     return x * k
        >>> float(scale(jnp.float32(2.0), k=3))
        6.0
        >>> scale.__wrapped__(2.0, k=3)  # the plain function, as with jax.jit
        6.0
    """
    if fun is None:
        return functools.partial(jit, **kwargs)
    return _Jitted(fun, kwargs)
