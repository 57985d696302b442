"""Baseline forecasters with the estimator API of ssmcast: the yardsticks of every evaluation.

* :class:`Naive`: persistence, the last observed value.
* :class:`SeasonalNaive`: the value one season earlier (24 h for hourly data).
* :class:`Climatology`: the mean at the same time of day and time of year.
* :class:`Drift`: the straight line through the first and the last observation.

All follow scikit-learn conventions and take any input layout of :mod:`ssmcast.data`
(``pd.Series``, wide or long ``pd.DataFrame``, ``xr.DataArray``, ``xr.Dataset``); outputs
come back in the same layout, on the future timestamps. Series and channels are forecast
independently. Covariates ``X`` are accepted for API compatibility, checked, and not used.

Missing values: every method uses the last *observed* value it needs, so NaN at the end of
the series (a sensor that just went down) still gives a full forecast.

Quantiles (:meth:`predict_quantiles`) are empirical quantiles of the method's own in-sample
forecast errors at each lead, computed from the data passed to ``fit`` (updates move the
forecasts, not the error distribution); the spread widens with lead and the quantiles never
cross (see :func:`ssmcast.baselines._residuals.residual_quantiles`).

Examples:
    >>> from ssmcast import datasets
    >>> from ssmcast.baselines import SeasonalNaive
    >>> temp = datasets.load("beijing")["TEMP"].loc["2014-12-01":"2014-12-30"]
    >>> f = SeasonalNaive(horizon=3).fit(temp)
    >>> f.season_length_, f.cutoff_
    (24, Timestamp('2014-12-30 23:00:00'))
    >>> f.predict().equals(temp.iloc[-24:-21].set_axis(f.predict().index))
    True
"""

from __future__ import annotations

from ssmcast.baselines._climatology import Climatology
from ssmcast.baselines._drift import Drift
from ssmcast.baselines._naive import Naive, SeasonalNaive

__all__ = ["Climatology", "Drift", "Naive", "SeasonalNaive"]
