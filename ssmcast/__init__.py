"""ssmcast: forecast weather and sensor time series with state space models in JAX.

The package is layered so that data flows one way: frames -> arrays -> model -> arrays ->
frames. :mod:`ssmcast.ssm` holds the pure JAX maths (linear recurrences, selective scans,
discretisation and initialisers) on which every model is built; :mod:`ssmcast.data` is the
only place that touches pandas and xarray. :mod:`ssmcast.backtesting` evaluates any
forecaster; :mod:`ssmcast.registry` names them all.
"""

import sys

from ssmcast import backtesting, baselines, datasets, metrics, registry
from ssmcast._version import __version__
from ssmcast.backtesting import BacktestMetrics, BacktestResult, backtest
from ssmcast.baselines import Climatology, Drift, Naive, SeasonalNaive
from ssmcast.forecaster import SSMForecaster

# ``ssmcast.backtest`` is the function. Code written for ssmcast 0.1, where it was also a
# module, keeps working: ``from ssmcast.backtest import backtest, BacktestResult`` reads
# :mod:`ssmcast.backtesting`, without shadowing the function.
sys.modules.setdefault(f"{__name__}.backtest", backtesting)

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
    "backtesting",
    "baselines",
    "datasets",
    "metrics",
    "registry",
]
