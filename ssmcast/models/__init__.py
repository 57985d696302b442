"""Whole forecasting networks: input encoding, stacks of blocks, forecast heads.

Build one by name with :func:`build_model` (``"s5"``, ``"mamba"``, ``"hybrid"``). A network
reads one unbatched sequence and forecasts the next ``horizon`` steps from every step, in
parallel (``__call__``) or one observation at a time (``init_state`` and ``step``).
:func:`parallel_pass` and :func:`advance` run a split network (``nnx.split``) over batches of
series under ``jax.jit``: the parallel pass of training and backtests, and the recurrent
advance of updates and roll-outs.
"""

from ssmcast.models._distributions import (
    Forecast,
    crps_normal,
    elementwise_loss,
    forecast_quantiles,
    make_targets,
    masked_mean,
    nll_normal,
)
from ssmcast.models._heads import NormalHead, PointHead
from ssmcast.models._inference import (
    advance,
    ensemble_advance,
    ensemble_pass,
    mixture,
    model_inputs,
    parallel_pass,
)
from ssmcast.models._network import ForecastNetwork
from ssmcast.models._registry import MODEL_NAMES, build_model, set_scan_method

__all__ = [
    "MODEL_NAMES",
    "Forecast",
    "ForecastNetwork",
    "NormalHead",
    "PointHead",
    "advance",
    "build_model",
    "crps_normal",
    "elementwise_loss",
    "ensemble_advance",
    "ensemble_pass",
    "forecast_quantiles",
    "make_targets",
    "masked_mean",
    "mixture",
    "model_inputs",
    "nll_normal",
    "parallel_pass",
    "set_scan_method",
]
