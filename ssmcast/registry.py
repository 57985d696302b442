"""The one registry of forecasters: every name a user can ask for, models and baselines.

The command line (``--model``, ``--compare``) and the backtest (references for skill
scores) both read this table; what each forecaster can do is declared on its class
(:class:`~ssmcast.base.Capabilities`), never found by probing for method names.

Examples:
    >>> from ssmcast import registry
    >>> registry.names("model")
    ('s5', 'mamba', 'hybrid')
    >>> registry.names("baseline")
    ('naive', 'seasonal_naive', 'climatology', 'drift')
    >>> registry.get("mamba").capabilities.one_pass_backtest
    True
    >>> registry.make("seasonal_naive", horizon=6)
    SeasonalNaive(horizon=6)
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from ssmcast.base import BaseForecaster, Capabilities, capabilities_of
from ssmcast.baselines import Climatology, Drift, Naive, SeasonalNaive
from ssmcast.forecaster import SSMForecaster
from ssmcast.models import MODEL_NAMES

__all__ = ["Entry", "get", "make", "names"]

Kind = Literal["model", "baseline"]


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered forecaster.

    Attributes:
        name: The name users pass (``"s5"``, ``"naive"``).
        cls: The forecaster class.
        kind: ``"model"`` (trained) or ``"baseline"`` (a yardstick).
        defaults: Parameters the name fixes (``{"model": "s5"}``).
        summary: One line for help texts.
    """

    name: str
    cls: type[BaseForecaster]
    kind: Kind
    defaults: Mapping[str, Any]
    summary: str

    @property
    def capabilities(self) -> Capabilities:
        """What the class declares it can do."""
        return capabilities_of(self.cls)

    def make(self, **params: Any) -> BaseForecaster:
        """A new, unfitted forecaster with the name's defaults and ``params``."""
        return self.cls(**{**self.defaults, **params})


_SUMMARIES = {
    "s5": "linear time-invariant SSM (S5), exact in uneven time steps",
    "mamba": "selective SSM (Mamba): input-dependent decay and gates",
    "hybrid": "SSM blocks with sliding-window attention",
}
_ENTRIES = (
    *(Entry(m, SSMForecaster, "model", {"model": m}, _SUMMARIES[m]) for m in MODEL_NAMES),
    Entry("naive", Naive, "baseline", {}, "persistence: the last observed value"),
    Entry("seasonal_naive", SeasonalNaive, "baseline", {}, "the value one season earlier"),
    Entry("climatology", Climatology, "baseline", {}, "the mean at the same time of day and year"),
    Entry("drift", Drift, "baseline", {}, "the line through the first and last observation"),
)
REGISTRY: Mapping[str, Entry] = MappingProxyType({e.name: e for e in _ENTRIES})


def names(kind: Kind | None = None, *, capability: str | None = None) -> tuple[str, ...]:
    """Registered names, in a fixed order: models first, then baselines.

    Args:
        kind: ``"model"`` or ``"baseline"`` to list one kind; all when None.
        capability: A :class:`~ssmcast.base.Capabilities` field (``"save"``) that must be
            true.

    Examples:
        >>> names(capability="save")
        ('s5', 'mamba', 'hybrid')
    """
    if capability is not None and capability not in Capabilities.__dataclass_fields__:
        raise ValueError(
            f"The 'capability' argument of names must be one of "
            f"{list(Capabilities.__dataclass_fields__)}. Got {capability!r}."
        )
    return tuple(
        e.name
        for e in _ENTRIES
        if (kind is None or e.kind == kind)
        and (capability is None or getattr(e.capabilities, capability))
    )


def get(name: str, *, kind: Kind | None = None) -> Entry:
    """The entry of a registered name.

    Args:
        name: A name from :func:`names`.
        kind: Restrict to ``"model"`` or ``"baseline"``.

    Raises:
        ValueError: For an unknown name, with the closest known one and the choices.
    """
    choices = names(kind)
    if name not in choices:
        near = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        what = f"{kind} " if kind else "forecaster "
        raise ValueError(f"Unknown {what}name {name!r}.{hint} Choose from {list(choices)}.")
    return REGISTRY[name]


def make(name: str, *, kind: Kind | None = None, **params: Any) -> BaseForecaster:
    """A new, unfitted forecaster by name (see :func:`get` for the errors).

    Examples:
        >>> make("s5", horizon=12).get_params()["model"]
        's5'
    """
    return get(name, kind=kind).make(**params)
