"""Rolling-origin evaluation: forecast from many origins, score by lead time.

:func:`backtest` fits a clone of a forecaster on the data before ``start``, forecasts from
every origin after it, and returns a :class:`BacktestResult`: the forecasts as a long frame
with the truth, scores overall, by lead and by series, skill against persistence or
climatology, and an xarray view on ``init_time`` and ``lead_time``. Plot it with
:mod:`ssmcast.plot`.

The work goes one way: :func:`make_plan` checks the arguments and fixes the origins as
positions on the time grid (:class:`Plan`); the engine runs the forecaster over them (the
loop through the public API, or the one-pass hook that a forecaster declares in its
:class:`~ssmcast.base.Capabilities`); the result is a plain value.

Examples:
    >>> from ssmcast import datasets
    >>> from ssmcast.backtesting import backtest
    >>> from ssmcast.baselines import SeasonalNaive
    >>> temp = datasets.load("beijing")["TEMP"].loc["2014-06"]
    >>> res = backtest(SeasonalNaive(), temp, horizon=24, start="2014-06-21", progress=False)
    >>> res.forecasts.columns.tolist()
    ['series', 'cutoff', 'ds', 'lead', 'y', 'yhat']
    >>> len(res.cutoffs), res.cutoffs[0]  # 10 days from 21 June, cut off at 23:00 the day before
    (10, Timestamp('2014-06-20 23:00:00'))
    >>> float(res.metrics.by_lead.loc[24, "MAE"])  # mean absolute error a day ahead, in °C
    2.0
"""

from ssmcast.backtesting._api import backtest
from ssmcast.backtesting._plan import Plan, make_plan, start_position
from ssmcast.backtesting._result import REFERENCES, BacktestMetrics, BacktestResult

__all__ = [
    "REFERENCES",
    "BacktestMetrics",
    "BacktestResult",
    "Plan",
    "backtest",
    "make_plan",
    "start_position",
]
