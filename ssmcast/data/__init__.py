"""The data layer: every input layout to arrays and back. The only place that touches pandas.

Data flows one way through ssmcast: frame -> arrays -> model -> arrays -> frame. This
package does both ends.

* :func:`to_panel` validates the caller's data (a ``pd.Series``, a wide or long
  ``pd.DataFrame``, an ``xr.DataArray`` or ``xr.Dataset``) and returns a :class:`Panel`:
  float arrays ``(num_series, num_timesteps, num_channels)`` on a regular time grid (NaN is
  missing), the frequency, and a :class:`Layout` that rebuilds the caller's type from
  forecast arrays (:meth:`Layout.forecast`, :meth:`Layout.quantiles`).
* :func:`to_update_panel` checks new observations against the fitted layout and cutoff;
  :func:`align_covariates` checks covariates ``X`` against the target's timestamps, and
  :func:`to_covariates` also matches them by name to those seen at fit.
* Features of the time index: :func:`calendar_features`, :func:`time_deltas`,
  :func:`season_length`, :func:`future_index`, :func:`infer_freq`.
* :func:`fit_scaler` and :class:`Scaler`: per-series standardisation, JSON-serialisable.
* :func:`check_horizon`, :func:`check_levels`: checks of the forecasting arguments.

Examples:
    >>> import pandas as pd
    >>> from ssmcast import data
    >>> y = pd.Series(
    ...     [10.0, 11.0, 12.0], pd.date_range("2024-01-01", periods=3, freq="h"), name="temp"
    ... )
    >>> panel = data.to_panel(y)
    >>> data.season_length(panel.freq)
    24
    >>> panel.layout.forecast(panel.values[:, -1:].repeat(2, axis=1), panel.future_index(2))
    2024-01-01 03:00:00    12.0
    2024-01-01 04:00:00    12.0
    Freq: h, Name: temp, dtype: float64
"""

from ssmcast.data._chunks import (
    active_client,
    columns_as_series,
    is_dask_backed,
    join_blocks,
    map_series_chunks,
    series_blocks,
)
from ssmcast.data._features import (
    CalendarFeatures,
    calendar_feature_names,
    calendar_features,
    time_deltas,
)
from ssmcast.data._frequency import (
    future_index,
    infer_freq,
    nominal_step,
    parse_freq,
    regular_grid,
    season_length,
)
from ssmcast.data._layout_base import Layout
from ssmcast.data._layouts_pandas import LongLayout, SeriesLayout, WideLayout
from ssmcast.data._layouts_xarray import DataArrayLayout, DatasetLayout
from ssmcast.data._panel import (
    Covariates,
    Panel,
    align_covariates,
    to_covariates,
    to_panel,
    to_update_panel,
)
from ssmcast.data._scaling import Scaler, fit_scaler
from ssmcast.data._validate import (
    MissingTimestampsWarning,
    check_horizon,
    check_levels,
    format_levels,
)

__all__ = [
    "CalendarFeatures",
    "Covariates",
    "DataArrayLayout",
    "DatasetLayout",
    "Layout",
    "LongLayout",
    "MissingTimestampsWarning",
    "Panel",
    "Scaler",
    "SeriesLayout",
    "WideLayout",
    "active_client",
    "align_covariates",
    "calendar_feature_names",
    "calendar_features",
    "check_horizon",
    "check_levels",
    "columns_as_series",
    "fit_scaler",
    "format_levels",
    "future_index",
    "infer_freq",
    "is_dask_backed",
    "join_blocks",
    "map_series_chunks",
    "nominal_step",
    "parse_freq",
    "regular_grid",
    "season_length",
    "series_blocks",
    "time_deltas",
    "to_covariates",
    "to_panel",
    "to_update_panel",
]
