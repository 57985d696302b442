"""The epoch loop of :func:`fit`: checks of the arrays and settings, early stopping, results.

Public through :mod:`ssmcast.training`; the jitted pieces it drives are in ``_steps``.
"""

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast._checks import check_int
from ssmcast.layers import SSMParam
from ssmcast.models import NormalHead
from ssmcast.models._distributions import LOSSES
from ssmcast.training._sharding import padded_batch_size, put_replicated, put_sharded
from ssmcast.training._steps import (
    TrainConfig,
    averaged_params,
    evaluate_members,
    flatten_groups,
    init_opt_state,
    schedule_steps,
    sharded_steps,
    train_members,
)

# An epoch runs as blocks of BLOCK_STEPS steps (one compiled program for any number of
# steps; the last block is filled up with steps that do nothing), fewer when one block of
# training segments, cut on the host, would exceed _BLOCK_BYTES.
BLOCK_STEPS = 4
_BLOCK_BYTES = 2**28


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
        selection_window=1,
        burn_in=0,
        outage_rate=0.0,
        seed=0,
        progress=False,
        loss=None,
        segment_length=1,
        batch_size=1,
    )


def _check_config(config):
    if isinstance(config.selection_window, int) and config.selection_window % 2 == 0:
        raise ValueError(
            "The 'selection_window' setting of TrainConfig must be odd (the epochs before "
            f"and after the one judged). Got {config.selection_window}; use "
            f"{config.selection_window + 1}."
        )
    names = ("epochs", "batch_size", "segment_length", "patience", "steps_per_epoch")
    for name in (*names, "selection_window"):
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


def bucket_length(n: int) -> int:
    """``n`` rounded up to one of few lengths: 4, 5, 6 or 7 times a power of two.

    Training pads its validation window, and segments shorter than ``segment_length`` (on
    short data), to this length, so that data of similar lengths (a refit on a few more
    steps, another cut of the same data) reuse one compiled program instead of compiling
    their own; the padding costs at most a quarter more steps.

    Examples:
        >>> [bucket_length(n) for n in (1, 8, 9, 100, 1000, 1025)]
        [4, 8, 10, 112, 1024, 1280]
    """
    if n <= 4:
        return 4
    power = 2 ** (n.bit_length() - 3)  # n / power lies in [4, 8)
    return power * math.ceil(n / power)


def _pad(x, dt, mask, axis: int, extra: int):
    """``extra`` entries appended along ``axis``: no input, no observation, a gap of one step.

    The network reads causally and every loss counts only observed targets, so the padding
    changes no loss and no gradient of the real steps (or series).
    """
    if extra <= 0:
        return x, dt, mask

    def pad(a, value):
        width = [(0, 0)] * a.ndim
        width[axis] = (0, extra)
        return np.pad(a, width, constant_values=value)

    return pad(x, 0.0), pad(dt, 1.0), pad(mask, False)


def _pad_time(x, dt, mask, length: int, axis: int = 1):
    """Steps appended along ``axis`` up to ``length`` (see :func:`_pad`)."""
    return _pad(x, dt, mask, axis, length - x.shape[axis])


def _pad_series(x, dt, mask):
    """Series appended up to a power of two (see :func:`_pad`); they weigh nothing."""
    return _pad(x, dt, mask, 0, 2 ** (len(x) - 1).bit_length() - len(x))


def _segments(x, dt, mask, series, starts, length: int, width: int):
    """The segments ``(..., length)`` cut at ``series, starts``, padded to ``width`` steps."""
    where = (series[..., None], starts[..., None] + np.arange(length))
    return _pad_time(x[where], dt[where], mask[where], width, axis=series.ndim)


def _pad_steps(a, extra: int):
    """``a (members, steps, ...)`` with ``extra`` zero steps appended (inactive steps)."""
    return np.pad(a, [(0, 0), (0, extra)] + [(0, 0)] * (a.ndim - 2))


def _blocks(step_bytes: int) -> int:
    """Steps per block of an epoch: ``BLOCK_STEPS``, fewer when their segments are too large.

    Examples:
        >>> _blocks(2**20), _blocks(2**27), _blocks(2**30)
        (4, 2, 1)
    """
    return max(1, min(BLOCK_STEPS, _BLOCK_BYTES // step_bytes))


def default_steps(num_segments: float) -> int:
    """Steps per epoch when ``steps_per_epoch`` is None: about ``num_segments`` batches.

    The count is rounded to a multiple of ``BLOCK_STEPS`` (so that no step of an epoch's
    blocks is wasted), and is at least 8.

    Examples:
        >>> [default_steps(n) for n in (0.5, 9.0, 10.5, 101.0)]
        [8, 8, 12, 100]
    """
    return max(8, BLOCK_STEPS * math.floor(num_segments / BLOCK_STEPS + 0.5))


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
    parameters. :func:`fit_ensemble` trains several networks together.

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
    try:
        result = fit_ensemble([model], x, dt, mask, config=config)
    except TrainingDivergedError as err:
        single = _first_member(err.result)
        nnx.update(model, single.params)
        raise TrainingDivergedError(str(err), single) from None
    single = _first_member(result)
    nnx.update(model, single.params)
    return single


def _first_member(result: TrainResult) -> TrainResult:
    params = jax.tree.map(lambda leaf: leaf[0], result.params)
    return result._replace(params=params)


def stack_members(models) -> tuple[nnx.GraphDef, nnx.State]:
    """The shared graph definition and the parameters of ``models`` stacked on a new axis 0.

    Args:
        models: Networks of one architecture (same graph), e.g. built from different seeds.

    Returns:
        ``(graphdef, params)``: every parameter gains a leading member axis.

    Raises:
        ValueError: If the networks do not share one graph definition.
    """
    splits = [nnx.split(model) for model in models]
    graphdef = splits[0][0]
    if any(g != graphdef for g, _ in splits[1:]):
        raise ValueError("The members of an ensemble must share one architecture.")
    return graphdef, _stack([p for _, p in splits])


def _stack(trees):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def fit_ensemble(
    models,
    x,
    dt=None,
    mask=None,
    *,
    config: TrainConfig | None = None,
    mesh=None,
    fallback=None,
) -> TrainResult:
    """Train networks of one architecture together, as one vmapped computation.

    Every member trains as :func:`fit` trains one network, on its own random segments (so
    the members differ in their initialisation and in the order they see the data), and
    keeps its own best parameters by its own validation loss. All members share one
    compilation and run in lock step (``jax.vmap``), so on an accelerator an ensemble costs
    about as much wall time as one network; on a CPU about ``len(models)`` times as much.
    Training ends when every member has gone ``patience`` epochs without improving.

    Args:
        models: Networks (:class:`~ssmcast.models.ForecastNetwork`) of one architecture;
            they are not changed.
        x: Inputs ``([num_series,] num_timesteps, input_dim)``, targets first (see
            :func:`check_arrays`).
        dt: Time gaps in nominal steps, or None for a regular grid.
        mask: Observed targets, or None for ``~isnan(targets)``.
        config: Settings; ``TrainConfig()`` when None.
        mesh: A one-axis :class:`~jax.sharding.Mesh` (:func:`make_mesh`) to train
            data-parallel on: each step's batch of segments is split over its devices
            (padded with segments of weight 0 when it does not divide evenly), the
            parameters are replicated and XLA sums the gradients. None, or a mesh of one
            device in one process, trains on one device. Under :func:`jax.distributed`
            every process passes the same (global) arrays.
        fallback: Networks of the same architecture, one per member, scored on the
            validation tail before training (as epoch -1): a member whose best epoch scores
            worse keeps its fallback instead. It does not change when training stops. For
            example the untrained network whose head's spread is its base's own error, so
            that training must beat the base it starts from (what ``SSMForecaster`` does).
            Ignored without a validation tail.

    Returns:
        A :class:`TrainResult` whose ``params`` hold each member's best parameters stacked on
        a leading axis (see :func:`stack_members`), whose history is the mean loss over
        members and whose ``best_epoch`` is the latest of the members' best epochs.

    Raises:
        ValueError: If the arrays or settings are invalid.
        TrainingDivergedError: If a loss or gradient is NaN or infinite; its ``result`` holds
            the best parameters seen by every member (for a member with none, its fallback
            when one was scored, else its initial ones).

    Examples:
        >>> import numpy as np
        >>> from flax import nnx
        >>> from ssmcast.models import build_model
        >>> nets = [
        ...     build_model(
        ...         "s5",
        ...         input_dim=1,
        ...         output_dim=1,
        ...         horizon=2,
        ...         d_model=4,
        ...         num_layers=1,
        ...         rngs=nnx.Rngs(seed),
        ...     )
        ...     for seed in (0, 1, 2)
        ... ]
        >>> y = np.sin(np.arange(64) / 3.0)[:, None]
        >>> cfg = TrainConfig(
        ...     epochs=2, steps_per_epoch=2, batch_size=2, segment_length=16, progress=False
        ... )
        >>> result = fit_ensemble(nets, y, config=cfg)
        >>> jax.tree.leaves(result.params)[0].shape[0]  # one set of parameters per member
        3
    """
    config = config if config is not None else TrainConfig()
    _check_config(config)
    models = list(models)
    if not models:
        raise ValueError("'models' must hold at least one network to train.")
    first = models[0]
    loss = config.loss or ("crps" if isinstance(first.head, NormalHead) else "mse")
    x, dt, mask = check_arrays(x, dt, mask, input_dim=first.input_dim, output_dim=first.output_dim)
    num_series, num_timesteps, _ = x.shape
    # on a regular grid the steps get dt=None: the SSM layers then discretise once per step
    # of training, not once per time step (the same numbers, at half the cost of a step)
    regular = bool(np.all(dt == 1))
    num_val = validation_steps(np.asarray(mask), config.val_fraction)
    if num_val and num_timesteps - num_val < 2:
        raise ValueError(
            f"Holding out {num_val} of {num_timesteps} steps for validation leaves too few to "
            "train on; lower 'val_fraction'."
        )
    train_end = num_timesteps - num_val
    length = min(config.segment_length, train_end)
    # segments cut from short data are padded to a bucket length: they share the compiled epoch
    width = min(config.segment_length, bucket_length(length))
    steps = config.steps_per_epoch or default_steps(
        num_series * train_end / (config.batch_size * length)
    )
    # a short series leaves a short segment: keep at least half of it in the loss
    burn_in = min(config.burn_in, length // 2)
    num_members = len(models)
    splits = [_split_model(model) for model in models]
    split_graphdef, _, rest = splits[0]
    if any(g != split_graphdef for g, _, _ in splits[1:]):
        raise ValueError("The members of an ensemble must share one architecture.")
    params = _stack([p for _, p, _ in splits])
    rest = _stack([r for _, _, r in splits])
    fallback_params = None
    if fallback is not None:
        fallback = list(fallback)
        fallback_splits = [_split_model(model) for model in fallback]
        if len(fallback) != len(models) or any(g != split_graphdef for g, _, _ in fallback_splits):
            raise ValueError(
                "'fallback' must hold one network per member, of the members' architecture."
            )
        fallback_params = _stack([p for _, p, _ in fallback_splits])
    total_steps = config.epochs * steps
    opt_state = jax.vmap(functools.partial(init_opt_state, config))(params)
    ok = jnp.ones(num_members, bool)
    # the step counts and the burn-in are arguments of the compiled epoch, not part of it
    hyper = jnp.asarray([*schedule_steps(config, total_steps), burn_in], jnp.int32)
    parallel = mesh is not None and (mesh.size > 1 or jax.process_count() > 1)
    step_fns = (train_members, evaluate_members)
    if parallel:
        step_fns = sharded_steps(mesh)
        params, opt_state, ok, rest, hyper, fallback_params = put_replicated(
            (params, opt_state, ok, rest, hyper, fallback_params), mesh
        )
    elif mesh is not None:  # one device: the plain path, on that device
        params, opt_state, ok, rest, hyper, fallback_params = jax.device_put(
            (params, opt_state, ok, rest, hyper, fallback_params), mesh.devices[0]
        )
    static = dict(graphdef=split_graphdef, config=_optimizer_config(config), loss=loss)
    batch_size = padded_batch_size(config.batch_size, mesh) if parallel else config.batch_size
    step_bytes = num_members * batch_size * width * (x.shape[-1] + 1 + mask.shape[-1]) * 4
    block = _blocks(step_bytes)
    if num_val:
        # padded to a bucket length, and the series to a power of two: similar data share the
        # compiled validation pass
        val_start = max(0, train_end - length)
        window = (x[:, val_start:], dt[:, val_start:], mask[:, val_start:])
        window = _pad_time(*window, bucket_length(num_timesteps - val_start))
        val_data = tuple(jnp.asarray(a) for a in _pad_series(*window))
        if regular:
            val_data = (val_data[0], None, val_data[2])
        val_origin = jnp.asarray(train_end - 1 - val_start)
        if mesh is not None:
            put, target = (put_replicated, mesh) if parallel else (jax.device_put, mesh.devices[0])
            val_data, val_origin = put((val_data, val_origin), target)
    # one stream of segments per member: member i draws the same ones in any ensemble
    rngs = np.random.default_rng(config.seed).spawn(num_members)
    history = {"train_loss": [], "val_loss": []}
    scores = []  # per epoch, each member's validation (or training) loss
    # an epoch is judged on the mean score of the epochs ``half`` before and after it, so
    # the parameters of the last ``half`` epochs wait in ``recent`` until their turn
    half = config.selection_window // 2
    recent = []

    def judge(candidate, candidate_params, best):
        best_params, best_score, best_epoch, bad_epochs = best
        window = scores[max(0, candidate - half) : candidate + half + 1]
        score = np.mean(window, axis=0)
        improved = score < best_score
        return (
            _select(improved, candidate_params, best_params),
            np.where(improved, score, best_score),
            np.where(improved, candidate, best_epoch),
            np.where(improved, 0, bad_epochs + 1),
        )

    def validate(candidate):
        """Each member's loss on the validation tail, as a host array."""
        return np.asarray(
            step_fns[1](
                candidate,
                rest,
                *val_data,
                val_origin,
                graphdef=split_graphdef,
                loss=loss,
                batch_size=config.batch_size,
            )
        )

    # with a validation tail, the fallback is scored first; it does not stop training early
    # but replaces, at the end, a member's best epoch that scored worse
    initial, fallback_score = params, None
    if fallback_params is not None and num_val:
        fallback_score = validate(fallback_params)
        fallback_score = np.where(np.isfinite(fallback_score), fallback_score, np.inf)
        initial = fallback_params
    # (params, score, epoch, epochs without improving) of each member's best epoch so far
    best = (
        params,
        np.full(num_members, np.inf),
        np.full(num_members, -1),
        np.zeros(num_members, int),
    )
    average = None
    if config.average_decay:
        unflatten = flatten_groups(jax.tree.map(lambda leaf: leaf[0], params))[2]

        def average(opt_state):
            flat = jax.vmap(lambda s: averaged_params(s, config.average_decay))(opt_state)
            return jax.vmap(unflatten)(flat)

    stopped_early = False
    bar = _progress(config.epochs, config.progress)
    for epoch in bar:
        shape = (steps, config.batch_size)
        series = np.stack([r.integers(0, num_series, shape) for r in rngs])
        starts = np.stack([r.integers(0, train_end - length + 1, shape) for r in rngs])
        outages = np.stack([_outages(r, shape, length, config.outage_rate) for r in rngs])
        series, starts, outages, valid = _pad_batch(series, starts, outages, batch_size)
        losses, finite = [], []
        for first in range(0, steps, block):
            run = min(block, steps - first)
            cut = slice(first, first + run)
            batch = (
                *_segments(x, dt, mask, series[:, cut], starts[:, cut], length, width),
                outages[:, cut],
                valid[:, cut],
            )
            if regular:
                batch = (batch[0], None, *batch[2:])
            active = np.arange(block) < run
            if run < block:  # the last block of an epoch: inactive steps fill it up
                batch = tuple(None if a is None else _pad_steps(a, block - run) for a in batch)
            if parallel:
                batch = put_sharded(batch, mesh, 2)
                active = put_replicated(active, mesh)
            new_params, opt_state, ok, block_losses, block_finite = step_fns[0](
                params, opt_state, ok, rest, *batch, active, hyper, **static
            )
            params = new_params
            losses.append(block_losses)  # read at the end of the epoch: no wait per block
            finite.append(block_finite)
        losses = np.concatenate([np.asarray(a) for a in losses], axis=1)[:, :steps]
        finite = np.concatenate([np.asarray(a) for a in finite], axis=1)[:, :steps]
        train_loss = losses.mean(axis=1)
        val_loss = np.full(num_members, np.nan)
        # what this epoch offers: the last step's parameters, or their running average
        offered = params if average is None else average(opt_state)
        if num_val:
            val_loss = validate(offered)
        ok_host = np.asarray(ok)
        if not ok_host.all() or (num_val and not np.isfinite(val_loss).all()):
            member = int(np.argmin(ok_host & np.isfinite(val_loss) if num_val else ok_host))
            where = (
                f"step {int(np.argmin(finite[member]))} of epoch {epoch}"
                if not ok_host.all()
                else f"the validation after epoch {epoch}"
            )
            best_params, _, best_epoch, _ = best
            keep = _select(best_epoch >= 0, best_params, initial)
            keep = _to_host(keep) if parallel else keep
            result = TrainResult(_join_params(keep), history, int(best_epoch.max()), False)
            who = f" (member {member} of {num_members})" if num_members > 1 else ""
            raise TrainingDivergedError(
                f"Training diverged at {where}{who}: the loss or a gradient was NaN or "
                "infinite. The model keeps the best parameters seen (epoch "
                f"{int(best_epoch.max())}; -1 means its initial ones). Try a lower "
                "'learning_rate', a smaller 'clip_norm', or check the inputs for extreme "
                "values.",
                result,
            )
        history["train_loss"].append(float(train_loss.mean()))
        history["val_loss"].append(float(val_loss.mean()) if num_val else math.nan)
        scores.append(val_loss if num_val else train_loss)
        recent = [*recent[-half:], offered] if half else [offered]
        if epoch >= half:  # the epoch ``half`` back now has its whole window
            best = judge(epoch - half, recent[0], best)
        if config.progress:
            bar.set_postfix(loss=f"{train_loss.mean():.4f}", val=f"{val_loss.mean():.4f}")
        if num_val and (best[3] >= config.patience).all():
            stopped_early = True
            break
    # the last ``half`` epochs, judged on the part of their window that exists
    for back in range(min(half, len(scores)), 0, -1):
        best = judge(len(scores) - back, recent[-back], best)
    best_params, best_score, best_epoch, _ = best
    if fallback_score is not None:
        kept = fallback_score < best_score
        best_params = _select(kept, fallback_params, best_params)
        best_epoch = np.where(kept, -1, best_epoch)
    if config.progress:
        bar.close()
    if parallel:  # the fitted network serves from the default device
        best_params = _to_host(best_params)
    return TrainResult(_join_params(best_params), history, int(best_epoch.max()), stopped_early)


def _to_host(tree):
    """Replicated (possibly multi-process) arrays as plain arrays on the default device."""
    return jax.tree.map(lambda leaf: jnp.asarray(np.asarray(leaf)), tree)


def _pad_batch(series, starts, outages, size: int):
    """The batch ``(members, steps, batch_size)`` padded to ``size`` segments of weight 0.

    Returns ``(series, starts, outages, valid)``; the padding cuts the first segment of series
    0 (real data, so its gradient is finite) and ``valid`` is False there.
    """
    extra = size - series.shape[2]
    valid = np.ones(series.shape, bool)
    if extra == 0:
        return series, starts, outages, valid

    def pad(a, value=0):
        return np.pad(
            a, [(0, 0), (0, 0), (0, extra)] + [(0, 0)] * (a.ndim - 3), constant_values=value
        )

    return pad(series), pad(starts), pad(outages), pad(valid, False)


def _join_params(params) -> nnx.State:
    """The optimizer's two groups back as one ``nnx.Param`` state (leading member axis)."""
    return nnx.merge_state(*params)


def _select(which: np.ndarray, new, old):
    """Per member (leading axis), ``new`` where ``which`` else ``old``."""
    which = jnp.asarray(which)

    def pick(n, o):
        return jnp.where(which.reshape(-1, *([1] * (n.ndim - 1))), n, o)

    return jax.tree.map(pick, new, old)
