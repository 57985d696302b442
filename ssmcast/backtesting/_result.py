"""The result of a backtest, a plain value: forecasts as a long frame, scores, skill, xarray.

Plots read results (:mod:`ssmcast.plot`); a result knows nothing of plotting.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ssmcast import metrics
from ssmcast.data import format_levels, nominal_step

__all__ = ["REFERENCES", "BacktestMetrics", "BacktestResult"]

REFERENCES = ("naive", "seasonal_naive", "climatology")
"""Baselines that :meth:`BacktestResult.skill` can backtest by name as references."""


@dataclasses.dataclass(frozen=True)
class BacktestMetrics:
    """Scores of a backtest (or skill scores against a reference), three ways.

    Attributes:
        overall: One value per score over every origin, lead and series.
        by_lead: One row per lead (index ``lead``, 1 to ``horizon``).
        by_series: One row per series (index ``series``).
        interval: The quantile levels ``(low, high)`` of the interval behind ``coverage``
            and ``width`` (the widest central one), or None.
        title: What the scores are, for display.
    """

    overall: pd.Series
    by_lead: pd.DataFrame
    by_series: pd.DataFrame
    interval: tuple[float, float] | None = None
    title: str = "backtest metrics"

    def __repr__(self) -> str:
        with pd.option_context("display.max_rows", 12, "display.width", 100):
            return (
                f"{self.title}\n\noverall\n{self.overall.to_string()}\n\nby lead\n"
                f"{self.by_lead}\n\nby series\n{self.by_series}"
            )


def _central_interval(levels: tuple[float, ...] | None) -> tuple[int, int] | None:
    """Positions of the widest central interval ``(a, 1 - a)`` among the levels."""
    if not levels:
        return None
    for i, low in enumerate(levels):  # sorted: the first match is the widest
        if low >= 0.5:
            break
        matches = np.flatnonzero(np.isclose(levels, 1.0 - low))
        if len(matches):
            return i, int(matches[0])
    return None


def _seasonal_scales(y_train: np.ndarray, season: int, labels: list[str]) -> np.ndarray:
    """The MASE scale of each series (NaN, with a warning, where it is undefined)."""
    scales = np.full(y_train.shape[1], np.nan)
    problems = []
    for n in range(y_train.shape[1]):
        try:  # mase of an error of 1 is 1 / scale
            scales[n] = 1.0 / metrics.mase([0.0], [1.0], y_train[:, n], season_length=season)
        except ValueError as err:
            problems.append(f"{labels[n]!r} ({str(err).split('. ')[0]})")
    if problems:
        warnings.warn(
            f"MASE is NaN for {len(problems)} series whose scale (from the training data "
            f"before `start`) is undefined: {'; '.join(problems[:3])}. Use MAE for them.",
            RuntimeWarning,
            stacklevel=4,
        )
    return scales


class BacktestResult:
    """Forecasts from every origin of a backtest, with the truth; made by ``backtest``.

    Attributes:
        horizon: Steps forecast from each origin.
        freq: The frequency of the data, a pandas offset.
        levels: Sorted quantile levels, or None.
        series: Labels of the series (see ``backtest``), in the order of the data.
        cutoffs: The cutoff of each origin (its last observed timestamp).
        season_length: Season length of the MASE scale (from the frequency).
        forecaster: The last fitted clone, advanced to the last cutoff.
        method: ``"loop"`` or ``"one_pass"``, the path that made the forecasts.
    """

    def __init__(
        self,
        *,
        truth: np.ndarray,
        point: np.ndarray,
        quantiles: np.ndarray | None,
        levels: tuple[float, ...] | None,
        series: list[str],
        time: pd.DatetimeIndex,
        cutoffs: np.ndarray,
        y_train: np.ndarray,
        season_length: int,
        forecaster: Any,
        method: str,
        run_reference: Callable[[str], BacktestResult] | None = None,
    ):
        # arrays are (num_origins, horizon, num_series[, num_levels]), NaN beyond the data
        self._truth, self._point, self._quantiles = truth, point, quantiles
        self._time, self._positions = time, np.asarray(cutoffs, dtype=np.int64)
        self._y_train, self._run_reference = y_train, run_reference
        self._references: dict[str, BacktestResult] = {}
        self.levels, self.series, self.season_length = levels, list(series), season_length
        self.forecaster, self.method = forecaster, method
        self.horizon, self.freq = point.shape[1], time.freq
        self.cutoffs = pd.DatetimeIndex(time[self._positions], name="cutoff")

    def __repr__(self) -> str:
        return (
            f"BacktestResult({len(self.series)} series, {len(self.cutoffs)} origins from "
            f"{self.cutoffs[0]} to {self.cutoffs[-1]}, horizon={self.horizon}, "
            f"levels={self.levels}, method={self.method!r})"
        )

    @functools.cached_property
    def forecasts(self) -> pd.DataFrame:
        """The long frame: ``series, cutoff, ds, lead, y, yhat`` (and ``q0.1``, ...).

        One row per series, origin and lead whose timestamp ``ds`` lies inside the data,
        sorted by series (in the order of the data), cutoff and lead. ``y`` is NaN where the
        value is missing in the data.
        """
        num_origins, horizon, num_series = self._point.shape
        positions = self._positions[:, None] + np.arange(1, horizon + 1)[None, :]
        inside = np.broadcast_to(positions < len(self._time), (num_series, num_origins, horizon))
        keep = inside.ravel()

        def flat(values: np.ndarray) -> np.ndarray:  # (O, H, N) -> series-major rows
            return np.moveaxis(values, 2, 0).reshape(-1, *values.shape[3:])[keep]

        lead = np.broadcast_to(np.arange(1, horizon + 1), (num_series, num_origins, horizon))
        cutoff = np.broadcast_to(self._positions[None, :, None], lead.shape)
        frame = {
            "series": np.repeat(np.asarray(self.series, dtype=str), num_origins * horizon)[keep],
            "cutoff": self._time[cutoff.ravel()[keep]].rename(None),
            "ds": self._time[np.minimum(cutoff + lead, len(self._time) - 1).ravel()[keep]],
            "lead": lead.ravel()[keep].astype(np.int64),
            "y": flat(self._truth),
            "yhat": flat(self._point),
        }
        frame["ds"] = frame["ds"].rename(None)
        if self._quantiles is not None:
            quantiles = flat(self._quantiles)
            for j, label in enumerate(format_levels(self.levels)):
                frame[label] = quantiles[:, j]
        return pd.DataFrame(frame)

    def _scores(self, axis) -> dict[str, Any]:
        truth, point = self._truth, self._point
        scored = ~np.isnan(truth) & ~np.isnan(point)
        scales = self._scales
        out = {
            "count": scored.sum() if axis is None else scored.sum(axis=axis),
            "MAE": metrics.mae(truth, point, axis=axis),
            "RMSE": metrics.rmse(truth, point, axis=axis),
            "MASE": metrics.mae(truth / scales, point / scales, axis=axis),
        }
        if self._quantiles is not None:
            out["CRPS"] = metrics.crps_quantiles(truth, self._quantiles, self.levels, axis=axis)
            interval = _central_interval(self.levels)
            if interval is not None:
                low, high = (self._quantiles[..., i] for i in interval)
                out["coverage"] = metrics.interval_coverage(truth, low, high, axis=axis)
                out["width"] = metrics.interval_width(low, high, y_true=truth, axis=axis)
        return out

    @functools.cached_property
    def _scales(self) -> np.ndarray:
        return _seasonal_scales(self._y_train, self.season_length, self.series)

    @functools.cached_property
    def metrics(self) -> BacktestMetrics:
        """Scores overall, by lead and by series: MAE, RMSE, MASE (CRPS, coverage, width).

        Every score is averaged over the points where both the truth and the forecast exist
        (``count`` of them). MASE divides each series' errors by the in-sample MAE of the
        seasonal naive forecast (season length from the frequency) on the data before
        ``start``. CRPS is :func:`ssmcast.metrics.crps_quantiles` over all levels;
        ``coverage`` and ``width`` are those of the widest central interval among the levels
        (``0.1`` and ``0.9`` for an 80% interval), absent when no level pair is symmetric.
        """
        interval = _central_interval(self.levels)
        return BacktestMetrics(
            overall=pd.Series(self._scores(None), name="overall", dtype=float),
            by_lead=pd.DataFrame(
                self._scores((0, 2)), index=pd.RangeIndex(1, self.horizon + 1, name="lead")
            ),
            by_series=pd.DataFrame(
                self._scores((0, 1)), index=pd.Index(self.series, name="series")
            ),
            interval=None if interval is None else tuple(self.levels[i] for i in interval),
        )

    def reference(self, reference: Any) -> BacktestResult:
        """The backtest of a reference forecast over the same origins (run once, cached).

        Args:
            reference: ``"naive"``, ``"seasonal_naive"``, ``"climatology"`` or a result.

        Returns:
            The reference's :class:`BacktestResult`.

        Raises:
            ValueError: For an unknown reference name.
            TypeError: For a reference of another type.
        """
        if isinstance(reference, BacktestResult):
            return reference
        if not isinstance(reference, str):
            raise TypeError(
                f"The 'reference' argument of BacktestResult.skill must be one of "
                f"{list(REFERENCES)} or a BacktestResult. Got {type(reference).__name__}."
            )
        if reference not in REFERENCES:
            raise ValueError(
                f"The 'reference' argument of BacktestResult.skill must be one of "
                f"{list(REFERENCES)} or a BacktestResult. Got {reference!r}."
            )
        if reference not in self._references:
            if self._run_reference is None:
                raise ValueError(
                    f"This BacktestResult cannot run the {reference!r} reference: it was not "
                    "made by backtest. Pass a BacktestResult of the reference instead."
                )
            self._references[reference] = self._run_reference(reference)
        return self._references[reference]

    def skill(self, reference: str | BacktestResult = "naive") -> BacktestMetrics:
        """Skill scores ``1 - score / score_ref`` against a reference forecast.

        Args:
            reference: ``"naive"`` (persistence), ``"seasonal_naive"``, ``"climatology"``
                (each backtested on the same data, origins and training windows, fitted
                once and updated; cached), or another result with the same series, cutoffs
                and horizon.

        Returns:
            Skill of MAE and RMSE (and CRPS when both have quantiles), overall, by lead and
            by series: 1 is perfect, 0 no better than the reference, negative worse.

        Raises:
            ValueError: For an unknown reference name, or a result over other origins.
            TypeError: For a reference of another type.
        """
        ref = self.reference(reference)
        if (
            ref.series != self.series
            or not ref.cutoffs.equals(self.cutoffs)
            or (ref.horizon != self.horizon)
        ):
            raise ValueError(
                "The 'reference' result of BacktestResult.skill must have the same series, "
                f"cutoffs and horizon. Got {len(ref.series)} series, {len(ref.cutoffs)} "
                f"cutoffs, horizon {ref.horizon}; expected {len(self.series)}, "
                f"{len(self.cutoffs)}, {self.horizon}. Backtest both with the same arguments."
            )
        mine, theirs = self.metrics, ref.metrics
        columns = ["MAE", "RMSE"] + (
            ["CRPS"] if "CRPS" in mine.overall and "CRPS" in theirs.overall else []
        )

        def ratio(score, score_ref):
            values = metrics.skill_score(
                score[columns].to_numpy(dtype=float), score_ref[columns].to_numpy(dtype=float)
            )
            if isinstance(score, pd.Series):
                return pd.Series(values, index=columns, name="overall")
            return pd.DataFrame(values, index=score.index, columns=columns)

        name = reference if isinstance(reference, str) else "the reference result"
        return BacktestMetrics(
            overall=ratio(mine.overall, theirs.overall),
            by_lead=ratio(mine.by_lead, theirs.by_lead),
            by_series=ratio(mine.by_series, theirs.by_series),
            title=f"skill scores against {name} (1 - score / score_ref)",
        )

    def to_xarray(self) -> xr.Dataset:
        """The forecasts as an ``xr.Dataset`` on ``series``, ``init_time`` and ``lead_time``.

        ``init_time`` is the cutoff, ``lead_time`` a timedelta (lead times the nominal step
        of the frequency), with coordinates ``lead`` (the step number) and ``valid_time``
        (the forecast timestamp). Variables ``y`` and ``yhat`` (NaN beyond the data), and
        ``quantiles`` with a ``quantile`` dimension when levels were given.
        """
        dims = ("series", "init_time", "lead_time")
        lead = np.arange(1, self.horizon + 1)
        grid = pd.date_range(
            self._time[0], periods=len(self._time) + self.horizon, freq=self._time.freq
        )
        valid = grid.to_numpy()[self._positions[:, None] + lead[None, :]]
        data_vars = {
            "y": (dims, np.moveaxis(self._truth, 2, 0)),
            "yhat": (dims, np.moveaxis(self._point, 2, 0)),
        }
        coords = {
            "series": list(self.series),
            "init_time": self.cutoffs.rename(None),
            "lead_time": pd.to_timedelta(lead * nominal_step(self._time.freq)),
            "lead": ("lead_time", lead),
            "valid_time": (("init_time", "lead_time"), valid),
        }
        if self._quantiles is not None:
            data_vars["quantiles"] = ((*dims, "quantile"), np.moveaxis(self._quantiles, 2, 0))
            coords["quantile"] = list(self.levels)
        return xr.Dataset(data_vars, coords=coords, attrs={"method": self.method})
