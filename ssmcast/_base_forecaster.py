"""The estimator shell shared by every forecaster: checks and conversions around the maths.

Like sktime, the public ``fit``/``predict``/``update`` (validation, layouts) are split from
private ``_fit``/``_predict``/``_update`` (the method), which see only arrays:

* ``_fit(panel, covariates)``: ``panel`` is a :class:`~ssmcast.data.Panel`; ``covariates``
  is None or an array ``(1 or num_series, num_timesteps, num_covariates)``.
* ``_predict(horizon, covariates)`` returns ``(num_series, horizon, num_channels)``.
* ``_predict_quantiles(horizon, levels, covariates)`` returns ``(num_series, horizon,
  num_channels, len(levels))``, non-decreasing along the last axis in the order of sorted
  levels.
* ``_update(panel, covariates)``: the new steps, on the grid right after ``cutoff_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ssmcast.data import (
    Panel,
    align_covariates,
    check_horizon,
    check_levels,
    future_index,
    to_panel,
    to_update_panel,
)

__all__ = ["BaseForecaster"]


class BaseForecaster(BaseEstimator):
    """Base class of ssmcast forecasters: scikit-learn conventions, any input layout.

    Subclasses define ``__init__`` with keyword arguments only (stored unchanged, including
    ``horizon`` and ``freq``) and the private methods listed in the module docstring.

    Fitted attributes, set by :meth:`fit`:

    * ``cutoff_``: the last timestamp seen (moved by :meth:`update`).
    * ``freq_``: the frequency, a pandas offset.
    * ``layout_``: the :class:`~ssmcast.data.Layout` that rebuilds outputs in the caller's
      layout.
    * ``num_series_``, ``num_channels_``: the shape of the data.
    * ``num_gaps_``: missing timestamps inserted as NaN rows at fit.
    """

    def _min_length(self, panel: Panel) -> tuple[int, str]:
        """The fewest time steps ``fit`` accepts, and why (for the message)."""
        return 1, ""

    def _check_params(self) -> None:
        """Validate the subclass's own parameters; raise ValueError/TypeError."""

    # --- public API -----------------------------------------------------------------------

    def fit(self, y: Any, X: Any = None) -> BaseForecaster:
        """Fit the forecaster to the series ``y``.

        Args:
            y: The observations: a ``pd.Series`` or wide ``pd.DataFrame`` with a
                DatetimeIndex, a long ``pd.DataFrame`` (``unique_id``, ``ds``, values), or an
                ``xr.DataArray``/``xr.Dataset`` with a ``time`` dimension. NaN values are
                missing; missing timestamps are inserted as NaN rows (with a warning).
            X: Optional covariates on the same timestamps (any of those layouts).

        Returns:
            The fitted forecaster (``self``).

        Raises:
            TypeError, ValueError: For bad parameters or data; the message says how to fix it.
        """
        owner = type(self).__name__
        check_horizon(self.horizon, owner)
        self._check_params()
        panel = to_panel(y, freq=self.freq, name="y")
        need, why = self._min_length(panel)
        if panel.num_timesteps < need:
            raise ValueError(
                f"`y` has {panel.num_timesteps} time step(s), but {owner} needs at least "
                f"{need}{why}. Pass a longer history."
            )
        covariates = align_covariates(X, layout=panel.layout, time=panel.time, name="X")
        self._fit(panel, covariates)
        self.cutoff_ = panel.cutoff
        self.freq_ = panel.freq
        self.layout_ = panel.layout
        self.num_series_ = panel.num_series
        self.num_channels_ = panel.num_channels
        self.num_gaps_ = panel.num_gaps
        return self

    def predict(self, horizon: int | None = None, X: Any = None) -> Any:
        """Forecast the next ``horizon`` steps after ``cutoff_``.

        Args:
            horizon: Number of steps; the ``horizon`` parameter when None.
            X: Optional covariates on exactly the forecast timestamps. Baselines ignore
                them; SSMForecaster needs them only to roll out beyond its horizon.

        Returns:
            The forecast in the layout of the data passed to ``fit``, indexed by the future
            timestamps ``cutoff_ + freq_, cutoff_ + 2 freq_, ...``.

        Raises:
            sklearn.exceptions.NotFittedError: If the forecaster is not fitted.
            TypeError, ValueError: For a bad ``horizon`` or ``X``.
        """
        horizon, time, covariates = self._prepare("predict", horizon, X)
        values = self._predict(horizon, covariates)
        return self.layout_.forecast(values, time)

    def predict_quantiles(self, levels: Any, horizon: int | None = None, X: Any = None) -> Any:
        """Forecast quantiles of the next ``horizon`` steps after ``cutoff_``.

        Args:
            levels: Quantile levels, a list of distinct floats in (0, 1), e.g.
                ``[0.1, 0.5, 0.9]``. Outputs follow this order.
            horizon: Number of steps; the ``horizon`` parameter when None.
            X: Optional covariates on exactly the forecast timestamps. Baselines ignore
                them; SSMForecaster needs them only to roll out beyond its horizon.

        Returns:
            The quantile forecast in the layout of the data passed to ``fit``: columns
            ``q0.1``, ... (Series, long frames), a last column level ``quantile`` (wide
            frames) or a ``quantile`` dimension (xarray). Quantiles never cross.

        Raises:
            sklearn.exceptions.NotFittedError: If the forecaster is not fitted.
            TypeError, ValueError: For bad ``levels``, ``horizon`` or ``X``.
        """
        levels = check_levels(levels, f"{type(self).__name__}.predict_quantiles")
        horizon, time, covariates = self._prepare("predict_quantiles", horizon, X)
        order = np.argsort(levels)
        sorted_levels = tuple(levels[i] for i in order)
        values = self._predict_quantiles(horizon, sorted_levels, covariates)
        values = np.sort(values, axis=-1)  # never cross, whatever the method's rounding
        values = values[..., np.argsort(order)]  # back to the caller's order
        return self.layout_.quantiles(values, time, levels)

    def update(self, y_new: Any, X_new: Any = None) -> BaseForecaster:
        """Add new observations after ``cutoff_`` without refitting.

        ``y_new`` must have the layout of the data passed to ``fit`` and start after
        ``cutoff_`` on the same grid; if it starts later, the skipped timestamps are missing
        values (with a warning). The forecaster's parameters do not change; only its state and
        ``cutoff_`` move. Several small updates give the same state as one large update.

        Args:
            y_new: The new observations.
            X_new: Covariates on the same timestamps as ``y_new``.

        Returns:
            The updated forecaster (``self``).

        Raises:
            sklearn.exceptions.NotFittedError: If the forecaster is not fitted.
            TypeError, ValueError: If ``y_new`` overlaps the fitted range or does not match
                the fitted layout.
        """
        self._check_fitted("update")
        panel = to_update_panel(
            y_new, layout=self.layout_, cutoff=self.cutoff_, freq=self.freq_, name="y_new"
        )
        covariates = align_covariates(
            X_new, layout=self.layout_, time=panel.time, name="X_new", target="`y_new`"
        )
        self._update(panel, covariates)
        self.cutoff_ = panel.cutoff
        return self

    # --- helpers --------------------------------------------------------------------------

    def _check_fitted(self, method: str) -> None:
        check_is_fitted(
            self,
            "cutoff_",
            msg=(
                f"This %(name)s instance is not fitted yet. Call 'fit' with the training data "
                f"before '{method}'."
            ),
        )

    def _prepare(self, method: str, horizon: int | None, X: Any):
        self._check_fitted(method)
        owner = f"{type(self).__name__}.{method}"
        if horizon is None:
            horizon = check_horizon(self.horizon, type(self).__name__)
        else:
            horizon = check_horizon(horizon, owner, "argument")
        time = future_index(self.cutoff_, self.freq_, horizon)
        covariates = align_covariates(
            X, layout=self.layout_, time=time, name="X", target="the forecast"
        )
        return horizon, time, covariates
