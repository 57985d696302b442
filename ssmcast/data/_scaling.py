"""Per-series, per-channel standardisation that ignores NaN, resists outliers, survives saving."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Scaler", "fit_scaler", "robust_spread"]

# Quantile ranges whose width is this many standard deviations for normal data, tried in order
# until one is non-zero (the wider ones serve data that is mostly one value, such as rain).
_SPREADS = (((0.25, 0.75), 1.3489795), ((0.05, 0.95), 3.2897073), ((0.01, 0.99), 4.6526957))


@dataclass(frozen=True, eq=False)
class Scaler:
    """Standardisation statistics: ``scaled = (clip(values, lower, upper) - mean) / std``.

    Fit with :func:`fit_scaler`; the statistics are per series and per channel, arrays of
    shape ``(num_series, num_channels)``. ``transform`` and ``inverse_transform`` accept
    arrays of shape ``(num_series, num_timesteps, num_channels)``, optionally with trailing
    axes (such as quantile levels), and leave NaN as NaN. ``to_dict`` gives plain JSON types;
    ``Scaler.from_dict`` reads them back.

    Attributes:
        mean: Mean of each series and channel.
        std: Standard deviation of each series and channel, already floored (never 0).
        lower, upper: Values outside ``[lower, upper]`` are clipped to it by ``transform``
            (``-inf`` and ``inf``: no clipping, the default).

    Examples:
        >>> import numpy as np
        >>> values = np.array([[[1.0], [3.0], [np.nan]]])  # 1 series, 3 steps, 1 channel
        >>> scaler = fit_scaler(values)
        >>> scaler.transform(values)[0, :, 0].tolist()
        [-1.0, 1.0, nan]
        >>> Scaler.from_dict(scaler.to_dict()).inverse_transform(scaler.transform(values))[0, :2, 0]
        array([1., 3.])
    """

    mean: np.ndarray
    std: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None

    def __post_init__(self):
        mean = np.asarray(self.mean, dtype=np.float64)
        std = np.asarray(self.std, dtype=np.float64)
        if mean.ndim != 2 or mean.shape != std.shape:
            raise ValueError(
                "Scaler 'mean' and 'std' must be arrays of the same shape (num_series, "
                f"num_channels). Got shapes {mean.shape} and {std.shape}."
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError(
                "Scaler statistics must be finite, with a positive 'std'. Refit the scaler with "
                "fit_scaler on data that has an observation in every series and channel."
            )
        lower = np.full(mean.shape, -np.inf) if self.lower is None else self.lower
        upper = np.full(mean.shape, np.inf) if self.upper is None else self.upper
        lower, upper = np.asarray(lower, np.float64), np.asarray(upper, np.float64)
        if lower.shape != mean.shape or upper.shape != mean.shape:
            raise ValueError(
                f"Scaler 'lower' and 'upper' must have the shape of 'mean', {mean.shape}. Got "
                f"shapes {lower.shape} and {upper.shape}."
            )
        if np.isnan(lower).any() or np.isnan(upper).any() or (lower > upper).any():
            raise ValueError("Scaler bounds must satisfy lower <= upper (no NaN).")
        for name, value in (("mean", mean), ("std", std), ("lower", lower), ("upper", upper)):
            object.__setattr__(self, name, value)

    @property
    def num_series(self) -> int:
        """Number of series."""
        return self.mean.shape[0]

    @property
    def num_channels(self) -> int:
        """Number of channels."""
        return self.mean.shape[1]

    @property
    def clips(self) -> bool:
        """Whether any series and channel has a finite bound."""
        return bool(np.isfinite(self.lower).any() or np.isfinite(self.upper).any())

    def _broadcast(self, stats: np.ndarray, values: np.ndarray) -> np.ndarray:
        if (
            values.ndim < 3
            or values.shape[0] != self.num_series
            or (values.shape[2] != self.num_channels)
        ):
            raise ValueError(
                "Scaler expects values of shape (num_series, num_timesteps, num_channels, ...) "
                f"with num_series={self.num_series} and num_channels={self.num_channels}. Got "
                f"shape {values.shape}."
            )
        return stats.reshape(stats.shape[0], 1, stats.shape[1], *([1] * (values.ndim - 3)))

    def clip(self, values: np.ndarray) -> np.ndarray:
        """``values`` clipped to ``[lower, upper]`` (NaN stays NaN)."""
        values = np.asarray(values, dtype=np.float64)
        if not self.clips:
            return values
        return np.clip(
            values, self._broadcast(self.lower, values), self._broadcast(self.upper, values)
        )

    def num_clipped(self, values: np.ndarray) -> np.ndarray:
        """How many values of each series and channel lie outside ``[lower, upper]``."""
        values = np.asarray(values, dtype=np.float64)
        low, high = self._broadcast(self.lower, values), self._broadcast(self.upper, values)
        outside = (values < low) | (values > high)
        return outside.reshape(*values.shape[:3], -1).sum(axis=(1, 3))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Clip to the bounds, then standardise: ``(clip(values) - mean) / std``."""
        values = self.clip(values)
        return (values - self._broadcast(self.mean, values)) / self._broadcast(self.std, values)

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """Undo the standardisation of :meth:`transform`: ``values * std + mean``."""
        values = np.asarray(values, dtype=np.float64)
        return values * self._broadcast(self.std, values) + self._broadcast(self.mean, values)

    def inverse_transform_scale(self, scale: np.ndarray) -> np.ndarray:
        """Undo the scaling of a spread (a standard deviation, a residual): ``scale * std``."""
        scale = np.asarray(scale, dtype=np.float64)
        return scale * self._broadcast(self.std, scale)

    def to_dict(self) -> dict[str, list]:
        """The statistics as nested lists, ready for ``json.dumps`` (no bound is ``None``)."""
        out: dict[str, list] = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.clips:
            for name in ("lower", "upper"):
                bound = getattr(self, name)
                out[name] = np.where(np.isfinite(bound), bound, np.nan).tolist()
                out[name] = [[None if math.isnan(v) else v for v in row] for row in out[name]]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        """Rebuild a scaler from :meth:`to_dict` output; refuses anything else."""
        keys = set(data) if isinstance(data, dict) else None
        if keys not in ({"mean", "std"}, {"mean", "std", "lower", "upper"}):
            raise ValueError(
                "Scaler.from_dict expects a dict with the keys 'mean' and 'std', and optionally "
                f"'lower' and 'upper' (the output of Scaler.to_dict). Got {data!r:.200}."
            )
        bounds = {}
        for name, missing in (("lower", -np.inf), ("upper", np.inf)):
            if name in data:
                rows = [[missing if v is None else v for v in row] for row in data[name]]
                bounds[name] = np.asarray(rows, float)
        return cls(np.asarray(data["mean"], float), np.asarray(data["std"], float), **bounds)


def robust_spread(values: np.ndarray) -> np.ndarray:
    """A standard deviation that one outlier cannot move, per series and channel.

    The interquartile range divided by 1.349 (the standard deviation of normal data); where
    that is 0 (data that is mostly one value, such as rain), the 5-95% range divided by 3.290,
    then the 1-99% range divided by 4.653. 0 where all three are 0; NaN is ignored.

    Args:
        values: Array of shape ``(num_series, num_timesteps, num_channels)``; NaN is missing.

    Returns:
        Array of shape ``(num_series, num_channels)``.

    Examples:
        >>> import numpy as np
        >>> normal = np.random.default_rng(0).normal(0.0, 2.0, size=(1, 10_000, 1))
        >>> round(float(robust_spread(normal)[0, 0]), 1)
        2.0
        >>> normal[0, 0, 0] = 1e9  # one outlier
        >>> round(float(robust_spread(normal)[0, 0]), 1), round(float(np.std(normal)), -6)
        (2.0, 10000000.0)
    """
    values = np.asarray(values, dtype=np.float64)
    spread = np.zeros(values.shape[::2])
    for (low, high), width in _SPREADS:
        with np.errstate(all="ignore"):
            q_low, q_high = np.nanquantile(values, [low, high], axis=1)
        candidate = np.nan_to_num((q_high - q_low) / width)
        spread = np.where(spread > 0, spread, candidate)
    return spread


def fit_scaler(values: np.ndarray, *, rtol: float = 1e-6, clip: float | None = None) -> Scaler:
    """Fit per-series, per-channel mean and standard deviation, ignoring NaN.

    The standard deviation is the population one (``ddof=0``). A series whose standard
    deviation is 0 or at most ``rtol * |mean|`` (constant, numerically constant or a single
    observation) would blow up when divided by it; its ``std`` is set to ``|mean|`` instead
    (1 when the mean is 0), which keeps scaled values of order one. The test is relative
    only, so data of any magnitude (1e-12 or 1e12) keeps its own spread.

    With ``clip``, values farther than ``clip`` robust standard deviations
    (:func:`robust_spread`) from the median are outliers: ``transform`` clips them to that
    distance, and the mean and standard deviation are those of the other values, so one
    wild value moves neither the scale nor what a model reads. Data without such values
    gets exactly the plain mean and standard deviation.

    Args:
        values: Array of shape ``(num_series, num_timesteps, num_channels)``; NaN is missing.
        rtol: Relative threshold below which a standard deviation counts as zero.
        clip: Distance from the median, in robust standard deviations, beyond which values
            are clipped; ``None`` for no clipping.

    Returns:
        The fitted :class:`Scaler`.

    Raises:
        ValueError: If ``values`` is not 3-D, or a series and channel has no finite value.

    Examples:
        >>> import numpy as np
        >>> scaler = fit_scaler(np.full((1, 4, 1), 20.0))  # a constant series
        >>> scaler.mean.tolist(), scaler.std.tolist()
        ([[20.0]], [[20.0]])
        >>> tiny = fit_scaler(np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1) * 1e-12)
        >>> float(tiny.std[0, 0])  # its own spread, not 1
        8.16496580927726e-13
        >>> spiky = np.sin(np.arange(1000.0)).reshape(1, -1, 1)
        >>> spiky[0, 500, 0] = 1e9  # a sensor glitch
        >>> robust = fit_scaler(spiky, clip=20.0)
        >>> round(float(robust.std[0, 0]), 2), f"{fit_scaler(spiky).std[0, 0]:.2g}"
        (0.71, '3.2e+07')
        >>> round(float(robust.transform(spiky)[0, 500, 0]))  # the glitch, read clipped
        30
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 3:
        raise ValueError(
            "fit_scaler expects values of shape (num_series, num_timesteps, num_channels). Got "
            f"shape {values.shape}."
        )
    if clip is not None and not (isinstance(clip, int | float) and clip > 0):
        raise ValueError(f"fit_scaler: 'clip' must be a positive number or None. Got {clip!r}.")
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    if (count == 0).any():
        series, channel = (int(i[0]) for i in np.nonzero(count == 0))
        raise ValueError(
            f"fit_scaler needs at least one finite value in every series and channel; series "
            f"{series}, channel {channel} has none."
        )
    lower = upper = None
    if clip is not None:
        values = np.where(finite, values, np.nan)
        with np.errstate(all="ignore"):
            median = np.nanmedian(values, axis=1)
        reach = clip * robust_spread(values)
        lower = np.where(reach > 0, median - reach, -np.inf)
        upper = np.where(reach > 0, median + reach, np.inf)
        # the statistics of the values within the bounds (the median always is)
        finite &= (values >= lower[:, None, :]) & (values <= upper[:, None, :])
        count = finite.sum(axis=1)
    filled = np.where(finite, values, 0.0)
    mean = filled.sum(axis=1) / count
    centred = np.where(finite, values - mean[:, None, :], 0.0)
    std = np.sqrt((centred**2).sum(axis=1) / count)
    size = np.abs(mean)
    reference = np.where(size > 0, size, 1.0)
    std = np.where((std > rtol * size) & (std > 0), std, reference)
    if not math.isfinite(float(np.max(std))):
        raise ValueError("fit_scaler: values are too large to standardise in float64.")
    return Scaler(mean, std, lower, upper)
