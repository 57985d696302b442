"""Forecasting network: input encoding, a stack of residual blocks, a forecast head."""

from collections.abc import Sequence

import jax.numpy as jnp
from flax import nnx

from ssmcast import ssm
from ssmcast._checks import check_int
from ssmcast.layers import ResidualBlock
from ssmcast.layers._inputs import sequence_dt, step_dt
from ssmcast.models._distributions import Forecast
from ssmcast.models._heads import make_head
from ssmcast.models._level import init_level, level_step, running_level
from ssmcast.models._seasonal import (
    SeasonalBase,
    last_step_change,
    staleness,
    time_since_observed,
)


class ForecastNetwork(nnx.Module):
    """Causal network that forecasts the next ``horizon`` steps from every time step.

    Inputs are one unbatched sequence ``x (num_timesteps, input_dim)`` whose first
    ``output_dim`` channels are the (scaled) target series and whose other channels are
    covariates known at each step (calendar sines and cosines from the data layer). The
    network encodes ``[values (0 where missing), observed mask, covariates, log dt]``, runs
    the residual blocks, and the head reads each state: ``loc[t, k-1]`` forecasts
    ``x[t + k, :output_dim]``. The head adds its output to persistence, the last observed
    value of each target (a forward fill, itself a linear recurrence), so an untrained network
    forecasts persistence.

    With ``seasons`` or ``staleness``, the head adds its output to a :class:`SeasonalBase`
    instead: a learned per-lead mix of persistence, seasonal persistence (one value per
    season length in ``seasons``) and the mean level, which leans with the time since the
    last observation. With ``staleness`` that time, ``log(1 + age)`` per target, is also an
    input, so after an outage the network knows its persistence is stale.

    ``level_input`` chooses how the network reads the targets' values: as they are
    (``"absolute"``), as their departure from a running level (``"local"``: the last observed
    value less its exponential moving average over ``level_period`` steps, debiased and begun
    at the target's first observation), or both. A local input stays in the range
    seen in training when the level shifts (a month warmer than any in training); the level
    itself still reaches the forecast through the base.

    With ``base_level`` (and a base), the running level is also a candidate of the base: the
    recent level, which follows a shift the training mean (the base's mean-level candidate)
    cannot. With ``base_change``, so is the last value plus its change over the last step
    (where both steps are observed): a local trend, weighted per lead.

    A step whose targets are all missing is a missing step for the sequence layers: its input
    is zeroed and the SSM states only decay (linear) or hold (selective); attention does not
    attend to it. It still emits a forecast.

    Args:
        input_dim: Number of input channels (targets first, then covariates).
        output_dim: Number of target channels.
        horizon: Number of leads forecast from each step.
        mixers: The sequence layers, one per residual block, each of width ``d_model``.
        d_model: Width of the residual stream.
        head: ``"normal"`` (probabilistic) or ``"point"``.
        mlp_ratio: Hidden width of each block's gated MLP, as a multiple of ``d_model``.
        head_kwargs: Extra arguments for the head (``init_scale``, ``min_scale``).
        seasons: Season lengths in steps for the seasonal base (e.g. ``(24, 168)``).
        staleness: Feed the time since each target's last observation, and let the base's
            mix depend on it.
        level_input: ``"absolute"``, ``"local"`` or ``"both"`` (see above).
        level_period: Time constant of the running level in steps; the shortest season, or
            the horizon (at least 2) without seasons, when None.
        base_level: Add the running level as a candidate of the seasonal base (only with
            ``seasons`` or ``staleness``, which make a base).
        base_change: Add the last value plus its last change as a candidate of the base
            (only with a base).
        rngs: Random number streams for the initialisation.

    Raises:
        ValueError: If ``input_dim < output_dim``, a dimension is not positive or
            ``level_input`` is unknown.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from ssmcast.layers import LinearSSM
        >>> rngs = nnx.Rngs(0)
        >>> net = ForecastNetwork(
        ...     input_dim=3,
        ...     output_dim=1,
        ...     horizon=4,
        ...     d_model=8,
        ...     mixers=[LinearSSM(8, 4, rngs=rngs)],
        ...     rngs=rngs,
        ... )
        >>> f = net(jnp.ones((20, 3)))
        >>> f.loc.shape, f.scale.shape
        ((20, 4, 1), (20, 4, 1))
        >>> float(f.loc[-1, 0, 0])  # untrained: persistence
        1.0
    """

    def __init__(
        self,
        *,
        input_dim: int,
        output_dim: int,
        horizon: int,
        mixers: Sequence[nnx.Module],
        d_model: int,
        head: str = "normal",
        mlp_ratio: int = 2,
        head_kwargs: dict | None = None,
        seasons: Sequence[int] = (),
        staleness: bool = False,
        level_input: str = "absolute",
        level_period: int | None = None,
        base_level: bool = False,
        base_change: bool = False,
        rngs: nnx.Rngs,
    ):
        for name, value in (
            ("input_dim", input_dim),
            ("output_dim", output_dim),
            ("horizon", horizon),
            ("d_model", d_model),
        ):
            check_int(value, name, "ForecastNetwork", kind="argument", error=ValueError)
        if input_dim < output_dim:
            raise ValueError(
                f"'input_dim' ({input_dim}) counts the {output_dim} target channels plus the "
                "covariates, so it must be at least 'output_dim'."
            )
        self.input_dim, self.output_dim, self.horizon = input_dim, output_dim, horizon
        self.seasons = tuple(
            check_int(m, "season", "ForecastNetwork", error=ValueError) for m in seasons
        )
        self.staleness = bool(staleness)
        if level_input not in LEVEL_INPUTS:
            raise ValueError(
                f"'level_input' must be one of {list(LEVEL_INPUTS)}. Got {level_input!r}."
            )
        self.level_input = level_input
        if level_period is None:
            level_period = min(self.seasons) if self.seasons else max(2, horizon)
        self.level_period = check_int(
            level_period, "level_period", "ForecastNetwork", error=ValueError
        )
        extra = output_dim if self.staleness else 0
        extra += output_dim if level_input == "both" else 0
        self.encoder = nnx.Linear(input_dim + output_dim + 1 + extra, d_model, rngs=rngs)
        self.base = (
            SeasonalBase(
                horizon,
                output_dim,
                seasons=self.seasons,
                running_level=base_level,
                last_change=base_change,
                rngs=rngs,
            )
            if self.seasons or self.staleness
            else None
        )
        self.base_level = self.base is not None and bool(base_level)
        self.base_change = self.base is not None and bool(base_change)
        self.blocks = nnx.List(
            [ResidualBlock(d_model, m, mlp_ratio=mlp_ratio, rngs=rngs) for m in mixers]
        )
        self.norm = nnx.RMSNorm(d_model, rngs=rngs)
        self.head = make_head(head, d_model, horizon, output_dim, rngs=rngs, **(head_kwargs or {}))

    def _target_mask(self, x, mask):
        values = x[..., : self.output_dim]
        if mask is None:
            return ~jnp.isnan(values)
        return jnp.broadcast_to(
            jnp.asarray(mask, bool).reshape(*values.shape[:-1], -1), values.shape
        )

    def _values(self, x, target_mask):
        return jnp.where(target_mask, x[..., : self.output_dim], 0.0)

    def _encode(self, x, values, target_mask, dt, age, local):
        """The encoder's output; ``local`` is ``filled - level`` (None when not read)."""
        read = values if self.level_input == "absolute" else jnp.where(target_mask, local, 0.0)
        features = [read, target_mask.astype(x.dtype), x[..., self.output_dim :]]
        features.append(jnp.log(dt)[..., None])
        if self.staleness:
            features.append(staleness(age))
        if self.level_input == "both":
            features.insert(1, values)
        return self.encoder(jnp.concatenate(features, axis=-1))

    @property
    def _keeps_level(self) -> bool:
        """Whether the running level is computed (read as input or a candidate of the base)."""
        return self.level_input != "absolute" or self.base_level

    def init_state(self):
        """The initial state: ``(last_observed, block states[, (age, ring)][, (m, w)])``.

        With a seasonal base, a part holds the time since each target was last observed and
        the base's ring buffer of forward-filled values; with a local level input or a
        running-level candidate in the base, the last part holds the running level's average
        and weight.
        """
        last = jnp.zeros((self.output_dim,), jnp.float32)
        blocks = tuple(block.init_state() for block in self.blocks)
        parts = []
        if self.base is not None:
            parts.append((jnp.zeros((self.output_dim,), jnp.float32), self.base.init_state()))
        if self._keeps_level:
            parts.append(init_level(self.output_dim))
        return (last, blocks, *parts)

    def __call__(self, x, dt=None, mask=None, *, return_state: bool = False):
        """Forecast from every step of a whole sequence, in parallel.

        Args:
            x: Inputs of shape ``(num_timesteps, input_dim)``; targets may be NaN where
                missing, covariates must be finite.
            dt: Time gap before each step in nominal steps, shape ``(num_timesteps,)``; None
                for a regular grid (every gap 1; cheaper than an array of ones).
            mask: Whether each target is observed, shape ``(num_timesteps, output_dim)`` or
                ``(num_timesteps,)``; ``~isnan(targets)`` when None.
            return_state: Also return the state after the last step (for :meth:`step`).

        Returns:
            A :class:`Forecast` with ``loc`` (and ``scale``) of shape
            ``(num_timesteps, horizon, output_dim)``, and the last state when
            ``return_state`` is True.
        """
        num_timesteps = x.shape[0]
        steps = sequence_dt(dt, num_timesteps)
        target_mask = self._target_mask(x, mask)
        age = None if self.base is None else time_since_observed(target_mask, steps)
        values = self._values(x, target_mask)
        m = target_mask.astype(values.dtype)
        last = ssm.linear_recurrence(1.0 - m, m * values)
        level = local = level_state = None
        if self._keeps_level:
            seen = jnp.cumsum(m, axis=0) > 0
            level, level_state = running_level(last, steps, self.level_period, seen)
            local = last - level
        h = self._encode(x, values, target_mask, steps, age, local)
        step_mask = jnp.any(target_mask, axis=-1)
        states = []
        for block in self.blocks:
            # None (a regular grid) goes on as None: layers then skip per-step work
            out = block(h, dt, step_mask, return_state=return_state)
            if return_state:
                out, state = out
                states.append(state)
            h = out
        if self.base is None:
            base = last
        else:
            change = last_step_change(last, target_mask) if self.base_change else None
            base = self.base(last, age, level, change)
        forecast = self.head(self.norm(h), base)
        if not return_state:
            return forecast
        parts = []
        if self.base is not None:
            parts.append((age[-1], self.base.state_after(last)))
        if level_state is not None:
            parts.append(level_state)
        return forecast, (last[-1], tuple(states), *parts)

    def step(self, state, x_t, dt_t=None, mask_t=None):
        """Advance by one observation and forecast the next ``horizon`` steps.

        Args:
            state: The state from :meth:`init_state`, a previous step, or ``__call__`` with
                ``return_state=True``.
            x_t: Inputs of shape ``(input_dim,)``.
            dt_t: Time gap since the previous step; 1 when None.
            mask_t: Whether each target is observed, shape ``(output_dim,)`` or scalar.

        Returns:
            ``(new_state, forecast)`` with ``forecast.loc`` of shape ``(horizon, output_dim)``.
        """
        previous, block_states, *parts = state
        dt = step_dt(dt_t)
        target_mask = self._target_mask(x_t, mask_t)
        age = change = None
        values = self._values(x_t, target_mask)
        last = jnp.where(target_mask, values, previous)
        if self.base is not None:
            age, base_state = parts[0]
            if self.base_change:  # observed now and at the previous step (age 0), not the first
                both = target_mask & (age == 0) & (base_state[1] > 0)
                change = jnp.where(both, last - previous, 0.0)
            age = jnp.where(target_mask, 0.0, age + dt)
        level = local = level_state = None
        if self._keeps_level:
            level_state, level = level_step(parts[-1], last, dt, self.level_period, target_mask)
            local = last - level
        h = self._encode(x_t, values, target_mask, dt, age, local)
        step_mask = jnp.any(target_mask)
        new_states = []
        for block, block_state in zip(self.blocks, block_states, strict=True):
            block_state, h = block.step(block_state, h, dt, step_mask)
            new_states.append(block_state)
        new_parts = []
        if self.base is None:
            base = last
        else:
            base_state, base = self.base.step(base_state, last, age, level, change)
            new_parts.append((age, base_state))
        if level_state is not None:
            new_parts.append(level_state)
        forecast = self.head(self.norm(h), base)
        return (last, tuple(new_states), *new_parts), forecast


LEVEL_INPUTS = ("absolute", "local", "both")

__all__ = ["LEVEL_INPUTS", "Forecast", "ForecastNetwork"]
