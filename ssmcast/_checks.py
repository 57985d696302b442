"""The argument checks that every layer shares: whole numbers, real numbers and seeds.

Every estimator parameter, function argument and config setting that must be a whole
number goes through :func:`check_int`, so the messages read the same everywhere: who
receives the value, what was expected, what came, and an example of a good value. Imports
nothing from ssmcast, so any module may use it.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_real", "check_seed"]


def check_int(
    value: object,
    name: str,
    owner: str,
    *,
    kind: str = "parameter",
    minimum: int = 1,
    maximum: int | None = None,
    allow_none: bool = False,
    example: str | None = None,
    error: type[Exception] = TypeError,
) -> int | None:
    """Check that ``value`` is a whole number from ``minimum`` to ``maximum``.

    Args:
        value: The value to check.
        name: Its name (``"horizon"``).
        owner: Who receives it (``"SSMForecaster"``, ``"backtest"``, ``"Naive.predict"``).
        kind: ``"parameter"`` (set in ``__init__``), ``"argument"`` (passed to a function)
            or ``"setting"`` (a field of a config).
        minimum: The smallest value accepted.
        maximum: The largest value accepted, or None for no bound.
        allow_none: Whether None is accepted (and returned as None).
        example: A good value for the message, such as ``"horizon=24"``.
        error: The exception for a value that is not an int (a bool and a float such as
            ``24.0`` included): ``TypeError``, or ``ValueError`` where a caller documented it.

    Returns:
        The value as a Python ``int`` (or None when allowed and given).

    Raises:
        TypeError: If ``value`` is not an integer (``error`` decides the class).
        ValueError: If it lies outside the range.

    Examples:
        >>> check_int(24, "horizon", "Naive")
        24
        >>> check_int(0, "horizon", "Naive", example="horizon=24")
        Traceback (most recent call last):
        ...
        ValueError: The 'horizon' parameter of Naive must be a positive int. Got 0 instead; e.g. horizon=24.
        >>> check_int(200, "window", "Climatology", minimum=0, maximum=182)
        Traceback (most recent call last):
        ...
        ValueError: The 'window' parameter of Climatology must be an int from 0 to 182. Got 200 instead.
    """  # noqa: E501
    if value is None and allow_none:
        return None
    if minimum == 1 and maximum is None:
        what = "a positive int"
    elif maximum is None:
        what = f"an int of at least {minimum}"
    else:
        what = f"an int from {minimum} to {maximum}"
    if allow_none:
        what += " or None"
    lead = f"The '{name}' {kind} of {owner} must be {what}."
    hint = f"; e.g. {example}." if example else "."
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{lead} Got {value!r} ({type(value).__name__}) instead{hint}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{lead} Got {value!r} instead{hint}")
    return int(value)


def check_real(
    value: object,
    name: str,
    owner: str,
    *,
    minimum: float,
    maximum: float | None = None,
    include_minimum: bool = True,
    include_maximum: bool = False,
    kind: str = "parameter",
    example: str | None = None,
) -> float:
    """Check that ``value`` is a finite real number in a range and return it as a float.

    Examples:
        >>> check_real(0.1, "validation_fraction", "SSMForecaster", minimum=0, maximum=0.5)
        0.1
        >>> check_real("0.1", "learning_rate", "SSMForecaster", minimum=0, include_minimum=False)
        Traceback (most recent call last):
        ...
        TypeError: The 'learning_rate' parameter of SSMForecaster must be a number > 0. Got '0.1' (str) instead.
    """  # noqa: E501
    low = f"{'>=' if include_minimum else '>'} {minimum:g}"
    if maximum is None:
        what = f"a number {low}"
    else:
        what = f"a number {low} and {'<=' if include_maximum else '<'} {maximum:g}"
    lead = f"The '{name}' {kind} of {owner} must be {what}."
    hint = f"; e.g. {example}." if example else "."
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{lead} Got {value!r} ({type(value).__name__}) instead{hint}")
    number = float(value)
    below = number < minimum if include_minimum else number <= minimum
    above = maximum is not None and (number > maximum if include_maximum else number >= maximum)
    if not math.isfinite(number) or below or above:
        raise ValueError(f"{lead} Got {value!r} instead{hint}")
    return number


def check_seed(value: object, owner: str, *, draw: bool = True) -> int | None:
    """A ``random_state`` as an int seed: None, an int, or a ``numpy.random.RandomState``.

    A ``RandomState`` (what scikit-learn accepts) gives a seed drawn from it, so the same
    state gives the same seed; with ``draw=False`` it is only checked (None is returned)
    and its state is left alone.

    Examples:
        >>> check_seed(3, "SSMForecaster")
        3
        >>> check_seed("3", "SSMForecaster")
        Traceback (most recent call last):
        ...
        TypeError: The 'random_state' parameter of SSMForecaster must be None, an int or a numpy.random.RandomState. Got '3' (str) instead; e.g. random_state=0.
    """  # noqa: E501
    import numpy as np

    if value is None:
        return None
    if isinstance(value, np.random.RandomState):
        return int(value.randint(2**31 - 1)) if draw else None
    if isinstance(value, np.random.Generator):
        return int(value.integers(2**31 - 1)) if draw else None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The 'random_state' parameter of {owner} must be None, an int or a "
            f"numpy.random.RandomState. Got {value!r} ({type(value).__name__}) instead; "
            "e.g. random_state=0."
        )
    if not 0 <= int(value) < 2**32:
        raise ValueError(
            f"The 'random_state' parameter of {owner} must be from 0 to 2**32 - 1. "
            f"Got {value!r} instead."
        )
    return int(value)
