"""SSMCastForecaster: ssmcast's SSMForecaster behind sktime's BaseForecaster interface."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster

from ssmcast.forecaster import SSMForecaster
from ssmcast.sktime._convert import ID, TIME, Frames, stack

__all__ = ["SSMCastForecaster"]

# The parameters handed to SSMForecaster unchanged (``horizon`` and ``seasons`` are decided
# in ``_fit``; ``freq`` is read from sktime's index).
_PASSED = (
    "model",
    "d_model",
    "num_layers",
    "state_dim",
    "max_epochs",
    "batch_size",
    "segment_length",
    "learning_rate",
    "validation_fraction",
    "patience",
    "selection_window",
    "loss",
    "method",
    "staleness",
    "level_input",
    "calibrate",
    "calibration_rate",
    "clip_outliers",
    "ensemble_size",
    "random_state",
    "progress",
)
_DEFAULT_HORIZON = 24


class SSMCastForecaster(BaseForecaster):
    """ssmcast's state space model forecaster, for sktime.

    Wraps :class:`ssmcast.SSMForecaster` (see it for the model and every parameter but
    ``horizon``): fit once, forecast with quantiles, and follow new data with ``update``
    in O(1) per step, without refitting.

    What sktime gets:

    * **Univariate and multivariate** ``y``: the columns of ``y`` are forecast jointly, as
      channels of one series.
    * **Panel and hierarchical** ``y`` (a row MultiIndex ``(instance, ..., time)``): every
      instance is a series of one global model (shared weights, a state per series), not
      one model per instance. Instances may end at different times: each is forecast from
      the latest time in the data, and the steps it has not seen are missing values.
    * **Missing values** (NaN) are masked, never imputed.
    * **Exogenous** ``X``, on the same rows as ``y``. Forecasts within ``horizon`` read ``X``
      up to the cutoff only; beyond it, the forecast rolls out and needs ``X`` on every step
      up to the last one asked for.
    * ``predict_quantiles`` and ``predict_interval``, from the forecast distribution; no
      in-sample forecasts.
    * ``update`` advances the recurrent state by the new observations; the network's
      parameters stay those of the fit, whatever ``update_params`` says. Observations at or
      before the cutoff are already in the state and are skipped.

    Time indexes: a ``DatetimeIndex`` (on a regular grid; its ``freq``, or an inferred one), a
    ``PeriodIndex`` (read at the start of each period), or an integer index (a step of the
    index is a step of time, with no calendar: ``seasons="auto"`` then means none; pass
    ``seasons=(12,)`` to give the network a season of 12 steps).

    Args:
        model: ``"s5"``, ``"mamba"`` or ``"hybrid"``.
        horizon: Steps the network forecasts directly. When None: the largest step of the
            ``fh`` passed to ``fit``, or, without one, 24 steps (fewer for a series shorter than
            50 steps: at most half its length less one).
        d_model: Width of the network.
        num_layers: Number of residual blocks.
        state_dim: States per SSM layer; the layer's default when None.
        max_epochs: Most training epochs.
        batch_size: Training segments per step.
        segment_length: Time steps per training segment (None: SSMForecaster's default).
        learning_rate: Peak learning rate.
        validation_fraction: Share of the observations held out for early stopping.
        patience: Epochs without a better validation loss before stopping.
        selection_window: Epochs (odd) whose mean validation loss judges each epoch.
        loss: ``"crps"`` or ``"nll"``.
        method: Scan method of the SSM layers.
        freq: Frequency of a ``DatetimeIndex`` without one (a pandas alias); else unused.
        seasons: Season lengths (steps) of the seasonal base; ``"auto"`` reads them from the
            frequency (none for an integer index).
        staleness: Feed the time since the last observation.
        level_input: How the network reads the targets: ``"absolute"``, ``"local"`` (their
            departure from a running level) or ``"both"``.
        calibrate: Recalibrate the spread per lead on the validation tail.
        calibration_rate: How fast each series' calibration follows its errors in
            ``update`` (0: fixed after fit).
        clip_outliers: Robust standard deviations beyond which values are clipped.
        ensemble_size: Networks trained together from different seeds.
        random_state: Seed; random when None.
        progress: Show a progress bar while training.

    Attributes:
        forecaster_: The fitted :class:`ssmcast.SSMForecaster` (on ssmcast's long frame).

    Examples:
        >>> from sktime.datasets import load_airline
        >>> from ssmcast.sktime import SSMCastForecaster
        >>> y = load_airline()  # monthly, PeriodIndex
        >>> f = SSMCastForecaster(
        ...     d_model=4, num_layers=1, max_epochs=1, ensemble_size=1, random_state=0
        ... )
        >>> f.fit(y, fh=[1, 2, 3]).predict().index.astype(str).tolist()
        ['1961-01', '1961-02', '1961-03']
        >>> f.predict_interval(coverage=0.8).columns.get_level_values(-1).tolist()
        ['lower', 'upper']
    """

    _tags: ClassVar[dict[str, Any]] = {
        "authors": ["The ssmcast developers"],
        "maintainers": ["The ssmcast developers"],
        "python_dependencies": None,
        "object_type": "forecaster",
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "capability:multivariate": True,
        "capability:exogenous": True,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": True,
        "capability:non_contiguous_X": False,
        "capability:update": True,
        "capability:categorical_in_X": False,
        "capability:unequal_length": True,
        "requires-fh-in-fit": False,
        "X-y-must-have-same-index": True,
        "fit_is_empty": False,
        "capability:random_state": True,
        "property:randomness": "derandomized",
    }

    def __init__(
        self,
        model: str = "s5",
        horizon: int | None = None,
        d_model: int = 32,
        num_layers: int = 2,
        state_dim: int | None = None,
        max_epochs: int = 20,
        batch_size: int = 16,
        segment_length: int | None = None,
        learning_rate: float = 6e-3,
        validation_fraction: float = 0.1,
        patience: int = 5,
        selection_window: int = 1,
        loss: str = "crps",
        method: str = "auto",
        freq: str | None = None,
        seasons: str | tuple[int, ...] = "auto",
        staleness: bool = True,
        level_input: str = "absolute",
        calibrate: bool = True,
        calibration_rate: float = 0.02,
        clip_outliers: float | None = 20.0,
        ensemble_size: int = 4,
        random_state: int | None = None,
        progress: bool = False,
    ):
        self.model = model
        self.horizon = horizon
        self.d_model = d_model
        self.num_layers = num_layers
        self.state_dim = state_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.segment_length = segment_length
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.selection_window = selection_window
        self.loss = loss
        self.method = method
        self.freq = freq
        self.seasons = seasons
        self.staleness = staleness
        self.level_input = level_input
        self.calibrate = calibrate
        self.calibration_rate = calibration_rate
        self.clip_outliers = clip_outliers
        self.ensemble_size = ensemble_size
        self.random_state = random_state
        self.progress = progress
        super().__init__()

    # --- fit -------------------------------------------------------------------------------

    def _fit(self, y: pd.DataFrame, X: pd.DataFrame | None, fh: Any) -> SSMCastForecaster:
        frames = Frames(y, self.freq)
        long = frames.to_long(y, "y", frames.value_names())
        covariates = None
        if X is not None:
            covariates = frames.to_long(X, "X", frames.covariate_names(X))
        seasons = self.seasons
        if frames.axis.kind == "integer" and isinstance(seasons, str) and seasons == "auto":
            seasons = ()  # an integer index has no calendar to read a season from
        params = {name: getattr(self, name) for name in _PASSED}
        forecaster = SSMForecaster(
            horizon=self._fit_horizon(fh, long[TIME].nunique()),
            freq=frames.axis.freq,
            seasons=seasons,
            **params,
        )
        self.forecaster_ = forecaster.fit(long, X=covariates)
        self._frames = frames
        return self

    def _fit_horizon(self, fh: Any, num_timesteps: int) -> int:
        if self.horizon is not None:
            return self.horizon
        if fh is not None:
            return int(np.max(self._steps(fh)))
        return max(1, min(_DEFAULT_HORIZON, (num_timesteps - 2) // 2))

    # --- predict ---------------------------------------------------------------------------

    def _steps(self, fh: Any) -> np.ndarray:
        """The steps ahead of the cutoff that ``fh`` asks for (all positive)."""
        return np.asarray(fh.to_relative(self.cutoff), dtype=np.int64)

    def _future_X(self, X: pd.DataFrame | None, horizon: int) -> pd.DataFrame | None:
        """Covariates for a forecast ``horizon`` steps ahead, or None when not needed."""
        fitted = self.forecaster_
        if X is None or fitted.fitted_.meta.covariates is None or horizon <= fitted.horizon:
            return None
        frames = self._frames
        long = frames.to_long(X, "X", frames.covariate_names(X), after=fitted.cutoff_)
        last = fitted.cutoff_ + horizon * fitted.freq_
        return long[long[TIME] <= last]

    def _predict(self, fh: Any, X: pd.DataFrame | None) -> pd.DataFrame:
        steps = self._steps(fh)
        horizon = int(steps.max())
        output = self.forecaster_.predict(horizon=horizon, X=self._future_X(X, horizon))
        values = stack(output.drop(columns=[ID, TIME]).to_numpy(), self._frames.num_series)
        values = values[:, steps - 1].reshape(-1, values.shape[-1])
        index = self._frames.output_index(fh.to_absolute_index(self.cutoff))
        return pd.DataFrame(values, index=index, columns=self._frames.columns)

    def _quantile_values(self, fh: Any, X: pd.DataFrame | None, levels: list[float]):
        """Quantiles ``(rows, columns, levels)`` at the steps of ``fh``, and the row index."""
        steps = self._steps(fh)
        horizon = int(steps.max())
        output = self.forecaster_.predict_quantiles(
            levels, horizon=horizon, X=self._future_X(X, horizon)
        )
        frames = self._frames
        flat = output.drop(columns=[ID, TIME]).to_numpy()
        values = stack(flat, frames.num_series)[:, steps - 1]
        values = values.reshape(-1, len(frames.columns), len(levels))
        return values, frames.output_index(fh.to_absolute_index(self.cutoff))

    def _predict_quantiles(self, fh: Any, X: pd.DataFrame | None, alpha: list[float]):
        levels = [float(a) for a in alpha]
        values, index = self._quantile_values(fh, X, levels)
        columns = pd.MultiIndex.from_product([self._frames.columns, alpha])
        return pd.DataFrame(values.reshape(len(index), -1), index=index, columns=columns)

    def _predict_interval(self, fh: Any, X: pd.DataFrame | None, coverage: list[float]):
        bounds = [(0.5 - c / 2, 0.5 + c / 2) for c in coverage]
        levels = sorted({level for pair in bounds for level in pair})
        values, index = self._quantile_values(fh, X, levels)
        data, columns = [], []
        for j, variable in enumerate(self._frames.columns):
            for c, pair in zip(coverage, bounds, strict=True):
                for side, level in zip(("lower", "upper"), pair, strict=True):
                    data.append(values[:, j, levels.index(level)])
                    columns.append((variable, c, side))
        return pd.DataFrame(
            np.stack(data, axis=1), index=index, columns=pd.MultiIndex.from_tuples(columns)
        )

    # --- update ----------------------------------------------------------------------------

    def _update(
        self, y: pd.DataFrame, X: pd.DataFrame | None = None, update_params: bool = True
    ) -> SSMCastForecaster:
        fitted, frames = self.forecaster_, self._frames
        long = frames.to_long(y, "y", frames.value_names(), after=fitted.cutoff_)
        if long.empty:
            return self
        long = frames.complete(long)
        covariates = None
        if X is not None and fitted.fitted_.meta.covariates is not None:
            covariates = frames.to_long(X, "X", frames.covariate_names(X), after=fitted.cutoff_)
            covariates = covariates[covariates[TIME] <= long[TIME].max()]
        fitted.update(long, X_new=covariates)
        return self

    # --- sktime's test settings ------------------------------------------------------------

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict[str, Any]]:
        """Tiny settings for sktime's estimator checks (seconds, not a useful model).

        Args:
            parameter_set: The name of the set; there is one, ``"default"``.

        Returns:
            Parameter dicts, each building a valid instance.
        """
        tiny = {
            "d_model": 4,
            "num_layers": 1,
            "state_dim": 4,
            "max_epochs": 1,
            "batch_size": 2,
            "segment_length": 16,
            "ensemble_size": 1,
            "calibrate": False,
        }
        # The second set changes only what needs no other compiled programs, so that it
        # costs sktime's suite little: the seed, and values read as they are.
        return [{**tiny, "random_state": 0}, {**tiny, "random_state": 1, "clip_outliers": None}]
