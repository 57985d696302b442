"""Argument checks shared by the kernels.

They run on shapes and dtypes only, which are static under ``jax.jit``, so they cost nothing
at run time and fire before any tracing error from deep inside JAX.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

METHODS = ("auto", "associative", "sequential", "chunked", "pallas")


def as_inexact(name: str, value, *, func: str) -> jnp.ndarray:
    """Return ``value`` as a JAX array, refusing integer, boolean and non-numeric input."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(value).dtype
        except Exception as err:  # pragma: no cover - exotic objects
            raise TypeError(
                f"`{name}` of {func} must be a float or complex array. "
                f"Got an object of type {type(value).__name__}."
            ) from err
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.complexfloating)):
        raise TypeError(
            f"`{name}` of {func} must have a float or complex dtype. Got dtype {dtype}; "
            f"convert it first, for example `{name}.astype(jnp.float32)`."
        )
    return jnp.asarray(value)


def check_method(method: str, *, func: str) -> None:
    """Refuse unknown scan methods with the list of known ones."""
    if method not in METHODS:
        raise ValueError(
            f"`method` of {func} must be one of {', '.join(map(repr, METHODS))}. Got {method!r}."
        )


def check_broadcast(name_from: str, shape_from, name_to: str, shape_to, *, func: str) -> None:
    """Check that ``shape_from`` broadcasts to ``shape_to`` (NumPy rules, right-aligned)."""
    shape_from, shape_to = tuple(shape_from), tuple(shape_to)
    ok = len(shape_from) <= len(shape_to) and all(
        f in (1, t) for f, t in zip(shape_from[::-1], shape_to[::-1], strict=False)
    )
    if not ok:
        raise ValueError(
            f"`{name_from}` of {func} must broadcast to the shape of `{name_to}` {shape_to}. "
            f"Got shape {shape_from}."
        )


def check_shape(name: str, shape, expected, *, func: str, hint: str = "") -> None:
    """Check an exact shape; ``None`` in ``expected`` matches any size."""
    shape = tuple(shape)
    ok = len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )
    if not ok:
        want = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ")"
        raise ValueError(
            f"`{name}` of {func} must have shape {want}. Got shape {shape}."
            + (f" {hint}" if hint else "")
        )
