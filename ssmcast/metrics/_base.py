"""Input checks and NaN-aware reductions shared by the metrics in :mod:`ssmcast.metrics`."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

Axis = int | tuple[int, ...] | None


def as_float(value: ArrayLike, name: str) -> np.ndarray:
    """Convert ``value`` to a float64 array, or raise a TypeError naming the argument."""
    if isinstance(value, str | bytes):
        raise TypeError(f"`{name}` must be an array of numbers. Got a string: {value!r}.")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"`{name}` must be an array of numbers. Got {type(value).__name__}, which cannot "
            f"be converted to float ({err}). Convert it, e.g. with pd.to_numeric."
        ) from None


def check_same_labels(
    values: Mapping[str, ArrayLike], attributes: tuple[str, ...] = ("index", "columns")
) -> None:
    """Refuse pandas objects whose index (or columns) differ: NumPy would ignore the labels."""
    for attribute in attributes:
        labelled = [
            (name, getattr(v, attribute))
            for name, v in values.items()
            if hasattr(getattr(v, attribute, None), "equals")
        ]
        for (name_a, a), (name_b, b) in itertools.pairwise(labelled):
            if not a.equals(b):
                raise ValueError(
                    f"`{name_a}` and `{name_b}` are pandas objects with different {attribute}; "
                    "the metrics compare values by position. Align them first, e.g. "
                    f"`{name_a}, {name_b} = {name_a}.align({name_b}, join='inner')`."
                )


def broadcast(values: Mapping[str, ArrayLike]) -> list[np.ndarray]:
    """Convert the named inputs to float arrays and broadcast them to one shape."""
    check_same_labels(values)
    arrays = {name: as_float(v, name) for name, v in values.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = " and ".join(f"`{name}` has shape {a.shape}" for name, a in arrays.items())
        raise ValueError(
            f"{shapes}; they must be broadcastable (equal sizes, or 1 where they differ). "
            "Reshape one of them, e.g. add an axis with `y[:, None]`."
        ) from None
    return [np.broadcast_to(a, shape) for a in arrays.values()]


def present(*arrays: np.ndarray) -> np.ndarray:
    """Mask of the points where every array is non-missing (not NaN)."""
    mask = ~np.isnan(arrays[0])
    for a in arrays[1:]:
        mask = mask & ~np.isnan(a)
    return mask


def reduce_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """Normalise ``axis`` (None, an int or a tuple of ints) against ``ndim`` dimensions."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else axis
    try:
        if isinstance(axis, bool) or any(isinstance(a, bool) for a in axes):
            raise TypeError
        axes = tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"`axis` must be None, an int or a tuple of ints. Got {axis!r}.") from None
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"`axis` {a} is out of range for data with {ndim} dimension(s); use an axis "
                f"between {-ndim} and {ndim - 1}, or None for all."
            )
    normalised = tuple(sorted({a % ndim for a in axes}))
    if len(normalised) != len(axes):
        raise ValueError(f"`axis` {axis!r} repeats an axis; give each axis once.")
    return normalised


def as_output(value: np.ndarray | float) -> float | np.ndarray:
    """Return a Python float for a 0-d result and the array otherwise."""
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value


def masked_mean(
    values: np.ndarray, mask: np.ndarray, axis: int | tuple[int, ...], *, keep_array: bool = False
) -> float | np.ndarray:
    """Mean of ``values`` where ``mask`` holds, over ``axis``; NaN (no warning) where empty.

    Returns a Python float for a 0-d result unless ``keep_array``.
    """
    mask = np.broadcast_to(mask, values.shape)
    total = np.sum(np.where(mask, values, 0.0), axis=axis)
    count = np.sum(mask, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean if keep_array else as_output(mean)


def check_levels(levels: ArrayLike, function: str) -> np.ndarray:
    """Validate quantile levels: a float or 1-D sequence, each strictly between 0 and 1."""
    tau = as_float(levels, "levels")
    if tau.ndim > 1 or tau.size == 0:
        raise ValueError(
            f"The 'levels' argument of {function} must be a float or a non-empty 1-D sequence "
            f"of quantile levels such as [0.1, 0.5, 0.9]. Got shape {tau.shape}."
        )
    bad = tau[~((tau > 0) & (tau < 1))]
    if bad.size:
        raise ValueError(
            f"The 'levels' argument of {function} must lie strictly between 0 and 1. Got "
            f"{bad.tolist()}; use for example 0.05 and 0.95 rather than 5 and 95 (percent) or "
            "0 and 1."
        )
    return tau
