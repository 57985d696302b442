"""NumPy helpers of the baselines: forward fills, NaN-aware quantiles, residual quantiles.

Arrays are ``(num_series, num_timesteps, num_channels)`` with NaN for missing values, and
time on axis 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "forward_fill",
    "last_observed",
    "nanquantile",
    "residual_quantiles",
    "seasonal_forward_fill",
    "seasonal_last_observed",
]


def _positions(shape: tuple[int, ...], axis: int) -> np.ndarray:
    index = [1] * len(shape)
    index[axis] = shape[axis]
    return np.arange(shape[axis]).reshape(index)


def forward_fill(values: np.ndarray, axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Carry the last observed value forward along ``axis``.

    Returns:
        The filled values (NaN before the first observation) and the position of the value
        each entry was taken from (-1 before the first observation).

    Examples:
        >>> import numpy as np
        >>> filled, source = forward_fill(np.array([[[np.nan], [1.0], [np.nan], [3.0]]]))
        >>> filled[0, :, 0].tolist(), source[0, :, 0].tolist()
        ([nan, 1.0, 1.0, 3.0], [-1, 1, 1, 3])
    """
    observed = ~np.isnan(values)
    source = np.where(observed, _positions(values.shape, axis), -1)
    source = np.maximum.accumulate(source, axis=axis)
    filled = np.take_along_axis(values, np.maximum(source, 0), axis=axis)
    return np.where(source >= 0, filled, np.nan), source


def last_observed(values: np.ndarray, axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The last non-NaN value along ``axis`` and its position (NaN and -1 when none).

    Examples:
        >>> import numpy as np
        >>> value, position = last_observed(np.array([[[1.0], [2.0], [np.nan]]]))
        >>> value.tolist(), position.tolist()
        ([[2.0]], [[1]])
    """
    if values.shape[axis] == 1:  # one step (the streaming case): itself, if observed
        value = np.take(values, 0, axis=axis)
        return value, np.where(np.isnan(value), -1, 0)
    observed = ~np.isnan(values)
    size = values.shape[axis]
    position = size - 1 - np.argmax(np.flip(observed, axis=axis), axis=axis)
    value = np.take_along_axis(values, np.expand_dims(position, axis), axis=axis)
    value = np.squeeze(value, axis=axis)
    none = ~observed.any(axis=axis)
    return np.where(none, np.nan, value), np.where(none, -1, position)


def _fold(values: np.ndarray, start: int, period: int) -> tuple[np.ndarray, int]:
    """Fold time into cycles: ``(S, T, C) -> (S, cycles, period, C)``, padded with NaN.

    Index ``j`` of the period axis is the season position ``(start + t) % period``. Also
    returns the number of NaN steps padded in front.
    """
    front = start % period
    total = front + values.shape[1]
    back = -total % period
    num_series, _, num_channels = values.shape
    padded = np.concatenate(
        [
            np.full((num_series, front, num_channels), np.nan),
            values,
            np.full((num_series, back, num_channels), np.nan),
        ],
        axis=1,
    )
    return padded.reshape(num_series, -1, period, num_channels), front


def seasonal_last_observed(values: np.ndarray, start: int, period: int) -> np.ndarray:
    """Last observed value at each season position ``(start + t) % period``: ``(S, period, C)``.

    Examples:
        >>> import numpy as np
        >>> x = np.array([1.0, 2.0, 3.0, np.nan, 5.0])[None, :, None]
        >>> seasonal_last_observed(x, start=0, period=2)[0, :, 0].tolist()
        [5.0, 2.0]
    """
    folded, _ = _fold(values, start, period)
    return last_observed(folded, axis=1)[0]


def seasonal_forward_fill(values: np.ndarray, period: int) -> np.ndarray:
    """Fill each missing value from one period earlier (recursively): ``y[t] or y[t - m]...``.

    Examples:
        >>> import numpy as np
        >>> x = np.array([1.0, 2.0, np.nan, 4.0, np.nan, np.nan])[None, :, None]
        >>> seasonal_forward_fill(x, 2)[0, :, 0].tolist()
        [1.0, 2.0, 1.0, 4.0, 1.0, 4.0]
    """
    folded, _ = _fold(values, 0, period)
    filled, _ = forward_fill(folded, axis=1)
    num_series, _, num_channels = values.shape
    return filled.reshape(num_series, -1, num_channels)[:, : values.shape[1]]


def nanquantile(values: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Quantiles along axis 1 ignoring NaN (linear interpolation, as ``np.nanquantile``).

    Vectorised over series and channels (``np.nanquantile`` loops in Python when NaN are
    present).

    Args:
        values: Array ``(S, N, C)``.
        levels: Levels in [0, 1].

    Returns:
        Array ``(S, C, len(levels))``; NaN where a series has no finite value.

    Examples:
        >>> import numpy as np
        >>> x = np.array([1.0, np.nan, 2.0, 3.0, 4.0])[None, :, None]
        >>> nanquantile(x, [0.0, 0.5, 0.9])[0, 0].tolist()
        [1.0, 2.5, 3.7]
    """
    levels = np.asarray(levels, dtype=np.float64)
    ordered = np.sort(values, axis=1)  # NaN last
    count = (~np.isnan(values)).sum(axis=1)  # (S, C)
    position = (np.maximum(count, 1)[..., None] - 1) * levels  # (S, C, Q)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, np.maximum(count, 1)[..., None] - 1)
    low_values = np.take_along_axis(ordered, np.moveaxis(low, -1, 1), axis=1)
    high_values = np.take_along_axis(ordered, np.moveaxis(high, -1, 1), axis=1)
    fraction = np.moveaxis(position - low, -1, 1)
    result = np.moveaxis(low_values + (high_values - low_values) * fraction, 1, -1)
    return np.where(count[..., None] > 0, result, np.nan)


def residual_quantiles(
    history: np.ndarray,
    insample_forecast: Callable[[int], np.ndarray],
    horizon: int,
    levels: Sequence[float],
    max_origins: int = 10_000,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Empirical quantiles of in-sample forecast errors at each lead, widening with lead.

    For each lead ``k`` the errors are ``history[:, t + k] - forecast made at t`` over the
    last ``max_origins`` origins ``t`` (NaN errors ignored). Then:

    * leads without errors (a history shorter than the lead) take those of the last lead
      that has some, with the spread around the median scaled by ``sqrt(k / k_last)``;
    * the spread around the median never shrinks with lead: above the median a running
      maximum over leads, below it a running minimum;
    * the levels are sorted at each lead, so quantiles never cross.

    Args:
        history: The fitted values ``(S, T, C)``.
        insample_forecast: ``k -> (S, T - k, C)``, the forecasts of ``history[:, k:]`` made
            at origins ``0 .. T - k - 1``.
        horizon: Number of leads.
        levels: Sorted levels in (0, 1).
        max_origins: The most origins used per lead.
        labels: Names of the (series, channel) pairs, series-major, for the message.

    Returns:
        Offsets to add to the point forecast, ``(S, horizon, C, len(levels))``.

    Raises:
        ValueError: If a series has no in-sample error at any lead (too few observations).

    Examples:
        >>> import numpy as np
        >>> y = np.cumsum(np.random.default_rng(0).normal(size=200))[None, :, None]
        >>> naive = lambda k: y[:, : y.shape[1] - k]
        >>> q = residual_quantiles(y, naive, 3, [0.1, 0.9])
        >>> bool((q[0, :, 0, 1] - q[0, :, 0, 0] > 0).all())  # widening intervals
        True
    """
    num_series, num_timesteps, num_channels = history.shape
    grid = np.unique(np.append(np.asarray(levels, dtype=np.float64), 0.5))
    median = int(np.flatnonzero(grid == 0.5)[0])
    out = np.full((num_series, horizon, num_channels, len(grid)), np.nan)
    for lead in range(1, min(horizon, num_timesteps - 1) + 1):
        errors = history[:, lead:] - insample_forecast(lead)
        out[:, lead - 1] = nanquantile(errors[:, -max_origins:], grid)
    found = ~np.isnan(out[..., median])  # (S, H, C)
    if not found.any(axis=1).all():
        series, channel = (int(i[0]) for i in np.nonzero(~found.any(axis=1)))
        label = (
            labels[series * num_channels + channel]
            if labels is not None
            else f"series {series}, channel {channel}"
        )
        raise ValueError(
            f"Cannot estimate quantiles for {label}: it has no in-sample forecast error (too "
            "few observed values). Fit on a longer history."
        )
    leads = np.arange(1, horizon + 1)[None, :, None]
    source = np.maximum.accumulate(np.where(found, leads, 0), axis=1)
    first = np.argmax(found, axis=1)[:, None]  # leads before any error: the first with some
    source = np.where(source > 0, source, first + 1)
    taken = np.take_along_axis(out, (source - 1)[..., None], axis=1)
    centre = taken[..., median : median + 1]
    stretch = np.sqrt(np.maximum(leads / source, 1.0))[..., None]
    spread = (taken - centre) * stretch
    above, below = grid > 0.5, grid < 0.5
    spread[..., above] = np.maximum.accumulate(spread[..., above], axis=1)
    spread[..., below] = np.minimum.accumulate(spread[..., below], axis=1)
    spread[..., median] = 0.0
    result = np.sort(centre + spread, axis=-1)
    keep = np.searchsorted(grid, np.asarray(levels, dtype=np.float64))
    return result[..., keep]
