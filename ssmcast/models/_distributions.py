"""Forecast containers, quantiles and the losses that train them."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtri

_SQRT_PI = 1.7724538509055159
_SQRT_2 = 1.4142135623730951
_LOG_2PI = 1.8378770664093453


class Forecast(NamedTuple):
    """A forecast of the next ``horizon`` steps from every origin.

    Attributes:
        loc: Point forecast (the mean and median), shape ``(..., horizon, output_dim)``.
        scale: Standard deviation of a normal forecast distribution, same shape as ``loc``;
            None for a point head.
    """

    loc: jax.Array
    scale: jax.Array | None = None


def forecast_quantiles(forecast: Forecast, levels) -> jax.Array:
    """Quantiles of a normal forecast at any levels in (0, 1); they never cross.

    ``q(level) = loc + scale * Phi^{-1}(level)`` with ``scale > 0``, so quantiles increase with
    the level for every origin, lead and output.

    Args:
        forecast: A :class:`Forecast` with a ``scale``.
        levels: Quantile levels in (0, 1), shape ``(num_levels,)``.

    Returns:
        Quantiles of shape ``loc.shape + (num_levels,)``.

    Raises:
        ValueError: If the forecast has no scale (a point head) or a level is outside (0, 1).

    Examples:
        >>> import jax.numpy as jnp
        >>> f = Forecast(jnp.zeros((1, 1)), jnp.ones((1, 1)))
        >>> forecast_quantiles(f, [0.5, 0.975]).round(2).tolist()
        [[[0.0, 1.96]]]
    """
    if forecast.scale is None:
        raise ValueError(
            "forecast_quantiles needs a probabilistic forecast, but this Forecast has no "
            "scale (a point head). Build the model with head='normal'."
        )
    levels = jnp.asarray(levels, jnp.float32)
    if levels.ndim != 1:
        raise ValueError(f"'levels' must be a 1-D sequence of levels. Got shape {levels.shape}.")
    if not isinstance(levels, jax.core.Tracer) and not bool(jnp.all((levels > 0) & (levels < 1))):
        raise ValueError(f"'levels' must lie strictly between 0 and 1. Got {levels.tolist()}.")
    return forecast.loc[..., None] + forecast.scale[..., None] * ndtri(levels)


def crps_normal(loc, scale, y):
    r"""Continuous ranked probability score of a normal forecast, elementwise.

    .. math::

        \mathrm{CRPS}(\mathcal N(\mu, \sigma^2), y) =
        \sigma\left[z(2\Phi(z) - 1) + 2\varphi(z) - 1/\sqrt\pi\right],\quad z = (y-\mu)/\sigma

    Examples:
        >>> round(float(crps_normal(0.0, 1.0, 0.0)), 4)
        0.2337
    """
    z = (y - loc) / scale
    pdf = jnp.exp(-0.5 * z**2) / jnp.sqrt(2 * jnp.pi)
    # 2 Phi(z) - 1 = erf(z / sqrt 2): exact, with one erf where ndtr has two branches
    return scale * (z * jax.lax.erf(z / _SQRT_2) + 2 * pdf - 1 / _SQRT_PI)


def nll_normal(loc, scale, y):
    """Negative log-likelihood of ``y`` under a normal forecast, elementwise.

    Examples:
        >>> round(float(nll_normal(0.0, 1.0, 0.0)), 4)
        0.9189
    """
    z = (y - loc) / scale
    return 0.5 * z**2 + jnp.log(scale) + 0.5 * _LOG_2PI


LOSSES = ("crps", "nll", "mse", "mae")


def elementwise_loss(forecast: Forecast, targets, kind: str):
    """Loss of each forecast element against its target (targets must be finite).

    Args:
        forecast: The forecast; ``"crps"`` and ``"nll"`` need a ``scale``.
        targets: Targets, same shape as ``forecast.loc``.
        kind: One of ``"crps"``, ``"nll"``, ``"mse"``, ``"mae"``.

    Returns:
        The loss, same shape as ``targets``.

    Raises:
        ValueError: If ``kind`` is unknown or needs a scale that the forecast lacks.

    Examples:
        >>> import jax.numpy as jnp
        >>> elementwise_loss(Forecast(jnp.zeros(2)), jnp.array([1.0, -2.0]), "mae").tolist()
        [1.0, 2.0]
    """
    if kind not in LOSSES:
        raise ValueError(f"The loss must be one of {LOSSES}. Got {kind!r}.")
    if kind in ("crps", "nll") and forecast.scale is None:
        raise ValueError(
            f"The {kind!r} loss needs a probabilistic head; this model has a point head. "
            "Use loss='mse' or 'mae', or build the model with head='normal'."
        )
    if kind == "crps":
        return crps_normal(forecast.loc, forecast.scale, targets)
    if kind == "nll":
        return nll_normal(forecast.loc, forecast.scale, targets)
    if kind == "mse":
        return (forecast.loc - targets) ** 2
    return jnp.abs(forecast.loc - targets)


def make_targets(values, mask, horizon: int):
    """Targets of the forecasts from every origin: ``targets[t, k-1] = values[t + k]``.

    Args:
        values: Observed values, shape ``(num_timesteps, output_dim)``; may be NaN where
            missing.
        mask: Whether each value is observed, same shape as ``values``.
        horizon: Number of leads.

    Returns:
        ``(targets, target_mask)`` of shape ``(num_timesteps, horizon, output_dim)``; targets
        past the end of the sequence or missing are masked out and set to zero.

    Examples:
        >>> import jax.numpy as jnp
        >>> y, m = make_targets(jnp.arange(3.0)[:, None], jnp.ones((3, 1), bool), 2)
        >>> y[..., 0].tolist(), m[..., 0].tolist()
        ([[1.0, 2.0], [2.0, 0.0], [0.0, 0.0]], [[True, True], [True, False], [False, False]])
    """
    num_timesteps = values.shape[0]
    idx = jnp.arange(num_timesteps)[:, None] + jnp.arange(1, horizon + 1)[None, :]
    inside = idx < num_timesteps
    idx = jnp.minimum(idx, num_timesteps - 1)
    target_mask = mask[idx] & inside[..., None]
    targets = jnp.where(target_mask, values[idx], 0.0)
    return targets, target_mask


def masked_mean(loss, mask):
    """Mean of ``loss`` over the entries where ``mask`` is True (0 when there are none).

    Examples:
        >>> import jax.numpy as jnp
        >>> float(masked_mean(jnp.array([1.0, 3.0, jnp.nan]), jnp.array([True, True, False])))
        2.0
    """
    loss = jnp.where(mask, loss, 0.0)
    return jnp.sum(loss) / jnp.maximum(jnp.sum(mask), 1)
