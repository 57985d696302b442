"""ssmcast: forecast weather and sensor time series with state space models in JAX.

The package is layered so that data flows one way: frames -> arrays -> model -> arrays ->
frames. :mod:`ssmcast.ssm` holds the pure JAX maths (linear recurrences, selective scans,
discretisation and initialisers) on which every model is built; :mod:`ssmcast.data` is the
only place that touches pandas and xarray.
"""

from ssmcast import baselines, datasets, metrics
from ssmcast._version import __version__
from ssmcast.backtest import BacktestMetrics, BacktestResult, backtest
from ssmcast.baselines import Climatology, Drift, Naive, SeasonalNaive
from ssmcast.forecaster import SSMForecaster

__all__ = [
    "BacktestMetrics",
    "BacktestResult",
    "Climatology",
    "Drift",
    "Naive",
    "SSMForecaster",
    "SeasonalNaive",
    "__version__",
    "backtest",
    "baselines",
    "datasets",
    "metrics",
]
