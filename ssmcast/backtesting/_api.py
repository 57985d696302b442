"""The :func:`backtest` function: check the arguments, plan, run the engine."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import pandas as pd

from ssmcast.backtesting._engine import HOOK, run
from ssmcast.backtesting._plan import make_plan
from ssmcast.backtesting._result import BacktestResult
from ssmcast.base import capabilities_of
from ssmcast.data import (
    MissingTimestampsWarning,
    Panel,
    active_client,
    align_covariates,
    is_dask_backed,
    to_panel,
)

__all__ = ["backtest"]

_METHODS = ("auto", "loop", "one_pass")


def _check_forecaster(forecaster: Any) -> None:
    missing = [
        m
        for m in ("get_params", "fit", "predict", "update")
        if not callable(getattr(forecaster, m, None))
    ]
    if missing or isinstance(forecaster, type):
        raise TypeError(
            "The 'forecaster' argument of backtest must be an (unfitted) ssmcast forecaster "
            f"instance with get_params, fit, predict and update, such as SeasonalNaive(). Got "
            f"{forecaster!r}" + (f", which lacks {missing}." if missing else ", a class.")
        )


def backtest(
    forecaster: Any,
    y: Any,
    X: Any = None,
    *,
    horizon: int,
    start: str | pd.Timestamp | float | int,
    stride: int | None = None,
    refit: bool | int = False,
    window: Literal["expanding", "sliding"] = "expanding",
    train_size: int | None = None,
    levels: Any = None,
    progress: bool = True,
    method: Literal["auto", "loop", "one_pass"] = "auto",
) -> BacktestResult:
    """Rolling-origin backtest: fit before ``start``, then forecast from every origin after it.

    A clone (``sklearn.base.clone``) of ``forecaster`` is fitted on the data before
    ``start``. The origins have cutoffs (last observed timestamps) ``start - 1 step``,
    ``start - 1 + stride``, ..., up to the last one that leaves at least one step of data
    after it; from each, the forecaster predicts ``horizon`` steps. Near the end of the data
    the horizon is cut to the steps left: only leads whose timestamp lies inside the data are
    forecast and kept (their truth may still be NaN where a value is missing; such points are
    not scored). Between refits the forecaster is advanced with ``update`` (new observations,
    same parameters), so each forecast uses all data up to its cutoff and nothing after.

    The loop uses the public API only (``fit``, ``update``, ``predict``, ``predict_quantiles``,
    on slices of ``y`` and ``X`` in their own layout), so every ssmcast forecaster works.

    **One-pass hook.** With ``refit=False`` and no ``X``, a forecaster whose class declares
    ``capabilities = Capabilities(one_pass_backtest=True)`` (:class:`ssmcast.base.Capabilities`)
    and defines ``_backtest_one_pass(panel, origins, horizon, levels)`` forecasts from all
    origins at once (an SSM reads the whole test period in one parallel scan). The contract:

    * It is called on the clone after ``fit`` on ``panel.values[:, :origins[0] + 1]``
      (exactly those time steps and the same grid: ``cutoff_ == panel.time[origins[0]]``).
    * ``panel``: a :class:`~ssmcast.data.Panel` with values ``(num_series, num_timesteps,
      num_channels)`` (NaN missing), ``time``, ``freq`` and ``layout``, covering the fitted
      window and every step up to the last origin (nothing after it).
    * ``origins``: int64 array ``(num_origins,)``, increasing positions of the cutoffs in
      ``panel.time``; ``origins[0]`` is the fitted cutoff.
    * ``horizon``: int; ``levels``: a sorted tuple of floats in (0, 1), or None.
    * Returns ``(point, quantiles)``: ``point`` float ``(num_origins, num_series, horizon,
      num_channels)``; ``quantiles`` float ``(num_origins, num_series, horizon,
      num_channels, len(levels))`` in the order of ``levels``, or None when ``levels`` is
      None. Forecast ``[i, :, k - 1]`` is lead ``k`` after ``panel.time[origins[i]]``; it
      must equal what ``update`` with ``panel.values[:, origins[0] + 1 : origins[i] + 1]``
      and then ``predict`` (``predict_quantiles``) would give, so it may use only values up
      to ``origins[i]``. Always the full horizon; leads beyond the data are ignored.
    * It must not change the forecaster (parameters or state); afterwards ``backtest``
      updates it to the last origin, as the loop would.

    **Many series through Dask.** When ``y`` is a dask-backed ``xr.DataArray`` or
    ``xr.Dataset`` chunked along a series dimension and a ``dask.distributed`` client is
    active, a forecaster with the one-pass hook and ``_for_series`` (``SSMForecaster``) is
    fitted here once, on every series, then scattered to the workers; each worker reads its
    block of series and makes their one-pass forecasts. The forecasts equal those made in
    this process. The data is still read here too, for the scores; the result's
    ``forecaster`` stays at the first origin. Without a client, the data is read into memory
    and the backtest runs here.

    Args:
        forecaster: An unfitted forecaster (baselines, ``SSMForecaster``); never modified.
        y: The data, any layout that ``fit`` accepts (Series, wide or long DataFrame,
            DataArray, Dataset). Missing timestamps become NaN rows (with a warning).
        X: Optional covariates on the timestamps of ``y``, sliced like it for fit, update
            and the future steps of predict.
        horizon: Steps to forecast from each origin, a positive int.
        start: The first forecast timestamp: a timestamp (str or ``pd.Timestamp``; the first
            grid step at or after it), a fraction in (0, 1) of the time steps, or an int
            position (negative counts from the end). The initial fit sees the steps before it.
        stride: Steps between origins; ``horizon`` when None.
        refit: False to fit once then update; True to refit at every origin; an int ``k`` to
            refit at every ``k``-th origin (the first included) and update in between.
        window: ``"expanding"`` (each fit sees all data up to its cutoff) or ``"sliding"``
            (each fit sees the last ``train_size`` steps; updates still add steps).
        train_size: Steps of each training window; required with ``window="sliding"``.
        levels: Quantile levels, e.g. ``[0.1, 0.5, 0.9]``, to forecast quantiles too (columns
            ``q0.1``, ... in ascending order of level).
        progress: Show a tqdm progress bar over the origins of the loop.
        method: ``"auto"`` (the one-pass hook when possible, else the loop), ``"loop"`` or
            ``"one_pass"`` (to compare the two).

    Returns:
        The :class:`BacktestResult`. Its ``series`` labels are strings: the Series name; the
        column names of a wide frame; the ids of a long frame; the coordinates of the series
        dimensions of xarray data joined by ``"/"``; with several channels (a long frame with
        several value columns, a Dataset) ``"series/channel"``.

    Raises:
        TypeError: For arguments of the wrong type.
        ValueError: For a bad ``horizon``, ``stride``, ``start`` (outside the data),
            ``refit``, ``window``, ``train_size``, ``levels`` or ``method``, or bad data.

    Examples:
        >>> from ssmcast import datasets
        >>> from ssmcast.baselines import Naive
        >>> temp = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-10"]
        >>> res = backtest(Naive(), temp, horizon=6, start=-12, levels=[0.1, 0.9], progress=False)
        >>> res.forecasts[["cutoff", "lead", "y", "yhat", "q0.1"]].head(3)
                       cutoff  lead    y  yhat  q0.1
        0 2014-12-10 11:00:00     1  5.0   4.0   3.0
        1 2014-12-10 11:00:00     2  5.0   4.0   1.5
        2 2014-12-10 11:00:00     3  5.0   4.0   1.0
        >>> res.metrics.overall[["MAE", "coverage"]].round(3).tolist()
        [1.583, 1.0]
        >>> res.to_xarray().yhat.dims
        ('series', 'init_time', 'lead_time')
    """
    _check_forecaster(forecaster)
    if method not in _METHODS:
        raise ValueError(
            f"The 'method' argument of backtest must be one of {list(_METHODS)}. Got {method!r}."
        )
    client = active_client() if is_dask_backed(y) else None
    panel = to_panel(y, freq=forecaster.get_params(deep=False).get("freq"), name="y")
    windows = {"window": window, "train_size": train_size}
    plan = make_plan(
        panel.time,
        horizon=horizon,
        start=start,
        stride=stride,
        refit=refit,
        levels=levels,
        **windows,
    )
    x_panel = _covariate_panel(X, panel)
    if method == "one_pass":
        reasons = []
        if not capabilities_of(forecaster).one_pass_backtest:
            reasons.append(
                f"{type(forecaster).__name__} has no {HOOK} method (its capabilities do not "
                "declare one_pass_backtest)"
            )
        if plan.refit_every:
            reasons.append("refit is not False")
        if x_panel is not None:
            reasons.append("covariates X were given")
        if reasons:
            raise ValueError(
                f"backtest cannot take method='one_pass': {'; '.join(reasons)}. Use "
                "method='auto' or 'loop'."
            )
    chunks = None if client is None else (y, client)
    return run(forecaster, panel, x_panel, plan, method=method, progress=progress, chunks=chunks)


def _covariate_panel(X: Any, panel: Panel) -> Panel | None:
    """Covariates as a panel in their own layout, checked against the target's timestamps."""
    if X is None:
        return None
    align_covariates(X, layout=panel.layout, time=panel.time, name="X")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingTimestampsWarning)
        return to_panel(X, freq=panel.freq, name="X")
