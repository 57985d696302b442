"""ssmcast for sktime: :class:`SSMCastForecaster`, an sktime forecaster around SSMForecaster.

sktime is an optional dependency: ``pip install "ssmcast[sktime]"``. Importing ``ssmcast``
never imports sktime; importing this module without sktime raises an ``ImportError`` that
says how to install it.

Examples:
    >>> from ssmcast.sktime import SSMCastForecaster
    >>> f = SSMCastForecaster(model="mamba", horizon=24)
    >>> f.get_tag("capability:pred_int"), f.get_tag("capability:update")
    (True, True)
"""

try:
    import sktime  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised with sktime absent
    raise ImportError(
        "ssmcast.sktime needs the sktime package, which is not installed. Install it with "
        '`pip install "ssmcast[sktime]"`.'
    ) from err

from ssmcast.sktime._forecaster import SSMCastForecaster

__all__ = ["SSMCastForecaster"]
