"""The estimator shell shared by every forecaster: checks and conversions around the maths.

Like sktime, the public ``fit``/``predict``/``update`` (validation, layouts) are split from
private hooks that see only arrays and one typed fitted value. A forecaster's fitted state is
a :class:`Fitted`: the :class:`FitMeta` that every forecaster shares (cutoff, frequency,
layout, shape) and the method's own ``state`` (an immutable value: a NamedTuple of arrays).
The hooks take it and return new values; only :meth:`BaseForecaster.fit` and
:meth:`BaseForecaster.update` assign it, to ``fitted_``:

* ``_fit(panel, covariates) -> state``: ``panel`` is a :class:`~ssmcast.data.Panel`;
  ``covariates`` is None or an array ``(1 or num_series, num_timesteps, num_covariates)``.
* ``_update(fitted, panel, covariates) -> state``: the new steps, on the grid right after
  ``fitted.meta.cutoff``.
* ``_predict(fitted, horizon, covariates)`` returns ``(num_series, horizon, num_channels)``.
* ``_predict_quantiles(fitted, horizon, levels, covariates)`` returns ``(num_series,
  horizon, num_channels, len(levels))``, non-decreasing along the last axis in the order of
  sorted levels.

Each class declares what it can do in :attr:`BaseForecaster.capabilities`; the backtest
engine and the command line read that declaration (see :mod:`ssmcast.registry`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ssmcast.data import (
    Layout,
    Panel,
    check_horizon,
    check_levels,
    future_index,
    to_covariates,
    to_panel,
    to_update_panel,
)

__all__ = [
    "BaseForecaster",
    "Capabilities",
    "FitMeta",
    "Fitted",
    "capabilities_of",
    "fitted_attribute",
]


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a forecaster class can do, declared on the class.

    Attributes:
        one_pass_backtest: It defines ``_backtest_one_pass(panel, origins, horizon, levels)``
            (see :func:`ssmcast.backtest`), which forecasts from every origin at once.
        quantiles: ``predict_quantiles`` gives a probabilistic forecast.
        covariates: It uses covariates ``X`` (others accept and check them, then ignore them).
        save: It can be saved with ``save`` and read back with ``load``.
    """

    one_pass_backtest: bool = False
    quantiles: bool = True
    covariates: bool = False
    save: bool = False


def capabilities_of(forecaster: Any) -> Capabilities:
    """The declared capabilities of a forecaster (instance or class).

    A class that declares none (a forecaster from elsewhere with the public API only) gets
    the defaults: no one-pass backtest, quantiles, no covariates, no saving.

    Examples:
        >>> from ssmcast.baselines import Naive
        >>> capabilities_of(Naive()).one_pass_backtest
        False
    """
    cls = forecaster if isinstance(forecaster, type) else type(forecaster)
    declared = getattr(cls, "capabilities", None)
    return declared if isinstance(declared, Capabilities) else Capabilities()


class FitMeta(NamedTuple):
    """What every fitted forecaster knows about its data.

    Attributes:
        cutoff: The last timestamp seen (``fit`` or ``update``).
        freq: The frequency, a pandas offset.
        layout: The :class:`~ssmcast.data.Layout` that rebuilds outputs in the caller's
            layout.
        num_series: Number of series.
        num_channels: Number of channels (variables) per series.
        num_gaps: Missing timestamps inserted as NaN rows at fit.
        covariates: The names of the covariates ``X`` at fit (matched by name later), or
            None when fitted without them.
        num_timesteps: Time steps seen (``fit`` and every ``update``); no forecast may be
            longer. None for a model saved before it was recorded.
    """

    cutoff: pd.Timestamp
    freq: pd.DateOffset
    layout: Layout
    num_series: int
    num_channels: int
    num_gaps: int
    covariates: tuple[str, ...] | None = None
    num_timesteps: int | None = None

    @classmethod
    def from_panel(cls, panel: Panel) -> FitMeta:
        """The metadata of a panel, cut off at its last timestamp."""
        return cls(
            cutoff=panel.cutoff,
            freq=panel.freq,
            layout=panel.layout,
            num_series=panel.num_series,
            num_channels=panel.num_channels,
            num_gaps=panel.num_gaps,
            num_timesteps=panel.num_timesteps,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (read back by :meth:`from_dict`)."""
        return {
            "cutoff": self.cutoff.isoformat(),
            "tz": _zone_name(self.cutoff),
            "freq": self.freq.freqstr,
            "layout": self.layout.to_dict(),
            "num_series": int(self.num_series),
            "num_channels": int(self.num_channels),
            "num_gaps": int(self.num_gaps),
            "covariates": None if self.covariates is None else list(self.covariates),
            "num_timesteps": None if self.num_timesteps is None else int(self.num_timesteps),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitMeta:
        """Rebuild the metadata from :meth:`to_dict` output.

        Raises:
            KeyError, TypeError, ValueError: If ``data`` is not such output.
        """
        cutoff = pd.Timestamp(data["cutoff"])
        if data.get("tz") is not None:  # the named zone (the ISO text keeps only its offset)
            if cutoff.tz is None:
                raise ValueError(f"a cutoff without an offset in the time zone {data['tz']!r}")
            cutoff = cutoff.tz_convert(str(data["tz"]))
        return cls(
            cutoff=cutoff,
            freq=pd.tseries.frequencies.to_offset(data["freq"]),
            layout=Layout.from_dict(data["layout"]),
            num_series=int(data["num_series"]),
            num_channels=int(data["num_channels"]),
            num_gaps=int(data["num_gaps"]),
            covariates=None
            if data.get("covariates") is None
            else tuple(str(n) for n in data["covariates"]),
            num_timesteps=None if data.get("num_timesteps") is None else int(data["num_timesteps"]),
        )


class Fitted(NamedTuple):
    """A fitted forecaster as one value: shared metadata and the method's own state."""

    meta: FitMeta
    state: Any


def fitted_attribute(name: str, doc: str, *, part: str = "meta") -> property:
    """A read-only fitted attribute ``name + "_"`` reading ``fitted_.<part>.<name>``.

    Before ``fit`` it raises ``AttributeError``, so ``hasattr`` and scikit-learn's
    ``check_is_fitted`` see an unfitted estimator.

    Args:
        name: The field of the meta or the state.
        doc: The attribute's docstring.
        part: ``"meta"`` (the shared :class:`FitMeta`) or ``"state"`` (the method's own).
    """

    def get(self: BaseForecaster) -> Any:
        fitted = self.__dict__.get("fitted_")
        if fitted is None:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name + '_'!r} before 'fit'."
            )
        return getattr(getattr(fitted, part), name)

    return property(get, doc=doc)


class BaseForecaster(BaseEstimator):
    """Base class of ssmcast forecasters: scikit-learn conventions, any input layout.

    Subclasses define ``__init__`` with keyword arguments only (stored unchanged, including
    ``horizon`` and ``freq``), the private hooks listed in the module docstring, and
    :attr:`capabilities`.

    Attributes:
        fitted_: The :class:`Fitted` value that ``fit`` made and ``update`` advances.
        cutoff_: The last timestamp seen (moved by :meth:`update`).
        freq_: The frequency, a pandas offset.
        layout_: The :class:`~ssmcast.data.Layout` that rebuilds outputs in the caller's
            layout.
        num_series_: Number of series.
        num_channels_: Number of channels per series.
        num_gaps_: Missing timestamps inserted as NaN rows at fit.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()

    cutoff_ = fitted_attribute("cutoff", "The last timestamp seen (``fit`` or ``update``).")
    freq_ = fitted_attribute("freq", "The data's frequency, a pandas offset.")
    layout_ = fitted_attribute("layout", "How outputs are rebuilt in the caller's layout.")
    num_series_ = fitted_attribute("num_series", "Number of series.")
    num_channels_ = fitted_attribute("num_channels", "Number of channels per series.")
    num_gaps_ = fitted_attribute("num_gaps", "Missing timestamps inserted at fit.")

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
        covariates = to_covariates(X, layout=panel.layout, time=panel.time, name="X")
        values = None if covariates is None else covariates.values
        state = self._fit(panel, values)
        meta = FitMeta.from_panel(panel)
        if covariates is not None and capabilities_of(self).covariates:
            meta = meta._replace(covariates=covariates.names)
        self.fitted_ = Fitted(meta, state)
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
        values = self._predict(self.fitted_, horizon, covariates)
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
        values = self._predict_quantiles(self.fitted_, horizon, sorted_levels, covariates)
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
        covariates = self._covariates(X_new, panel.time, "X_new", "`y_new`", "update")
        fitted = self.fitted_
        state = self._update(fitted, panel, covariates)
        seen = fitted.meta.num_timesteps
        meta = fitted.meta._replace(
            cutoff=panel.cutoff,
            num_timesteps=None if seen is None else seen + panel.num_timesteps,
        )
        self.fitted_ = Fitted(meta, state)
        return self

    # --- helpers --------------------------------------------------------------------------

    def _check_fitted(self, method: str) -> None:
        if self.__dict__.get("fitted_") is not None:  # the common case, without sklearn's walk
            return
        check_is_fitted(
            self,
            "fitted_",
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
        seen = self.fitted_.meta.num_timesteps
        if seen is not None and horizon > max(seen, self.horizon):
            raise ValueError(
                f"The 'horizon' argument of {owner} ({horizon}) is longer than the "
                f"{seen} time steps the forecaster has seen, so the forecast would have no "
                f"support in the data. Ask for at most {max(seen, self.horizon)} steps, or fit "
                "on a longer history."
            )
        # named as the output's index will be (the layout then keeps it as it is)
        name = getattr(self.layout_, "index_name", None)
        time = future_index(self.cutoff_, self.freq_, horizon, name=name)
        covariates = self._covariates(X, time, "X", "the forecast", method)
        return horizon, time, covariates

    def _covariates(self, X: Any, time, name: str, target: str, method: str):
        """Covariates after fit: matched by name to those of fit; refused if fit had none."""
        names = self.fitted_.meta.covariates
        if X is not None and names is None and capabilities_of(self).covariates:
            raise ValueError(
                f"This {type(self).__name__} was fitted without covariates, so `{name}` "
                f"cannot be used by '{method}'. Drop `{name}`, or refit with `fit(y, X)`."
            )
        covariates = to_covariates(
            X, layout=self.layout_, time=time, name=name, target=target, names=names
        )
        return None if covariates is None else covariates.values


def _zone_name(time: pd.Timestamp) -> str | None:
    """The name of ``time``'s time zone, as pandas reads it back; None for a naive time.

    A zone that pandas cannot read back by name (a ``dateutil`` zone object) gives None: the
    ISO text of the time then keeps its offset only.

    Examples:
        >>> _zone_name(pd.Timestamp("2024-07-01", tz="Europe/Berlin"))
        'Europe/Berlin'
        >>> _zone_name(pd.Timestamp("2024-07-01")) is None
        True
    """
    tz = time.tz
    if tz is None:
        return None
    name = str(getattr(tz, "key", None) or getattr(tz, "zone", None) or tz)
    try:
        time.tz_convert(name)
    except Exception:  # a name pandas cannot read back is no name
        return None
    return name
