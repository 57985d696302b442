"""ssmcast: forecast weather and sensor time series with state space models in JAX.

The package is layered so that data flows one way: frames -> arrays -> model -> arrays ->
frames. :mod:`ssmcast.ssm` holds the pure JAX maths (linear recurrences, selective scans,
discretisation and initialisers) on which every model is built.
"""

from ssmcast._version import __version__

__all__ = ["__version__"]
