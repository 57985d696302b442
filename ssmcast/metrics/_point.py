"""Point and scaled scores (MAE, RMSE, MAPE, sMAPE, MASE, RMSSE) and the skill score.

All are re-exported by :mod:`ssmcast.metrics`; its docstring gives the conventions they share.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ssmcast.metrics._base import (
    Axis,
    as_float,
    as_output,
    broadcast,
    masked_mean,
    present,
    reduce_axes,
)


def _errors(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast truth and forecast; return ``(y_true, error, mask of scorable points)``."""
    truth, pred = broadcast({"y_true": y_true, "y_pred": y_pred})
    return truth, pred - truth, present(truth, pred)


def _mean_error(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    axis: Axis,
    *,
    squared: bool,
    naive_scale: tuple[ArrayLike, int, str] | None = None,
) -> float | np.ndarray:
    """Mean absolute error, or root mean squared error with ``squared=True``.

    With ``naive_scale=(y_train, season_length, metric)``, each absolute (squared) error is
    first divided by the in-sample MAE (MSE) of the seasonal naive forecast: MASE (RMSSE).
    """
    truth, error, mask = _errors(y_true, y_pred)
    values = error**2 if squared else np.abs(error)
    if naive_scale is not None:
        y_train, season_length, metric = naive_scale
        power = 2 if squared else 1
        values = values / _naive_scale(y_train, season_length, power, truth.shape, metric)
    mean = masked_mean(values, mask, reduce_axes(axis, truth.ndim))
    return as_output(np.sqrt(mean)) if squared else mean


def mae(y_true: ArrayLike, y_pred: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Mean absolute error, ``mean(|y_pred - y_true|)``.

    Args:
        y_true: Observed values.
        y_pred: Point forecasts, broadcastable against ``y_true``. For a probabilistic
            forecast, its median minimises the expected MAE.
        axis: Axes to average over; ``None`` averages over all.

    Returns:
        The MAE, in the units of the data.

    Raises:
        ValueError: If the shapes do not broadcast or ``axis`` is out of range.
        TypeError: If an input is not numeric.

    Examples:
        >>> mae([1.0, 2.0, 4.0], [2.0, 2.0, 2.0])
        1.0
        >>> mae([1.0, float("nan"), 4.0], [2.0, 0.0, 2.0])  # the NaN point is not scored
        1.5
        >>> mae([[1.0, 2.0], [3.0, 5.0]], 2.0, axis=0)
        array([1. , 1.5])
    """
    return _mean_error(y_true, y_pred, axis, squared=False)


def rmse(y_true: ArrayLike, y_pred: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Root mean squared error, ``sqrt(mean((y_pred - y_true)**2))``.

    Args:
        y_true: Observed values.
        y_pred: Point forecasts (the mean of a probabilistic forecast minimises the expected
            squared error), broadcastable against ``y_true``.
        axis: Axes to average over; ``None`` averages over all.

    Returns:
        The RMSE, in the units of the data: never below the MAE of the same forecast, as
        squaring weighs large errors more.

    Raises:
        ValueError: If the shapes do not broadcast or ``axis`` is out of range.
        TypeError: If an input is not numeric.

    Examples:
        >>> rmse([0.0, 0.0], [3.0, -4.0])  # sqrt((9 + 16) / 2)
        3.5355
    """
    return _mean_error(y_true, y_pred, axis, squared=True)


def mape(y_true: ArrayLike, y_pred: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Mean absolute percentage error, as a fraction: ``mean(|y_pred - y_true| / |y_true|)``.

    The result is a fraction (0.05 means 5 %), like scikit-learn's. A point whose truth is 0
    contributes ``inf`` (and makes the mean infinite) unless its forecast is exact, which
    contributes 0. MAPE only makes sense for data on a ratio scale with a true zero (energy,
    concentrations, CO2); for temperatures in °C or °F use :func:`mae` or :func:`mase`.

    Args:
        y_true: Observed values.
        y_pred: Point forecasts, broadcastable against ``y_true``.
        axis: Axes to average over; ``None`` averages over all.

    Returns:
        The MAPE as a fraction.

    Raises:
        ValueError: If the shapes do not broadcast or ``axis`` is out of range.
        TypeError: If an input is not numeric.

    Examples:
        >>> mape([100.0, 200.0], [110.0, 180.0])  # (0.1 + 0.1) / 2
        0.1
        >>> mape([0.0, 1.0], [1.0, 1.0])
        inf
    """
    truth, error, mask = _errors(y_true, y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(error == 0, 0.0, np.abs(error) / np.abs(truth))
    return masked_mean(ratio, mask, reduce_axes(axis, truth.ndim))


def smape(y_true: ArrayLike, y_pred: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Symmetric MAPE, as a fraction in [0, 2]: ``mean(2|e| / (|y_true| + |y_pred|))``.

    This is the M3/M4 competition definition divided by 100. A point where both the truth and
    the forecast are 0 contributes 0 (a perfect forecast).

    Args:
        y_true: Observed values.
        y_pred: Point forecasts, broadcastable against ``y_true``.
        axis: Axes to average over; ``None`` averages over all.

    Returns:
        The sMAPE as a fraction between 0 and 2.

    Raises:
        ValueError: If the shapes do not broadcast or ``axis`` is out of range.
        TypeError: If an input is not numeric.

    Examples:
        >>> smape([100.0, 0.0], [300.0, 0.0])  # (2 * 200 / 400 + 0) / 2
        0.5
    """
    truth, error, mask = _errors(y_true, y_pred)
    denominator = np.abs(truth) + np.abs(truth + error)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(error == 0, 0.0, 2 * np.abs(error) / denominator)
    return masked_mean(ratio, mask, reduce_axes(axis, truth.ndim))


def _naive_scale(
    y_train: ArrayLike, season_length: int, power: int, shape: tuple[int, ...], metric: str
) -> np.ndarray:
    """In-sample mean of ``|y[t] - y[t - m]| ** power`` along axis 0 of ``y_train``."""
    if isinstance(season_length, bool) or not isinstance(season_length, int | np.integer):
        raise TypeError(
            f"The 'season_length' argument of {metric} must be a positive int. "
            f"Got {type(season_length).__name__} instead."
        )
    if season_length < 1:
        raise ValueError(
            f"The 'season_length' argument of {metric} must be a positive int (1 for the "
            f"naive forecast, 24 for hourly data with a daily season). Got {season_length}."
        )
    train = as_float(y_train, "y_train")
    if train.ndim == 0 or train.shape[0] <= season_length:
        raise ValueError(
            f"`y_train` of {metric} needs more than season_length={season_length} time steps "
            f"on axis 0 to compute the scale. Got shape {train.shape}; pass a longer training "
            "history (time on axis 0)."
        )
    diff = np.abs(train[season_length:] - train[:-season_length]) ** power
    scale = masked_mean(diff, present(diff), 0, keep_array=True)
    try:
        grown = np.broadcast_shapes(shape, scale.shape) != shape
    except ValueError:
        grown = True
    if grown:
        raise ValueError(
            f"`y_train` of {metric} has shape {train.shape}, giving one scale per series of "
            f"shape {scale.shape}, which does not match the trailing axes of the forecast "
            f"shape {shape}. Put time on axis 0 of y_train and keep the same series axes as "
            "y_true."
        )
    if np.isnan(scale).any():
        raise ValueError(
            f"`y_train` of {metric} has no pair of non-missing values season_length="
            f"{season_length} steps apart for series {np.argwhere(np.isnan(scale)).tolist()}; "
            "the scale is undefined. Pass a training history with fewer gaps."
        )
    if (scale == 0).any():
        where = "" if scale.ndim == 0 else f" for series {np.argwhere(scale == 0).tolist()}"
        raise ValueError(
            f"The {metric} scale is zero{where}: `y_train` is constant at lag "
            f"season_length={season_length} (the in-sample seasonal naive forecast is exact), "
            f"so scaled errors are undefined. Use mae/rmse for such a series, or a training "
            "history in which it varies."
        )
    return scale


def mase(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_train: ArrayLike,
    *,
    season_length: int = 1,
    axis: Axis = None,
) -> float | np.ndarray:
    """Mean absolute scaled error (Hyndman and Koehler, 2006).

    ``mean(|y_pred - y_true| / s)``, with the scale ``s = mean_t |y_train[t] - y_train[t-m]|``
    the in-sample MAE of the seasonal naive forecast of season length ``m``. Below 1, the
    forecast beats the in-sample (seasonal) naive forecast on average.

    Args:
        y_true: Observed values.
        y_pred: Point forecasts, broadcastable against ``y_true``.
        y_train: Training history, time on axis 0; its other axes are the series and must
            match the trailing axes of ``y_true`` (one scale per series). NaN pairs are
            skipped when computing the scale.
        season_length: Season length ``m`` of the naive forecast in the scale (1: naive,
            24: hourly data with a daily cycle, 7: daily data with a weekly cycle).
        axis: Axes of ``y_true`` to average over; ``None`` averages over all.

    Returns:
        The MASE (unitless).

    Raises:
        ValueError: If the shapes do not fit, ``y_train`` is too short, or its scale is zero
            (a constant training series: use :func:`mae` instead).
        TypeError: If an input is not numeric or ``season_length`` is not an int.

    Examples:
        >>> y_train = [1.0, 3.0, 2.0, 4.0]  # naive in-sample MAE: (2 + 1 + 2) / 3 = 5/3
        >>> mase([5.0, 5.0], [4.0, 6.0], y_train)  # MAE 1 divided by 5/3
        0.6
    """
    scale = (y_train, season_length, "mase")
    return _mean_error(y_true, y_pred, axis, squared=False, naive_scale=scale)


def rmsse(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_train: ArrayLike,
    *,
    season_length: int = 1,
    axis: Axis = None,
) -> float | np.ndarray:
    """Root mean squared scaled error (the M5 competition's accuracy measure).

    ``sqrt(mean((y_pred - y_true)**2 / s2))``, with the scale
    ``s2 = mean_t (y_train[t] - y_train[t-m])**2`` the in-sample mean squared error of the
    seasonal naive forecast of season length ``m``.

    Args:
        y_true: Observed values.
        y_pred: Point forecasts, broadcastable against ``y_true``.
        y_train: Training history, time on axis 0 (see :func:`mase`).
        season_length: Season length ``m`` of the naive forecast in the scale.
        axis: Axes of ``y_true`` to average over; ``None`` averages over all.

    Returns:
        The RMSSE (unitless).

    Raises:
        ValueError: If the shapes do not fit, ``y_train`` is too short, or its scale is zero.
        TypeError: If an input is not numeric or ``season_length`` is not an int.

    Examples:
        >>> y_train = [0.0, 2.0, 0.0, 2.0]  # naive in-sample MSE: 4
        >>> rmsse([1.0, 1.0], [3.0, -1.0], y_train)  # sqrt(mean([4, 4]) / 4)
        1.0
        >>> rmsse([1.0, 1.0], [3.0, -1.0], y_train, season_length=2)  # constant at lag 2
        Traceback (most recent call last):
        ...
        ValueError: The rmsse scale is zero: `y_train` is constant at lag season_length=2 ...
    """
    scale = (y_train, season_length, "rmsse")
    return _mean_error(y_true, y_pred, axis, squared=True, naive_scale=scale)


def skill_score(score: ArrayLike, score_ref: ArrayLike) -> float | np.ndarray:
    """Skill of a forecast against a reference: ``1 - score / score_ref``.

    For an error score (MAE, RMSE, CRPS, ...), 1 is a perfect forecast, 0 is no better than
    the reference (persistence, climatology), and negative values are worse. NaN propagates.
    A zero reference score gives ``-inf`` for a positive score and NaN for a zero score,
    without a warning.

    Args:
        score: Score of the forecast (for example per lead time).
        score_ref: Score of the reference forecast, broadcastable against ``score``.

    Returns:
        The skill score, a float for scalar inputs and an array otherwise.

    Raises:
        ValueError: If the shapes do not broadcast.
        TypeError: If an input is not numeric.

    Examples:
        >>> skill_score(0.8, 1.0)  # 20 % better than the reference
        0.2
        >>> skill_score([1.0, 2.0], [2.0, 1.0])
        array([ 0.5, -1. ])
    """
    s, ref = broadcast({"score": score, "score_ref": score_ref})
    with np.errstate(divide="ignore", invalid="ignore"):
        skill = 1.0 - s / ref
    return as_output(skill)
