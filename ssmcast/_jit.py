"""``jax.jit`` with the XLA options ssmcast compiles its large computations with.

On the CPU, recent XLA hands fusions of matrix products, elementwise ops and reductions to
the YNNPACK library. Which of them pay off depends on the network:

* the matrix-product fusions ran 2-3x slower than XLA's own loops for ssmcast's shapes (many
  small products next to wide broadcasts, such as the forecast head feeding the seasonal
  base), and an s5 fit ran 17-27% faster without them;
* the reduction fusions speed up the selective scan of :class:`~ssmcast.layers.SelectiveSSM`
  (a short mamba fit took 1.15-1.9x as long without them, measured on two days).

So :func:`jit` compiles each network with the fusion kinds its layers ask for (a layer class
lists them in ``xla_cpu_fusions``; none by default) and changes nothing on other backends or
on an XLA that does not know the option (``benchmarks/speed.py`` has the figures).

The options are chosen at the first call, not at import: choosing them needs the backend,
and initialising it at import would break :func:`jax.distributed.initialize` (which must
run first).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import jax

_OPTION = "xla_cpu_experimental_ynn_fusion_type"  # comma-separated fusion kinds; "" for none


def _accepted(value: str) -> bool:
    """Whether this XLA compiles with ``_OPTION`` set to ``value`` (it refuses unknown ones)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options={_OPTION: value}).lower(1.0).compile()
    except (RuntimeError, ValueError):
        return False
    return True


@functools.cache
def _spelling(kinds: str) -> str | None:
    """How this XLA spells the comma-separated fusion ``kinds``; None if it knows neither way.

    Some XLA versions take ``reduce``, later ones the enum name ``LIBRARY_FUSION_TYPE_REDUCE``;
    the empty list (no YNNPACK fusions) is spelled ``""`` by both.
    """
    if jax.default_backend() != "cpu":
        return None
    names = [k for k in kinds.split(",") if k]
    candidates = [",".join(names), ",".join(f"LIBRARY_FUSION_TYPE_{k.upper()}" for k in names)]
    for value in dict.fromkeys(candidates):
        if _accepted(value):
            return value
    return None


def _graph_fusions(graph) -> str:
    """The fusion kinds the layers of ``graph`` (an ``nnx.GraphDef``) ask for, comma-separated."""
    kinds: set[str] = set()
    for node in getattr(graph, "nodes", ()):
        kinds.update(getattr(getattr(node, "type", None), "xla_cpu_fusions", ()))
    return ",".join(sorted(kinds))


@functools.lru_cache(maxsize=256)
def _fusions(graph) -> str:
    # ``graph`` is a GraphDef or a wrapper holding one as ``.graphdef``; the cache keys on its
    # hash, which a wrapper computes once, so the streaming path pays a dict lookup per call.
    return _graph_fusions(getattr(graph, "graphdef", graph))


def compiler_options(graph=None) -> dict[str, Any]:
    """The XLA options for the default backend and, optionally, a network's graph.

    On the CPU: YNNPACK fusions only of the kinds the graph's layers list in their
    ``xla_cpu_fusions`` (none without a graph). Elsewhere, and where this XLA does not know
    the option or the kinds: an empty dict (XLA's defaults).

    Examples:
        >>> import jax
        >>> options = compiler_options()
        >>> jax.default_backend() != "cpu" or options in ({}, {_OPTION: ""})
        True
    """
    if _spelling("") is None:  # not the CPU, or an XLA without the option
        return {}
    value = _spelling("" if graph is None else _fusions(graph))
    return {} if value is None else {_OPTION: value}


class _Jitted:
    """A function jitted at its first call with :func:`compiler_options`.

    With ``graph`` (the name of a static argument holding the network's ``GraphDef``, or an
    object with a ``graphdef`` attribute), each kind of network gets the options its layers
    ask for, as a separately jitted function. ``__wrapped__`` is the Python function, as for
    ``jax.jit``.
    """

    def __init__(self, fun, graph: str | None, kwargs: dict[str, Any]) -> None:
        self.__wrapped__ = fun
        self._kwargs = kwargs
        self._graph = graph
        self._position = None
        if graph is not None:
            names = list(inspect.signature(fun).parameters)
            if graph not in names:
                raise ValueError(f"graph={graph!r} is not an argument of {fun.__name__}")
            self._position = names.index(graph)
        self._jitted: dict[str, Any] = {}
        functools.update_wrapper(self, fun)

    def _select(self, args, kwargs):
        graph = None
        if self._graph is not None:
            graph = kwargs[self._graph] if self._graph in kwargs else args[self._position]
        options = compiler_options(graph)
        key = options.get(_OPTION, "-")
        jitted = self._jitted.get(key)
        if jitted is None:
            jitted = jax.jit(self.__wrapped__, compiler_options=options, **self._kwargs)
            self._jitted[key] = jitted
        return jitted

    def __call__(self, *args, **kwargs):
        return self._select(args, kwargs)(*args, **kwargs)

    def lower(self, *args, **kwargs):
        """``jax.jit(...).lower`` with the options for these arguments."""
        return self._select(args, kwargs).lower(*args, **kwargs)

    def _cache_size(self) -> int:
        """The number of compiled programs, over all option sets."""
        return sum(jitted._cache_size() for jitted in self._jitted.values())


def jit(fun=None, *, graph: str | None = None, **kwargs):
    """:func:`jax.jit` compiled with :func:`compiler_options`; usable as a decorator.

    Args:
        fun: The function; when None, returns a decorator taking it.
        graph: The name of the static argument that holds the network's graph (a
            ``GraphDef``, or an object with a ``graphdef`` attribute); its layers choose
            the options. None: the options for a network that asks for nothing.
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
        return functools.partial(jit, graph=graph, **kwargs)
    return _Jitted(fun, graph, kwargs)
