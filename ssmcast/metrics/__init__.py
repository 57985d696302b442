"""Forecast evaluation metrics in NumPy: point, scaled, quantile and probabilistic scores.

Conventions shared by every function:

* Inputs are array-likes (NumPy arrays, lists, pandas objects) that broadcast against each
  other. Two pandas objects must carry the same index; align them first otherwise.
* ``axis`` (an int, a tuple of ints, or ``None`` for all axes) says which axes of the
  broadcast ``y_true`` shape are averaged. The result is a Python ``float`` when everything
  is averaged and a NumPy array otherwise.
* Missing values are NaN. A point is scored only where the truth and the forecast both exist;
  where no point is left (an all-NaN input or slice), the result is NaN, without a warning.
  Infinite values are not missing and propagate.
* Lower is better for every score except :func:`interval_coverage` (aim at the nominal level)
  and :func:`skill_score` (higher is better, 1 is perfect).

The probabilistic scores (:func:`pinball_loss`, :func:`crps_quantiles`, :func:`crps_samples`,
:func:`crps_gaussian`, :func:`interval_coverage`, :func:`interval_width`) live in the
private submodule ``_probabilistic``, the point and scaled scores in ``_point``; all are
re-exported here.
"""

from ssmcast.metrics._point import mae, mape, mase, rmse, rmsse, skill_score, smape
from ssmcast.metrics._probabilistic import (
    crps_gaussian,
    crps_quantiles,
    crps_samples,
    interval_coverage,
    interval_width,
    pinball_loss,
)

__all__ = [
    "crps_gaussian",
    "crps_quantiles",
    "crps_samples",
    "interval_coverage",
    "interval_width",
    "mae",
    "mape",
    "mase",
    "pinball_loss",
    "rmse",
    "rmsse",
    "skill_score",
    "smape",
]
