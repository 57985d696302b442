"""Output heads: the forecast of the next ``horizon`` steps from each state (forking sequences).

Both heads predict the change from persistence (the last observed value) and start with zero
weights, so an untrained network forecasts persistence: a sensible baseline from step one.
"""

import jax
import jax.numpy as jnp
from flax import nnx

from ssmcast.models._distributions import Forecast

HEADS = ("normal", "point")


class PointHead(nnx.Module):
    """Point forecast ``base + W h`` for every lead and output.

    Args:
        dim: Width of the features.
        horizon: Number of leads.
        output_dim: Number of forecast variables.
        rngs: Random number streams (unused; the weights start at zero).

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> head = PointHead(4, horizon=3, output_dim=2, rngs=nnx.Rngs(0))
        >>> head(jnp.ones((5, 4)), jnp.ones((5, 2))).loc.shape
        (5, 3, 2)
    """

    def __init__(self, dim: int, horizon: int, output_dim: int, *, rngs: nnx.Rngs):
        self.horizon, self.output_dim = horizon, output_dim
        zeros = nnx.initializers.zeros_init()
        self.loc = nnx.Linear(
            dim, horizon * output_dim, kernel_init=zeros, bias_init=zeros, rngs=rngs
        )

    def _delta(self, h):
        return self.loc(h).reshape(*h.shape[:-1], self.horizon, self.output_dim)

    def _located(self, h, base):
        """``base + W h``, with ``base (..., output_dim)`` or per lead ``(..., H, output_dim)``."""
        per_lead = base if base.ndim == h.ndim + 1 else base[..., None, :]
        return per_lead + self._delta(h)

    def __call__(self, h, base) -> Forecast:
        """Forecast from features ``h (..., dim)`` around ``base`` (see :meth:`_located`)."""
        return Forecast(self._located(h, base))


class NormalHead(PointHead):
    """Normal forecast per lead and output: location ``base + W h``, scale ``softplus(V h + c)``.

    Any quantile follows without retraining, ``loc + scale * Phi^{-1}(level)``, and quantiles
    never cross because ``scale > 0``. The scale starts at ``init_scale * sqrt(lead)`` (a random
    walk's spread), which the training sharpens. ``dim``, ``horizon``, ``output_dim`` and
    ``rngs`` are those of :class:`PointHead`.

    Args:
        init_scale: Initial scale at lead 1, in the units of the (scaled) series.
        min_scale: Floor on the scale.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> head = NormalHead(4, horizon=2, output_dim=1, rngs=nnx.Rngs(0))
        >>> f = head(jnp.ones((3, 4)), jnp.zeros((3, 1)))
        >>> f.scale[0, :, 0].round(3).tolist()
        [0.2, 0.283]
    """

    def __init__(
        self,
        dim: int,
        horizon: int,
        output_dim: int,
        *,
        init_scale: float = 0.2,
        min_scale: float = 1e-3,
        rngs: nnx.Rngs,
    ):
        super().__init__(dim, horizon, output_dim, rngs=rngs)
        self.min_scale = min_scale
        lead = jnp.arange(1, horizon + 1, dtype=jnp.float32)[:, None]
        s0 = jnp.broadcast_to(init_scale * jnp.sqrt(lead) - min_scale, (horizon, output_dim))
        bias = (s0 + jnp.log(-jnp.expm1(-s0))).reshape(-1)  # inverse softplus

        def bias_init(key, shape, dtype=jnp.float32):
            del key
            return bias.reshape(shape).astype(dtype)

        self.scale = nnx.Linear(
            dim,
            horizon * output_dim,
            kernel_init=nnx.initializers.zeros_init(),
            bias_init=bias_init,
            rngs=rngs,
        )

    def start_spread(self, spread) -> None:
        """Set the scale an untrained head forecasts to ``spread (horizon, output_dim)``.

        Entries that are not finite keep their scale; the weights on the features stay as
        they are (zero at initialisation, so every step then forecasts exactly ``spread``).

        Examples:
            >>> import jax.numpy as jnp
            >>> from flax import nnx
            >>> head = NormalHead(4, horizon=2, output_dim=1, rngs=nnx.Rngs(0))
            >>> head.start_spread(jnp.array([[0.5], [jnp.nan]]))
            >>> head(jnp.ones((1, 4)), jnp.zeros((1, 1))).scale[0, :, 0].round(3).tolist()
            [0.5, 0.283]
        """
        s0 = jnp.maximum(jnp.asarray(spread, jnp.float32) - self.min_scale, 1e-3)
        bias = (s0 + jnp.log(-jnp.expm1(-s0))).reshape(-1)
        old = self.scale.bias[...]
        self.scale.bias[...] = jnp.where(jnp.isfinite(bias), bias, old)

    def __call__(self, h, base) -> Forecast:
        """Forecast from features ``h (..., dim)`` around ``base`` (see :meth:`_located`)."""
        raw = self.scale(h).reshape(*h.shape[:-1], self.horizon, self.output_dim)
        return Forecast(self._located(h, base), jax.nn.softplus(raw) + self.min_scale)


def make_head(kind: str, dim: int, horizon: int, output_dim: int, *, rngs: nnx.Rngs, **kwargs):
    """Build the head named ``kind`` (``"normal"`` or ``"point"``).

    Raises:
        ValueError: If ``kind`` is unknown.

    Examples:
        >>> from flax import nnx
        >>> type(make_head("point", 4, 2, 1, rngs=nnx.Rngs(0))).__name__
        'PointHead'
    """
    if kind == "normal":
        return NormalHead(dim, horizon, output_dim, rngs=rngs, **kwargs)
    if kind == "point":
        return PointHead(dim, horizon, output_dim, rngs=rngs)
    raise ValueError(f"The 'head' parameter must be one of {HEADS}. Got {kind!r}.")
