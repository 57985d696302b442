"""The one argument check that every layer shares: a whole number in a range.

Every estimator parameter, function argument and config setting that must be a whole
number goes through :func:`check_int`, so the messages read the same everywhere: who
receives the value, what was expected, what came, and an example of a good value. Imports
nothing from ssmcast, so any module may use it.
"""

from __future__ import annotations

import numbers

__all__ = ["check_int"]


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
