"""Interval calibration of the normal forecasts: at fit, and online as observations arrive.

Both rescale the network's spread per lead, so that the central 80% interval covers 80%:

* :func:`calibration_factor`: split conformal over the validation tail at fit, one factor
  per lead, pooled over series and channels.
* :func:`advance_tracker`: after fit, each series, lead and channel keeps its own factor
  and moves it with every new observation that scores a forecast published earlier: up by
  ``rate * 0.8`` (in logs) when the observation fell outside the published interval, down
  by ``rate * 0.2`` when inside. The share of published intervals that miss then stays near
  20% whatever the errors do (online quantile tracking, as in adaptive conformal
  inference), so intervals follow a test period whose errors drift from the tail's.

All functions are NumPy (float64) and pure.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from ssmcast.training import validation_steps

__all__ = ["LEVEL", "Tracker", "advance_tracker", "calibration_factor", "start_tracker"]

LEVEL = 0.8  # the central interval the factors calibrate
_BOUNDS = (np.log(0.1), np.log(10.0))  # online factors stay within [0.1, 10]


def _quantile(level: float) -> float:
    return NormalDist().inv_cdf((1.0 + level) / 2.0)  # 1.28 for an 80% interval


def calibration_factor(
    forecast, targets, tail: float, level: float = LEVEL, *, widen_only: bool = False
) -> np.ndarray:
    """Per-lead factors on the spread so the central ``level`` interval covers ``level``.

    Split-conformal recalibration of a normal forecast: over the origins in the steps at the
    end that hold the last ``tail`` share of the observations, ``|y - loc| / scale`` of lead
    ``k`` should have its ``level`` quantile at the normal's (1.28 for 80%); the factor is
    the ratio. Leads with
    fewer than 30 scored points keep the factor of the lead before (1 for the first).

    Args:
        forecast: The parallel pass over the fitted data, ``loc`` and ``scale`` of shape
            ``(num_series, num_timesteps, horizon, num_channels)``.
        targets: The scaled targets ``(num_series, num_timesteps, num_channels)``, NaN where
            missing.
        tail: Share of the steps whose origins are scored, in (0, 1).
        level: Coverage of the central interval to match.
        widen_only: Never narrow (factors of at least 1): keep intervals that are too wide
            on the tail.

    Returns:
        Factors ``(horizon,)``, each within [1, 4] (``widen_only``) or [0.5, 4].
    """
    loc, scale = np.asarray(forecast.loc), np.asarray(forecast.scale)
    num_timesteps, horizon = loc.shape[1], loc.shape[2]
    first = max(0, num_timesteps - max(1, validation_steps(~np.isnan(targets), tail)))
    quantile = _quantile(level)
    factors, previous = np.ones(horizon), 1.0
    for k in range(1, horizon + 1):
        origins = np.arange(first, num_timesteps - k)
        z = np.abs(targets[:, origins + k] - loc[:, origins, k - 1]) / scale[:, origins, k - 1]
        z = z[np.isfinite(z)]
        if z.size >= 30:
            ratio = np.quantile(z, level) / quantile
            previous = float(np.clip(ratio, 1.0 if widen_only else 0.5, 4.0))
        factors[k - 1] = previous
    return factors


class Tracker(NamedTuple):
    """The online calibration of a fitted model (see :func:`advance_tracker`).

    Attributes:
        log_factor: Log factor on the spread per series, lead and channel, ``(num_series,
            horizon, num_channels)``, float32.
        issued: The forecasts issued at the last ``horizon`` steps (oldest first), whose
            targets are still to come: one ``(loc, scale)`` pair per step, each of shape
            ``(num_series, horizon, num_channels)``, float32, in scaled units, the spread as
            published (its step's calibration factor included). A tuple of steps, so that a
            new step shares the others with the state before it instead of copying them.
        rate: Step size on the log factor per scored forecast.
    """

    log_factor: np.ndarray
    issued: tuple
    rate: float


def start_tracker(factor, loc, scale, rate: float) -> Tracker:
    """The tracker at the end of a parallel pass, every factor at the pooled one of its lead.

    Args:
        factor: Pooled factors per lead ``(horizon,)`` (:func:`calibration_factor`), on the
            forecasts of the pass as published.
        loc: Forecasts issued at the last steps of the pass, ``(num_series, num_steps,
            horizon, num_channels)`` (the last ``horizon`` steps are kept).
        scale: Their spread before calibration, same shape.
        rate: Step size on the log factor.
    """
    loc, scale = np.asarray(loc, np.float32), np.asarray(scale, np.float32)
    num_series, num_steps, horizon, num_channels = loc.shape
    log_factor = np.broadcast_to(
        np.log(np.asarray(factor, np.float64))[None, :, None], (num_series, horizon, num_channels)
    ).astype(np.float32)
    factor = np.exp(log_factor)
    issued = tuple(
        (loc[:, t].copy(), scale[:, t] * factor)
        for t in range(max(0, num_steps - horizon), num_steps)
    )
    return Tracker(log_factor, issued, float(rate))


def advance_tracker(
    tracker: Tracker, loc, scale, targets, *, path: bool = False, level: float = LEVEL
) -> tuple[Tracker, np.ndarray | None]:
    """The tracker after new steps: each target scores the intervals published before it.

    At every new step, its target scores the forecasts issued 1 to ``horizon`` steps before
    it, each against the interval it was published with: a miss raises that lead's log
    factor (for that series and channel) by ``rate * level``, a hit lowers it by ``rate *
    (1 - level)``. The factor then calibrates the step's own forecast, which is kept to be
    scored later. Summed over the steps, the raises and cuts are the change of the log
    factor, which stays within [log 0.1, log 10]: so over ``n`` scored forecasts of a lead the
    share that missed is within ``4.6 / (rate * n)`` of ``1 - level`` while the factor stays
    inside those bounds, whatever the errors do (online quantile tracking, as in adaptive
    conformal inference).

    Args:
        tracker: The tracker before the new steps.
        loc: Forecasts issued at the new steps, ``(num_series, num_steps, horizon,
            num_channels)``.
        scale: Their spread before calibration, same shape.
        targets: Scaled targets of the new steps ``(num_series, num_steps, num_channels)``,
            NaN where missing (they leave the factors as they are).
        path: Also return the log factors after each step.
        level: Coverage of the central interval to track.

    Returns:
        ``(tracker, path)``: the tracker after the last step, and the log factors after each
        step ``(num_steps, num_series, horizon, num_channels)`` (None unless ``path``).

    Examples:
        >>> import numpy as np
        >>> tracker = start_tracker(np.ones(1), np.zeros((1, 1, 1, 1)), np.ones((1, 1, 1, 1)), 0.05)
        >>> errors = np.full((1, 300, 1), 2.0)  # every error at 2 spreads: intervals too narrow
        >>> steps = np.zeros((1, 300, 1, 1)), np.ones((1, 300, 1, 1))
        >>> tracker, _ = advance_tracker(tracker, *steps, errors)
        >>> round(float(np.exp(tracker.log_factor[0, 0, 0]) * 1.2816), 1)  # grew to cover 2
        2.0
    """
    loc, scale = np.asarray(loc, np.float32), np.asarray(scale, np.float32)
    num_steps, horizon = loc.shape[1], loc.shape[2]
    # leads first inside the loop: (horizon, num_series, num_channels)
    targets = np.moveaxis(np.asarray(targets, np.float64), 1, 0)
    seen = ~np.isnan(targets)
    filled = np.where(seen, targets, 0.0)
    locs = [pair[0] for pair in tracker.issued]
    published = [pair[1] for pair in tracker.issued]
    threshold = _quantile(level)
    up, down = tracker.rate * level, tracker.rate * (1.0 - level)
    low, high = _BOUNDS
    # float32 after every step, so that any split of the steps into calls gives the same
    current = np.moveaxis(tracker.log_factor, 1, 0).astype(np.float32)
    rounded = tracker.log_factor
    logs = np.empty((num_steps, *rounded.shape), np.float32) if path else None
    for i in range(num_steps):
        leads = min(horizon, len(locs))  # leads whose forecast for this step was kept
        if tracker.rate and leads and seen[i].any():
            back = range(1, leads + 1)
            issued_loc = np.array([locs[-j][:, j - 1] for j in back])
            issued_scale = np.array([published[-j][:, j - 1] for j in back])
            miss = np.abs(filled[i] - issued_loc) > threshold * issued_scale
            step = np.where(miss, up, -down) * seen[i]
            current[:leads] = np.clip(current[:leads] + step, low, high)  # (to float32)
            rounded = np.ascontiguousarray(np.moveaxis(current, 0, 1))
        locs.append(loc[:, i] if i < num_steps - horizon else loc[:, i].copy())  # kept: a copy
        published.append(scale[:, i] * np.exp(rounded))
        if path:
            logs[i] = rounded
    keep = slice(-horizon, None)
    issued = tuple(zip(locs[keep], published[keep], strict=True))
    return tracker._replace(log_factor=rounded, issued=issued), logs
