"""The epoch loop of :func:`fit`: checks of the arrays and settings, early stopping, results.

Public through :mod:`ssmcast.training`; the jitted pieces it drives are in ``_steps``.
"""

import dataclasses
import math
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast._checks import check_int
from ssmcast.layers import SSMParam
from ssmcast.models import NormalHead
from ssmcast.models._distributions import LOSSES
from ssmcast.training._steps import TrainConfig, evaluate, make_optimizer, train_epoch


class TrainResult(NamedTuple):
    """What :func:`fit` returns.

    Attributes:
        params: The best parameters (``nnx.State``); the model holds them too.
        history: ``"train_loss"`` and ``"val_loss"`` per epoch (``val_loss`` is NaN without
            validation).
        best_epoch: Epoch (from 0) whose parameters were kept.
        stopped_early: Whether early stopping ended training.
    """

    params: nnx.State
    history: dict
    best_epoch: int
    stopped_early: bool


class TrainingDivergedError(FloatingPointError):
    """Training met a NaN or infinite loss or gradient; ``result`` holds the best parameters.

    The model passed to :func:`fit` already holds ``result.params`` when this is raised.
    """

    def __init__(self, message: str, result: TrainResult):
        super().__init__(message)
        self.result = result


def check_arrays(x, dt, mask, *, input_dim: int, output_dim: int):
    """Validate and standardise training arrays to ``(num_series, num_timesteps, ...)``.

    Args:
        x: Inputs ``(num_timesteps, input_dim)`` or ``(num_series, num_timesteps, input_dim)``,
            targets first; targets may be NaN where missing.
        dt: Time gaps ``([num_series,] num_timesteps)`` in nominal steps, or None for ones.
        mask: Observed targets ``([num_series,] num_timesteps[, output_dim])``, or None for
            ``~isnan(targets)``.
        input_dim: Channels the model expects.
        output_dim: Target channels the model expects.

    Returns:
        ``(x, dt, mask)`` as float32, float32 and bool NumPy arrays with a series axis, and
        missing targets set to 0.

    Raises:
        ValueError: If a shape does not match, ``dt`` is not positive and finite, or a
            covariate is not finite.

    Examples:
        >>> import numpy as np
        >>> x, dt, m = check_arrays(
        ...     np.array([[1.0], [np.nan]]), None, None, input_dim=1, output_dim=1
        ... )
        >>> x.shape, dt.tolist(), m[..., 0].tolist()
        ((1, 2, 1), [[1.0, 1.0]], [[True, False]])
    """
    x = np.asarray(x, np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[-1] != input_dim:
        raise ValueError(
            "'x' must have shape (num_timesteps, input_dim) or (num_series, num_timesteps, "
            f"input_dim) with input_dim={input_dim}. Got shape {x.shape}."
        )
    num_series, num_timesteps, _ = x.shape
    if num_timesteps < 2:
        raise ValueError(f"'x' needs at least 2 time steps to train on. Got {num_timesteps}.")
    if not np.all(np.isfinite(x[..., output_dim:])):
        raise ValueError(
            "The covariate channels of 'x' (after the first output_dim) must be finite; "
            "fill or drop the missing covariates before training."
        )
    if dt is None:
        dt = np.ones((num_series, num_timesteps), np.float32)
    dt = np.asarray(dt, np.float32)
    try:
        dt = np.broadcast_to(dt, (num_series, num_timesteps)).copy()
    except ValueError:
        raise ValueError(
            f"'dt' must have shape ({num_timesteps},) or ({num_series}, {num_timesteps}). "
            f"Got shape {dt.shape}."
        ) from None
    if not np.all(np.isfinite(dt) & (dt > 0)):
        raise ValueError("'dt' (time gaps in nominal steps) must be positive and finite.")
    values = x[..., :output_dim]
    if mask is None:
        mask = ~np.isnan(values)
    mask = np.asarray(mask, bool)
    if mask.shape in ((num_timesteps,), (num_series, num_timesteps)):
        mask = mask.reshape(*mask.shape, 1)
    try:
        mask = np.broadcast_to(mask, values.shape).copy()
    except ValueError:
        raise ValueError(
            f"'mask' must have shape ([num_series,] num_timesteps[, {output_dim}]) for 'x' of "
            f"shape {x.shape}. Got shape {mask.shape}."
        ) from None
    mask &= ~np.isnan(values)
    x = x.copy()
    x[..., :output_dim] = np.where(mask, values, 0.0)
    return x, dt, mask


def _optimizer_config(config):
    """``config`` with the fields that do not shape the jitted epoch reset (fewer compiles)."""
    return dataclasses.replace(
        config,
        epochs=1,
        steps_per_epoch=None,
        val_fraction=0.0,
        patience=0,
        seed=0,
        progress=False,
        loss=None,
        segment_length=1,
        batch_size=1,
    )


def _check_config(config):
    for name in ("epochs", "batch_size", "segment_length", "patience", "steps_per_epoch"):
        check_int(
            getattr(config, name),
            name,
            "TrainConfig",
            kind="setting",
            allow_none=name == "steps_per_epoch",
            error=ValueError,
        )
    for name in ("learning_rate", "ssm_learning_rate", "weight_decay", "clip_norm"):
        if not getattr(config, name) >= 0:
            raise ValueError(
                f"The '{name}' setting of TrainConfig must be >= 0. Got {getattr(config, name)!r}."
            )
    if config.loss is not None and config.loss not in LOSSES:
        raise ValueError(
            f"The 'loss' setting of TrainConfig must be one of {LOSSES} or None. "
            f"Got {config.loss!r}."
        )
    if not 0 <= config.outage_rate <= 1:
        raise ValueError(
            f"The 'outage_rate' setting of TrainConfig must be in [0, 1]. Got {config.outage_rate}."
        )
    if not 0 <= config.val_fraction < 1:
        raise ValueError(
            "The 'val_fraction' setting of TrainConfig must be in [0, 1). "
            f"Got {config.val_fraction}."
        )
    if not 0 <= config.burn_in < config.segment_length:
        raise ValueError(
            "The 'burn_in' setting of TrainConfig must be in "
            f"[0, segment_length={config.segment_length}). Got {config.burn_in}."
        )


def validation_steps(mask: np.ndarray, fraction: float) -> int:
    """Steps at the end that hold ``fraction`` of the observed targets (the validation tail).

    Counting observations rather than steps keeps the tail honest on a series with outages:
    a tail that falls in a long gap would hold nothing to validate on.

    Args:
        mask: Observed targets ``(num_series, num_timesteps, output_dim)``.
        fraction: Share of the observations to hold out, in [0, 1).

    Returns:
        The number of trailing time steps; 0 when ``fraction`` is 0.

    Examples:
        >>> import numpy as np
        >>> mask = np.ones((1, 10, 1), bool)
        >>> mask[0, 6:9] = False  # an outage near the end
        >>> validation_steps(mask, 0.3)  # 3 of the 7 observations: steps 4, 5 and 9
        6
    """
    if fraction <= 0:
        return 0
    per_step = mask.reshape(mask.shape[0], mask.shape[1], -1).sum(axis=(0, 2))
    total = per_step.sum()
    if total == 0:
        return round(fraction * mask.shape[1])
    from_end = np.cumsum(per_step[::-1])  # observations in the last k + 1 steps
    return int(np.searchsorted(from_end, fraction * total) + 1)


def _outages(rng, shape, length: int, rate: float) -> np.ndarray:
    """Random input outages ``(*shape, 2)``: start and length in a segment (0: none)."""
    out = np.zeros((*shape, 2), np.int32)
    if rate <= 0 or length < 4:
        return out
    hit = rng.random(shape) < rate
    span = rng.integers(1, length // 2 + 1, shape)
    out[..., 1] = np.where(hit, span, 0)
    out[..., 0] = rng.integers(0, length, shape)
    return out


def _split_model(model):
    graphdef, ssm_params, other_params, rest = nnx.split(model, SSMParam, nnx.Param, ...)
    return graphdef, (ssm_params, other_params), rest


def _progress(epochs, enabled):
    if not enabled:
        return range(epochs)
    from tqdm.auto import tqdm

    return tqdm(range(epochs), desc="training", unit="epoch")


def fit(model, x, dt=None, mask=None, *, config: TrainConfig | None = None) -> TrainResult:
    """Train ``model`` in place on arrays and return the best parameters.

    Segments of ``segment_length`` steps are cut at random from the training range of every
    series (``batch_size`` per step); the last ``val_fraction`` of the time steps is the
    validation tail, read with one segment of context before it. Training stops after
    ``patience`` epochs without a better validation loss, and the model keeps the best
    parameters.

    Args:
        model: A :class:`~ssmcast.models.ForecastNetwork`; updated in place.
        x: Inputs ``([num_series,] num_timesteps, input_dim)``, targets first (see
            :func:`check_arrays`).
        dt: Time gaps in nominal steps, or None for a regular grid.
        mask: Observed targets, or None for ``~isnan(targets)``.
        config: Settings; ``TrainConfig()`` when None.

    Returns:
        A :class:`TrainResult`.

    Raises:
        ValueError: If the arrays or settings are invalid.
        TrainingDivergedError: If a loss or gradient is NaN or infinite; the model then holds
            the best parameters seen, also in the error's ``result``.

    Examples:
        >>> import numpy as np
        >>> from flax import nnx
        >>> from ssmcast.models import build_model
        >>> net = build_model(
        ...     "s5",
        ...     input_dim=1,
        ...     output_dim=1,
        ...     horizon=2,
        ...     d_model=4,
        ...     num_layers=1,
        ...     rngs=nnx.Rngs(0),
        ... )
        >>> y = np.sin(np.arange(64) / 3.0)[:, None]
        >>> cfg = TrainConfig(
        ...     epochs=2, steps_per_epoch=2, batch_size=2, segment_length=16, progress=False
        ... )
        >>> result = fit(net, y, config=cfg)
        >>> len(result.history["train_loss"])
        2
    """
    config = config if config is not None else TrainConfig()
    _check_config(config)
    loss = config.loss or ("crps" if isinstance(model.head, NormalHead) else "mse")
    x, dt, mask = check_arrays(x, dt, mask, input_dim=model.input_dim, output_dim=model.output_dim)
    num_series, num_timesteps, _ = x.shape
    num_val = validation_steps(np.asarray(mask), config.val_fraction)
    if num_val and num_timesteps - num_val < 2:
        raise ValueError(
            f"Holding out {num_val} of {num_timesteps} steps for validation leaves too few to "
            "train on; lower 'val_fraction'."
        )
    train_end = num_timesteps - num_val
    length = min(config.segment_length, train_end)
    steps = config.steps_per_epoch or max(
        8, math.ceil(num_series * train_end / (config.batch_size * length))
    )
    graphdef, params, rest = _split_model(model)
    tx = make_optimizer(config, config.epochs * steps)
    opt_state = tx.init(params)
    static = dict(
        graphdef=graphdef,
        config=_optimizer_config(config),
        loss=loss,
        total_steps=config.epochs * steps,
        segment_length=length,
    )
    data = tuple(jnp.asarray(a) for a in (x, dt, mask))
    if num_val:
        val_start = max(0, train_end - length)
        val_data = tuple(jnp.asarray(a[:, val_start:]) for a in (x, dt, mask))
        val_origin = jnp.asarray(train_end - 1 - val_start)
    rng = np.random.default_rng(config.seed)
    history = {"train_loss": [], "val_loss": []}
    best = (math.inf, -1, params)
    bad_epochs, stopped_early = 0, False
    bar = _progress(config.epochs, config.progress)
    for epoch in bar:
        series = rng.integers(0, num_series, (steps, config.batch_size))
        starts = rng.integers(0, train_end - length + 1, (steps, config.batch_size))
        outages = _outages(rng, (steps, config.batch_size), length, config.outage_rate)
        new_params, opt_state, ok, losses, finite = train_epoch(
            params, opt_state, jnp.asarray(True), rest, *data, series, starts, outages, **static
        )
        train_loss = float(jnp.mean(losses))
        val_loss = math.nan
        if num_val:
            val_loss = float(
                evaluate(
                    new_params,
                    rest,
                    *val_data,
                    val_origin,
                    graphdef=graphdef,
                    loss=loss,
                    batch_size=config.batch_size,
                )
            )
        if not bool(ok) or (num_val and not math.isfinite(val_loss)):
            where = (
                f"step {int(np.argmin(np.asarray(finite)))} of epoch {epoch}"
                if not bool(ok)
                else f"the validation after epoch {epoch}"
            )
            keep = best[2] if best[1] >= 0 else new_params
            nnx.update(model, *keep)
            result = TrainResult(nnx.state(model, nnx.Param), history, best[1], False)
            raise TrainingDivergedError(
                f"Training diverged at {where}: the loss or a gradient was NaN or infinite. "
                f"The model keeps the best parameters seen (epoch {best[1]}; -1 means the "
                "last finite ones). Try a lower 'learning_rate', a smaller 'clip_norm', or "
                "check the inputs for extreme values.",
                result,
            )
        params = new_params
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        score = val_loss if num_val else train_loss
        if score < best[0]:
            best, bad_epochs = (score, epoch, params), 0
        else:
            bad_epochs += 1
        if config.progress:
            bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        if num_val and bad_epochs >= config.patience:
            stopped_early = True
            break
    if config.progress:
        bar.close()
    nnx.update(model, *best[2])
    return TrainResult(nnx.state(model, nnx.Param), history, best[1], stopped_early)
