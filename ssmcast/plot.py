"""Plots of forecasts and backtests with matplotlib.

Every function draws on the ``ax`` it is given (a new figure when None), never calls
``plt.show()``, and returns the axes (or the figure, for grids), so that plots compose and
can be saved: ``plot_forecast(...).figure.savefig("forecast.png")``.

* :func:`plot_forecast`: history, forecast and quantile bands of one series.
* :func:`plot_error_by_lead`: a score by lead time, several models on one axes.
* :func:`plot_origins`: backtest forecasts from chosen origins against the truth.
* :func:`plot_grid`: :func:`plot_origins` for many series, one panel each.

Examples:
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from ssmcast import datasets
    >>> from ssmcast.baselines import SeasonalNaive
    >>> temp = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-07"]
    >>> f = SeasonalNaive(horizon=24).fit(temp)
    >>> ax = plot_forecast(temp, f.predict(), f.predict_quantiles([0.1, 0.9]), history_steps=48)
    >>> [line.get_label() for line in ax.get_lines()]
    ['history', 'forecast']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssmcast._checks import check_int

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ssmcast.backtesting import BacktestResult

__all__ = ["plot_error_by_lead", "plot_forecast", "plot_grid", "plot_origins"]

_LEVEL = re.compile(r"^q(0?\.\d+)$")


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    return ax


def _as_series(values: Any, name: str) -> pd.Series:
    """One series from a Series, a one-column frame or a 1-D DataArray."""
    if isinstance(values, pd.DataFrame) and values.shape[1] == 1:
        values = values.iloc[:, 0]
    elif hasattr(values, "to_series") and getattr(values, "ndim", 0) == 1:
        values = values.to_series()
    if not isinstance(values, pd.Series):
        raise TypeError(
            f"`{name}` of plot_forecast must be one series: a pd.Series, a one-column "
            f"pd.DataFrame or a 1-D xr.DataArray. Got {type(values).__name__}"
            f"{f' of shape {values.shape}' if hasattr(values, 'shape') else ''}; select one "
            "series first, e.g. `y['TEMP']` or `da.sel(station='JFK')`."
        )
    return values


def _quantile_columns(quantiles: pd.DataFrame) -> dict[float, pd.Series]:
    """Levels -> columns of a quantile frame (columns ``q0.1`` or floats)."""
    if isinstance(quantiles, pd.Series) or not isinstance(quantiles, pd.DataFrame):
        quantiles = getattr(quantiles, "to_pandas", lambda: quantiles)()
    if not isinstance(quantiles, pd.DataFrame):
        raise TypeError(
            "`quantiles` of plot_forecast must be a pd.DataFrame with one column per level "
            f"(as predict_quantiles returns for a Series). Got {type(quantiles).__name__}."
        )
    levels = {}
    for column in quantiles.columns:
        match = _LEVEL.match(str(column[-1] if isinstance(column, tuple) else column))
        level = float(match.group(1)) if match else column
        if not isinstance(level, float) or not 0.0 < level < 1.0:
            raise ValueError(
                "`quantiles` of plot_forecast must have columns named like 'q0.1' or float "
                f"levels in (0, 1). Got column {column!r}; select one series' quantiles."
            )
        levels[level] = quantiles[column]
    return levels


def _bands(ax: Axes, levels: Mapping[float, pd.Series], color: Any, label: str | None) -> int:
    """Shade central intervals ``(a, 1 - a)``, wider ones lighter; returns how many.

    ``label`` prefixes the legend entries; None leaves the bands out of the legend.
    """
    pairs = [
        (low, high)
        for low in sorted(levels)
        for high in levels
        if low < 0.5 and np.isclose(high, 1.0 - low)
    ]
    for k, (low, high) in enumerate(pairs):
        lower, upper = levels[low], levels[high]
        ax.fill_between(
            lower.index,
            lower.to_numpy(dtype=float),
            upper.to_numpy(dtype=float),
            color=color,
            alpha=0.15 + 0.15 * k / max(len(pairs), 1),
            linewidth=0,
            label="_nolegend_"
            if label is None
            else f"{label} {round(100 * (high - low))}% interval",
        )
    return len(pairs)


def plot_forecast(
    history: Any,
    forecast: Any,
    quantiles: Any = None,
    *,
    ax: Axes | None = None,
    history_steps: int | None = None,
    label: str = "forecast",
    title: str | None = None,
) -> Axes:
    """Plot the history of one series, its forecast and shaded quantile intervals.

    Args:
        history: The observed series (a pd.Series, a one-column frame or a 1-D DataArray).
        forecast: The point forecast, same kinds.
        quantiles: Optional quantile forecast: a frame with columns ``q0.1``, ... (what
            ``predict_quantiles`` returns for a Series). Each central pair ``(a, 1 - a)``
            is shaded; other levels are ignored.
        ax: Axes to draw on; a new figure when None.
        history_steps: Show only the last ``history_steps`` steps of the history.
        label: Legend label of the forecast.
        title: Axes title.

    Returns:
        The axes, with the lines ``history`` and ``label`` and a legend.

    Raises:
        TypeError: If an input holds more than one series.
    """
    history, forecast = _as_series(history, "history"), _as_series(forecast, "forecast")
    if history_steps is not None:
        history = history.iloc[-int(history_steps) :]
    ax = _axes(ax)
    ax.plot(history.index, history.to_numpy(dtype=float), color="0.3", label="history")
    (line,) = ax.plot(forecast.index, forecast.to_numpy(dtype=float), label=label)
    if quantiles is not None:
        _bands(ax, _quantile_columns(quantiles), line.get_color(), label)
    ax.set_ylabel(str(history.name) if history.name is not None else "value")
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return ax


def plot_error_by_lead(
    results: Mapping[str, BacktestResult] | BacktestResult,
    metric: str = "MAE",
    ax: Axes | None = None,
) -> Axes:
    """Plot a score by lead time, one line per model, from backtest results.

    Args:
        results: One result, or a mapping of model names to results (on the same axes).
        metric: A column of ``result.metrics.by_lead``: ``"MAE"``, ``"RMSE"``, ``"MASE"``,
            and with quantiles ``"CRPS"``, ``"coverage"``, ``"width"``.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The axes: one line per result, labelled by its name, lead on the x axis.

    Raises:
        ValueError: If a result has no such metric.
    """
    if not isinstance(results, Mapping):
        results = {type(results.forecaster).__name__: results}
    ax = _axes(ax)
    freq = None
    for name, result in results.items():
        by_lead = result.metrics.by_lead
        if metric not in by_lead.columns:
            raise ValueError(
                f"The 'metric' argument of plot_error_by_lead must be a score of the result "
                f"{name!r}: one of {[c for c in by_lead.columns if c != 'count']}. Got "
                f"{metric!r} (CRPS, coverage and width need a backtest with levels)."
            )
        ax.plot(by_lead.index, by_lead[metric], marker="o", markersize=3, label=str(name))
        freq = result.freq
    step = f" (steps of {freq.freqstr})" if freq is not None else ""
    ax.set_xlabel(f"lead time{step}")
    ax.set_ylabel(metric)
    ax.legend(loc="best")
    return ax


def _pick_series(result: BacktestResult, series: Any) -> str:
    if series is None:
        return result.series[0]
    if str(series) not in result.series:
        raise ValueError(
            f"The 'series' argument must be one of the result's series {result.series[:10]}. "
            f"Got {series!r}."
        )
    return str(series)


def _pick_origins(result: BacktestResult, origins: Any) -> list[pd.Timestamp]:
    cutoffs = result.cutoffs
    if origins is None:
        count = min(3, len(cutoffs))
        picks = np.unique(np.linspace(0, len(cutoffs) - 1, count).round().astype(int))
        return [cutoffs[i] for i in picks]
    if isinstance(origins, int | str | pd.Timestamp) or not isinstance(origins, Sequence):
        origins = [origins]
    chosen = []
    for origin in origins:
        if isinstance(origin, int | np.integer) and not isinstance(origin, bool):
            if not -len(cutoffs) <= origin < len(cutoffs):
                raise ValueError(
                    f"The 'origins' argument holds position {origin}, but the result has "
                    f"{len(cutoffs)} origins. Pass positions in range or cutoff timestamps."
                )
            chosen.append(cutoffs[origin])
            continue
        stamp = pd.Timestamp(origin)
        if stamp not in cutoffs:
            raise ValueError(
                f"The 'origins' argument holds {stamp}, which is not a cutoff of the result "
                f"(from {cutoffs[0]} to {cutoffs[-1]}, every {cutoffs.to_series().diff().min()})"
                ". Pass cutoff timestamps or positions in `result.cutoffs`."
            )
        chosen.append(stamp)
    return chosen


def plot_origins(
    result: BacktestResult,
    origins: Any = None,
    *,
    series: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Plot backtest forecasts from chosen origins against the truth, for one series.

    Args:
        result: A backtest result.
        origins: Cutoff timestamps or positions in ``result.cutoffs``; three evenly spaced
            origins when None.
        series: The series label (see ``result.series``); the first when None.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The axes: a ``truth`` line, one line per origin (labelled ``from <cutoff>``), and the
        widest central quantile interval shaded when the result has levels.

    Raises:
        ValueError: For an unknown series or an origin that is not a cutoff.
    """
    name = _pick_series(result, series)
    chosen = _pick_origins(result, origins)
    frame = result.forecasts
    frame = frame[frame["series"] == name]
    ax = _axes(ax)
    first = min(chosen) - result.horizon * result.freq
    last = max(frame.loc[frame["cutoff"].isin(chosen), "ds"])
    truth = frame.drop_duplicates("ds").set_index("ds")["y"].sort_index()
    truth = truth[(truth.index > first) & (truth.index <= last)]
    ax.plot(truth.index, truth.to_numpy(), color="0.2", label="truth")
    quantile_columns = [c for c in frame.columns if _LEVEL.match(str(c))]
    for cutoff in chosen:
        rows = frame[frame["cutoff"] == cutoff].set_index("ds")
        (line,) = ax.plot(
            rows.index, rows["yhat"].to_numpy(), label=f"from {cutoff:%Y-%m-%d %H:%M}"
        )
        if quantile_columns:
            levels = {float(_LEVEL.match(c).group(1)): rows[c] for c in quantile_columns}
            widest = min(levels)
            if np.isclose(1.0 - widest, max(levels)) and widest < 0.5:
                levels = {widest: levels[widest], max(levels): levels[max(levels)]}
                _bands(ax, levels, line.get_color(), None)
    ax.set_title(name)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_grid(
    result: BacktestResult,
    series: Sequence[str] | None = None,
    *,
    origins: Any = None,
    ncols: int = 3,
    max_series: int = 12,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A grid of :func:`plot_origins` panels, one per series.

    Args:
        result: A backtest result.
        series: Labels to draw; the first ``max_series`` of ``result.series`` when None.
        origins: Origins for every panel (see :func:`plot_origins`).
        ncols: Panels per row.
        max_series: The most panels drawn when ``series`` is None.
        figsize: Figure size; about 4 by 3 inches per panel when None.

    Returns:
        The figure; its visible axes hold one series each, titled by its label.

    Raises:
        ValueError: For an unknown series or a bad ``ncols``.
    """
    ncols = check_int(ncols, "ncols", "plot_grid", kind="argument", error=ValueError)
    names = list(result.series[:max_series]) if series is None else [str(s) for s in series]
    ncols = min(ncols, len(names))
    nrows = -(-len(names) // ncols)
    size = figsize or (4.0 * ncols, 3.0 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, sharex=True)
    for ax, name in zip(axes.ravel(), names, strict=False):
        plot_origins(result, origins, series=name, ax=ax)
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
