"""The shared shell of the baselines: a state folded step by step, and residual quantiles.

Every baseline's fitted state is an immutable NamedTuple whose first fields are

* ``history``: the values passed to ``fit``, ``(num_series, num_timesteps, num_channels)``
  (the in-sample errors behind the quantiles come from them; updates do not change them);
* ``history_time``: their timestamps;
* ``num_steps``: the time steps folded into the state so far (``fit`` and ``update``);

followed by the method's own fields. Arrays in a state are read-only: ``update`` builds a
new state and never writes into the old one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

from ssmcast.base import BaseForecaster, Capabilities, Fitted, fitted_attribute
from ssmcast.baselines._residuals import residual_quantiles
from ssmcast.data import Panel

__all__ = ["frozen", "history_fields", "state_attribute"]

_State = TypeVar("_State", bound=tuple)


def history_fields(panel: Panel) -> dict[str, Any]:
    """The leading fields of a state before any step: the fitted history, no steps yet."""
    return {"history": panel.values.copy(), "history_time": panel.time, "num_steps": 0}


def frozen(state: _State) -> _State:
    """Mark the arrays of ``state`` read-only (they are new arrays the state owns)."""
    for value in state:
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return state


# id(history) -> (weak reference to the fitted history, {(horizon, levels): offsets}). The
# residual quantiles depend only on what ``fit`` saw (``update`` keeps the same ``history``
# array in every new state), so a stream of ``update`` + ``predict_quantiles`` computes them
# once instead of re-scoring the whole history at every call.
_OFFSETS: dict[int, tuple[Any, dict]] = {}


def _cached_offsets(history: np.ndarray, key: tuple, compute: Callable[[], np.ndarray]):
    """``compute()`` once per fitted history and key; later calls return a read-only copy."""
    entry = _OFFSETS.get(id(history))
    if entry is None or entry[0]() is not history:
        ident = id(history)
        entry = (weakref.ref(history, lambda _: _OFFSETS.pop(ident, None)), {})
        _OFFSETS[ident] = entry
    memo = entry[1]
    if key not in memo:
        if len(memo) >= 16:  # many horizons or level sets: keep the newest few
            memo.pop(next(iter(memo)))
        offsets = compute()
        offsets.flags.writeable = False
        memo[key] = offsets
    return memo[key]


def state_attribute(name: str, doc: str) -> property:
    """A read-only fitted attribute ``name + "_"`` that reads ``fitted_.state.<name>``."""
    return fitted_attribute(name, doc, part="state")


class _Baseline(BaseForecaster):
    """Shared maths: a state advanced step by step, and residual quantiles.

    Subclasses implement four pure functions of their state (a NamedTuple starting with the
    fields of :func:`history_fields`):

    * ``_init_state(panel) -> state``: the state before any step (``num_steps == 0``);
    * ``_advance(state, values) -> state``: fold the new steps ``values`` into a new state
      (``state.num_steps`` counts the steps seen before them; the caller adds the new ones);
    * ``_forecast(fitted, horizon) -> (num_series, horizon, num_channels)``;
    * ``_insample(state)``: ``lead -> forecasts of history[:, lead:]`` from every origin.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        one_pass_backtest=False, quantiles=True, covariates=False, save=False
    )

    def _init_state(self, panel: Panel) -> Any:
        raise NotImplementedError

    def _advance(self, state: Any, values: np.ndarray) -> Any:
        raise NotImplementedError

    def _forecast(self, fitted: Fitted, horizon: int) -> np.ndarray:
        raise NotImplementedError

    def _insample(self, state: Any) -> Callable[[int], np.ndarray]:
        raise NotImplementedError

    # --- the hooks of BaseForecaster -------------------------------------------------------

    def _fit(self, panel: Panel, covariates) -> Any:
        return self._step(self._init_state(panel), panel.values)

    def _update(self, fitted: Fitted, panel: Panel, covariates) -> Any:
        return self._step(fitted.state, panel.values)

    def _step(self, state: Any, values: np.ndarray) -> Any:
        state = self._advance(state, values)
        return frozen(state._replace(num_steps=state.num_steps + values.shape[1]))

    def _predict(self, fitted: Fitted, horizon: int, covariates) -> np.ndarray:
        return self._forecast(fitted, horizon)

    def _predict_quantiles(self, fitted: Fitted, horizon: int, levels, covariates) -> np.ndarray:
        state = fitted.state
        offsets = _cached_offsets(
            state.history,
            (type(self), horizon, tuple(levels)),
            lambda: residual_quantiles(
                state.history,
                self._insample(state),
                horizon,
                levels,
                labels=fitted.meta.layout.labels(),
            ),
        )
        return self._forecast(fitted, horizon)[..., None] + offsets
