"""Checks of user input at the boundary, with messages that say what came and how to fix it.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, bad
value) and names the argument, what was expected, what came and the fix.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ssmcast._checks import check_int

__all__ = [
    "MissingTimestampsWarning",
    "check_horizon",
    "check_levels",
    "check_min_length",
    "format_levels",
]

_MAX_SHOWN = 5


class MissingTimestampsWarning(UserWarning):
    """Timestamps absent from a regular grid were inserted as missing (NaN) rows.

    Raised as a warning, never an error: the models treat those rows as missing values.
    Silence it with ``warnings.simplefilter("ignore", MissingTimestampsWarning)``.
    """


def check_horizon(horizon: object, owner: str = "SSMForecaster", kind: str = "parameter") -> int:
    """Check that a forecast horizon is a positive integer.

    Args:
        horizon: The value to check.
        owner: Who receives it, for the message (``"Naive"``, ``"Naive.predict"``).
        kind: ``"parameter"`` (set in ``__init__``) or ``"argument"`` (passed to a method).

    Returns:
        The horizon as a Python ``int``.

    Raises:
        TypeError: If ``horizon`` is not an integer (a bool or a float such as ``24.0``
            included).
        ValueError: If ``horizon`` is not positive.

    Examples:
        >>> check_horizon(24)
        24
        >>> check_horizon(0, "Naive")
        Traceback (most recent call last):
        ...
        ValueError: The 'horizon' parameter of Naive must be a positive int. Got 0 instead; ...
    """
    return check_int(horizon, "horizon", owner, kind=kind, example="horizon=24")


def check_min_length(min_length: object) -> int:
    """Check the ``min_length`` argument of the converters: an int of at least 1.

    Examples:
        >>> check_min_length(3)
        3
    """
    return check_int(min_length, "min_length", "to_panel", kind="argument")


def check_levels(levels: object, owner: str = "predict_quantiles") -> tuple[float, ...]:
    """Check quantile levels: a non-empty list of distinct floats strictly inside (0, 1).

    The order is kept (outputs follow it); it need not be sorted.

    Args:
        levels: The levels to check, a list, tuple or 1-D array of floats.
        owner: Who receives them, for the message.

    Returns:
        The levels as a tuple of Python floats, in the order given.

    Raises:
        TypeError: If ``levels`` is a single number, a string, or holds non-numbers.
        ValueError: If it is empty, has a level outside (0, 1) or a repeated level.

    Examples:
        >>> check_levels([0.1, 0.5, 0.9])
        (0.1, 0.5, 0.9)
        >>> check_levels([0.5, 1.0])
        Traceback (most recent call last):
        ...
        ValueError: The 'levels' argument of predict_quantiles must lie strictly between ...
    """
    head = f"The 'levels' argument of {owner}"
    if isinstance(levels, str | bytes) or not isinstance(levels, Sequence | np.ndarray):
        raise TypeError(
            f"{head} must be a list of floats in (0, 1). Got {levels!r} "
            f"({type(levels).__name__}) instead; pass a list, e.g. levels=[0.1, 0.5, 0.9]."
        )
    values = list(np.asarray(levels, dtype=object).ravel()) if np.ndim(levels) else []
    if np.ndim(levels) != 1 or not values:
        raise ValueError(
            f"{head} must be a non-empty list of floats in (0, 1). Got {levels!r} instead; "
            "pass e.g. levels=[0.1, 0.5, 0.9]."
        )
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Real)]
    if bad:
        raise TypeError(
            f"{head} must be a list of floats in (0, 1). Got non-numbers {bad[:_MAX_SHOWN]!r}; "
            "pass e.g. levels=[0.1, 0.5, 0.9]."
        )
    floats = tuple(float(v) for v in values)
    outside = [v for v in floats if not 0.0 < v < 1.0]
    if outside:
        raise ValueError(
            f"{head} must lie strictly between 0 and 1. Got {outside[:_MAX_SHOWN]} in "
            f"{list(floats)}; use fractions, e.g. 0.9 for the 90% quantile."
        )
    repeated = sorted({v for v in floats if floats.count(v) > 1})
    if repeated:
        raise ValueError(f"{head} must be distinct. Got {repeated} more than once; drop repeats.")
    return floats


def format_levels(levels: Sequence[float], prefix: str = "q") -> list[str]:
    """Column labels of quantile levels: ``0.1 -> "q0.1"``, ``0.025 -> "q0.025"``.

    Examples:
        >>> format_levels([0.1, 0.5, 0.975])
        ['q0.1', 'q0.5', 'q0.975']
    """
    return [f"{prefix}{level:g}" for level in levels]


# --- helpers for the converters ---------------------------------------------------------


def show(values: Sequence[object] | pd.Index, limit: int = _MAX_SHOWN) -> str:
    """A short list for messages: the first ``limit`` items, then ``... (N in all)``."""
    items = [
        str(v) if isinstance(v, pd.Timestamp | np.datetime64) else repr(v)
        for v in list(values)[:limit]
    ]
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return "[" + ", ".join(items) + more + "]"


def check_numeric(dtype: object, label: str, name: str) -> None:
    """Refuse a non-numeric, boolean or complex dtype, naming the column."""
    if pd.api.types.is_complex_dtype(dtype):
        raise TypeError(
            f"`{name}` must hold real numbers, but {label} has the complex dtype {dtype}. "
            "Pass the real part (`.real`), the magnitude (`abs(...)`), or both as separate "
            "columns."
        )
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise TypeError(
            f"`{name}` must hold numbers, but {label} has dtype {dtype}. Convert it, e.g. with "
            "pd.to_numeric(..., errors='coerce') (unparseable entries become NaN, which the "
            "model treats as missing), or drop the column."
        )


def check_time_index(index: object, name: str, where: str = "index") -> pd.DatetimeIndex:
    """Check that timestamps are a DatetimeIndex without NaT, unique and increasing."""
    if isinstance(index, pd.PeriodIndex):
        raise TypeError(
            f"`{name}` must have a DatetimeIndex; its {where} is a PeriodIndex. Convert it "
            f"with `{name}.to_timestamp()` (pandas) or `.to_timestamp()` on the index."
        )
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(
            f"`{name}` must have a DatetimeIndex; its {where} is a {type(index).__name__} "
            f"({show(index, 3)}). Convert it, e.g. `{name}.index = pd.to_datetime({name}.index)`"
            f" or `{name} = {name}.set_index('time')`."
        )
    if len(index) == 0:
        raise ValueError(f"`{name}` is empty: its {where} has no timestamps. Pass observed data.")
    if index.hasnans:
        raise ValueError(
            f"`{name}` has missing timestamps (NaT) in its {where}. Drop those rows or fill in "
            "their timestamps."
        )
    duplicated = index[index.duplicated()].unique()
    if len(duplicated):
        raise ValueError(
            f"`{name}` has duplicated timestamps in its {where}: {show(duplicated)}. Keep one "
            f"row per timestamp, e.g. `{name}.groupby(level=0).mean()`."
        )
    if not index.is_monotonic_increasing:
        position = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        raise ValueError(
            f"`{name}` must be sorted by time, but its {where} goes back from "
            f"{index[position - 1]} to {index[position]} at position {position}. Sort it "
            f"first with `{name}.sort_index()`; ssmcast never reorders data silently."
        )
    return index


def check_finite(values: np.ndarray, time: pd.DatetimeIndex, labels: list[str], name: str):
    """Refuse infinite values; ``values`` is ``(num_series, num_timesteps, num_channels)``."""
    infinite = np.isinf(values)
    if infinite.any():
        series, step, channel = (int(i[0]) for i in np.nonzero(infinite))
        count = int(infinite.sum())
        raise ValueError(
            f"`{name}` has {count} infinite value(s); the first is in "
            f"{labels[series * values.shape[2] + channel]} at {time[step]}. Replace them with "
            f"NaN (missing) if they are errors, e.g. `{name}.replace([np.inf, -np.inf], np.nan)`."
        )


def check_observed(values: np.ndarray, labels: list[str], name: str) -> None:
    """Refuse a series (or channel) with no observed value at all."""
    empty = np.isnan(values).all(axis=1)  # (num_series, num_channels)
    if empty.any():
        flat = [labels[i] for i in np.flatnonzero(empty.ravel())]
        raise ValueError(
            f"`{name}` has no observed value (all NaN) in {show(flat)}. Drop them, or pass "
            "data that has at least one observation in each."
        )
