"""Per-series, per-channel standardisation that ignores missing values and survives saving."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Scaler", "fit_scaler"]


@dataclass(frozen=True, eq=False)
class Scaler:
    """Standardisation statistics: ``scaled = (values - mean) / std``.

    Fit with :func:`fit_scaler`; the statistics are per series and per channel, arrays of
    shape ``(num_series, num_channels)``. ``transform`` and ``inverse_transform`` accept
    arrays of shape ``(num_series, num_timesteps, num_channels)``, optionally with trailing
    axes (such as quantile levels), and leave NaN as NaN. ``to_dict`` gives plain JSON types;
    ``Scaler.from_dict`` reads them back.

    Attributes:
        mean: Mean of each series and channel.
        std: Standard deviation of each series and channel, already floored (never 0).

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
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def num_series(self) -> int:
        """Number of series."""
        return self.mean.shape[0]

    @property
    def num_channels(self) -> int:
        """Number of channels."""
        return self.mean.shape[1]

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

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardise: ``(values - mean) / std``."""
        values = np.asarray(values, dtype=np.float64)
        return (values - self._broadcast(self.mean, values)) / self._broadcast(self.std, values)

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`: ``values * std + mean``."""
        values = np.asarray(values, dtype=np.float64)
        return values * self._broadcast(self.std, values) + self._broadcast(self.mean, values)

    def inverse_transform_scale(self, scale: np.ndarray) -> np.ndarray:
        """Undo the scaling of a spread (a standard deviation, a residual): ``scale * std``."""
        scale = np.asarray(scale, dtype=np.float64)
        return scale * self._broadcast(self.std, scale)

    def to_dict(self) -> dict[str, list[list[float]]]:
        """The statistics as nested lists of floats, ready for ``json.dumps``."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        """Rebuild a scaler from :meth:`to_dict` output; refuses anything else."""
        if not isinstance(data, dict) or set(data) != {"mean", "std"}:
            raise ValueError(
                "Scaler.from_dict expects a dict with exactly the keys 'mean' and 'std' (the "
                f"output of Scaler.to_dict). Got {data!r:.200}."
            )
        return cls(np.asarray(data["mean"], float), np.asarray(data["std"], float))


def fit_scaler(values: np.ndarray, *, rtol: float = 1e-6) -> Scaler:
    """Fit per-series, per-channel mean and standard deviation, ignoring NaN.

    The standard deviation is the population one (``ddof=0``). A series whose standard
    deviation is 0 or at most ``rtol * |mean|`` (constant, numerically constant or a single
    observation) would blow up when divided by it; its ``std`` is set to ``|mean|`` instead
    (1 when the mean is 0), which keeps scaled values of order one. The test is relative
    only, so data of any magnitude (1e-12 or 1e12) keeps its own spread.

    Args:
        values: Array of shape ``(num_series, num_timesteps, num_channels)``; NaN is missing.
        rtol: Relative threshold below which a standard deviation counts as zero.

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
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 3:
        raise ValueError(
            "fit_scaler expects values of shape (num_series, num_timesteps, num_channels). Got "
            f"shape {values.shape}."
        )
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    if (count == 0).any():
        series, channel = (int(i[0]) for i in np.nonzero(count == 0))
        raise ValueError(
            f"fit_scaler needs at least one finite value in every series and channel; series "
            f"{series}, channel {channel} has none."
        )
    filled = np.where(finite, values, 0.0)
    mean = filled.sum(axis=1) / count
    centred = np.where(finite, values - mean[:, None, :], 0.0)
    std = np.sqrt((centred**2).sum(axis=1) / count)
    size = np.abs(mean)
    reference = np.where(size > 0, size, 1.0)
    std = np.where((std > rtol * size) & (std > 0), std, reference)
    if not math.isfinite(float(np.max(std))):
        raise ValueError("fit_scaler: values are too large to standardise in float64.")
    return Scaler(mean, std)
