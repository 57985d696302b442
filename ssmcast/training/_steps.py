"""Pure, jitted pieces of training: the optimizer, the forking-sequence loss, an epoch.

:func:`train_epoch` is one :func:`jax.lax.scan` of train steps over segments already cut
from the data; the number of steps, the length of the data, the step count of the schedule
and the burn-in are arguments, not static settings, so fits of the same architecture and
settings share one compilation whatever the data. The epoch loop in ``_fit`` drives these
from arrays; :mod:`ssmcast.training` re-exports them.
"""

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.flatten_util import ravel_pytree
from jax.sharding import NamedSharding, PartitionSpec

from ssmcast._jit import jit
from ssmcast.models import elementwise_loss, make_targets


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings for :func:`fit`.

    Attributes:
        epochs: Largest number of epochs.
        steps_per_epoch: Optimizer steps per epoch; when None, enough batches to cover the
            training range about once (at least 8, a multiple of 4).
        batch_size: Segments per batch, drawn across series.
        segment_length: Length of each training segment (cut to the training range).
        learning_rate: Peak learning rate of the AdamW group. ``SSMForecaster`` passes its
            own (6e-3 by default, measured on its accuracy benchmark), not this default.
        ssm_learning_rate: Peak learning rate of the SSM group (no weight decay);
            ``SSMForecaster`` passes a third of its ``learning_rate``.
        weight_decay: AdamW weight decay on matrices (not on biases, norms or SSM params).
        warmup_fraction: Share of all steps spent warming the learning rate up from 0.
        final_lr_ratio: Learning rate at the end of the cosine decay, relative to the peak.
        clip_norm: Global gradient norm clip.
        loss: ``"crps"``, ``"nll"``, ``"mse"`` or ``"mae"``; ``"crps"`` for a normal head and
            ``"mse"`` for a point head when None.
        val_fraction: Share of the time steps held out at the end for validation (0: none).
        patience: Epochs without a better validation loss before stopping.
        selection_window: Epochs averaged into the validation score that early stopping and
            the choice of the best parameters read, an odd number: an epoch is judged on the
            mean of each member's losses from ``selection_window // 2`` epochs before it to
            as many after it (fewer at the ends), so one lucky epoch is neither kept nor
            stops training, while a sharp minimum is still kept where it is. 1 (the default)
            reads each epoch alone.
        average_decay: Decay ``d`` of an exponential moving average of the parameters,
            updated after every optimizer step (``avg = d * avg + (1 - d) * params``, with
            the start-up bias corrected). When above 0, validation, early stopping and the
            returned parameters read the average instead of the last step's parameters,
            which smooths the noise of single steps. 0 (the default): no average.
        burn_in: Leading positions of each segment left out of the loss (cold state).
        outage_rate: Share of training segments whose inputs lose a random span of up to
            half the segment (an outage; the targets in and after it are still scored), so
            that the network learns to forecast across gaps. 0: none.
        seed: Seed of the segment sampling; with the model's own seed, training is
            deterministic.
        progress: Show a tqdm progress bar.
    """

    epochs: int = 100
    steps_per_epoch: int | None = None
    batch_size: int = 16
    segment_length: int = 256
    learning_rate: float = 3e-3
    ssm_learning_rate: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    final_lr_ratio: float = 0.05
    clip_norm: float = 1.0
    loss: str | None = None
    val_fraction: float = 0.1
    patience: int = 10
    selection_window: int = 1
    average_decay: float = 0.0
    burn_in: int = 0
    outage_rate: float = 0.0
    seed: int = 0
    progress: bool = True


def make_optimizer(config: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    """Optax optimizer over ``(ssm_params, other_params)``: two groups, one schedule shape.

    Args:
        config: The training settings.
        total_steps: Number of optimizer steps the schedules span.

    Returns:
        The gradient transformation.

    Examples:
        >>> import jax.numpy as jnp
        >>> tx = make_optimizer(TrainConfig(), total_steps=10)
        >>> params = ({"a": jnp.ones(2)}, {"w": jnp.ones((2, 2))})
        >>> state = tx.init(params)
    """
    return _optimizer(config, *schedule_steps(config, total_steps))


def schedule_steps(config: TrainConfig, total_steps: int) -> tuple[int, int]:
    """``(warmup, total)``: the steps of the learning-rate warm-up and of the whole schedule.

    Examples:
        >>> schedule_steps(TrainConfig(warmup_fraction=0.05), 100)
        (5, 100)
    """
    total_steps = max(int(total_steps), 2)
    warmup = min(max(1, int(config.warmup_fraction * total_steps)), total_steps - 1)
    return warmup, total_steps


def _warmup_cosine(peak: float, final_ratio: float, warmup, total):
    """Linear warm-up from 0 to ``peak``, then cosine decay to ``peak * final_ratio``.

    The formula of :func:`optax.warmup_cosine_decay_schedule`, written so that ``warmup``
    and ``total`` may be traced values: a fit's step count is then an argument of the
    compiled epoch, not part of its program.
    """
    end = peak * final_ratio
    alpha = 0.0 if peak == 0 else end / peak

    def schedule(count):
        warm = -peak * (1 - jnp.clip(count, 0, warmup) / warmup) + peak
        decay_steps = total - warmup
        done = jnp.minimum(count - warmup, decay_steps)
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * done / decay_steps))
        return jnp.where(count < warmup, warm, peak * ((1 - alpha) * cosine + alpha))

    return schedule


def _optimizer(config: TrainConfig, warmup, total, decay=None) -> optax.GradientTransformation:
    """The optimizer over ``(ssm_params, other_params)``.

    ``decay``: None for groups that are trees of parameters (weight decay on the matrices);
    for groups that are flat vectors (see :func:`flatten_groups`), the weight decay's 0/1
    factor of each element of the second group. Either way the same AdamW.
    """

    def schedule(peak):
        return _warmup_cosine(peak, config.final_lr_ratio, warmup, total)

    def decay_mask(params):
        return jax.tree.map(lambda p: p.ndim >= 2, params)

    if decay is None:
        other = optax.adamw(
            schedule(config.learning_rate), weight_decay=config.weight_decay, mask=decay_mask
        )
    else:  # optax.adamw's own chain, with a weight decay per element
        other = optax.chain(
            optax.scale_by_adam(),
            optax.add_decayed_weights(config.weight_decay * decay),
            optax.scale_by_learning_rate(schedule(config.learning_rate)),
        )
    groups = {"ssm": optax.adam(schedule(config.ssm_learning_rate)), "other": other}
    chain = [
        optax.clip_by_global_norm(config.clip_norm),
        optax.multi_transform(groups, ("ssm", "other")),
    ]
    if config.average_decay:
        chain.append(_track_average(config.average_decay))
    return optax.chain(*chain)


class AverageState(NamedTuple):
    """The running average of the parameters: ``count`` steps, ``total`` not yet debiased."""

    count: jax.Array
    total: Any


def _track_average(decay: float) -> optax.GradientTransformation:
    """Keep an exponential moving average of the parameters after each update (no change)."""

    def init(params):
        return AverageState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params):
        new = optax.apply_updates(params, updates)
        total = jax.tree.map(lambda a, p: decay * a + (1 - decay) * p, state.total, new)
        return updates, AverageState(state.count + 1, total)

    return optax.GradientTransformation(init, update)


def averaged_params(opt_state, decay: float):
    """The debiased average of the flat parameters in ``opt_state`` (one network).

    Before any step, the average is all zeros; callers read it after training steps.

    Examples:
        >>> import jax.numpy as jnp
        >>> params = ({"a": jnp.ones(2)}, {"w": jnp.ones((2, 2))})
        >>> config = TrainConfig(average_decay=0.9)
        >>> flat, decay, _ = flatten_groups(params)
        >>> tx = _optimizer(config, 1, 10, decay=decay)
        >>> state = tx.init(flat)
        >>> _, state = tx.update(tuple(jnp.zeros_like(v) for v in flat), state, flat)
        >>> [v.tolist() for v in averaged_params(state, 0.9)]  # one step: the parameters
        [[1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """
    average = opt_state[-1]
    correction = 1 - jnp.asarray(decay, jnp.float32) ** average.count
    return jax.tree.map(lambda a: a / correction, average.total)


def flatten_groups(params):
    """``(ssm_params, other_params)`` as two flat vectors, the decay factors and the inverse.

    A training step updates two vectors instead of one array per parameter: the same
    arithmetic, but a smaller compiled step. XLA compiles the optimizer's elementwise work
    once per array, so a network's dozens of parameters made dozens of copies of it; the
    epoch of a 2-layer network compiles in about a quarter less time this way.

    Returns:
        ``(flat, decay, unflatten)``: the two vectors; a NumPy 0/1 vector, 1 on the elements of
        the second group's matrices (the ones with weight decay); and the function that makes
        the two trees again.

    Examples:
        >>> import jax.numpy as jnp
        >>> flat, decay, unflatten = flatten_groups(({"a": jnp.ones(2)}, {"w": jnp.ones((2, 2))}))
        >>> [v.shape for v in flat], decay.tolist()
        ([(2,), (4,)], [1.0, 1.0, 1.0, 1.0])
        >>> unflatten(flat)[1]["w"].shape
        (2, 2)
    """
    ssm, unravel_ssm = ravel_pytree(params[0])
    other, unravel_other = ravel_pytree(params[1])
    leaves = jax.tree.leaves(params[1])
    decay = np.concatenate(
        [np.zeros(0, np.float32)]
        + [np.full(np.size(leaf), float(np.ndim(leaf) >= 2), np.float32) for leaf in leaves]
    )

    def unflatten(flat):
        return unravel_ssm(flat[0]), unravel_other(flat[1])

    return (ssm, other), decay, unflatten


def init_opt_state(config: TrainConfig, params):
    """The optimizer state that :func:`train_epoch` starts from, for ``params`` (one network).

    Examples:
        >>> import jax.numpy as jnp
        >>> state = init_opt_state(TrainConfig(), ({"a": jnp.ones(2)}, {"w": jnp.ones((2, 2))}))
    """
    flat, decay, _ = flatten_groups(params)
    return _optimizer(config, 1, 2, decay=decay).init(flat)


def sequence_loss(model, x, dt, mask, *, loss: str, first_origin=0, input_mask=None):
    """Summed loss and target count of one sequence, over every origin and lead.

    Args:
        model: A :class:`~ssmcast.models.ForecastNetwork`.
        x: Inputs ``(num_timesteps, input_dim)``.
        dt: Time gaps ``(num_timesteps,)``.
        mask: Observed targets ``(num_timesteps, output_dim)``.
        loss: Loss name (see :func:`~ssmcast.models.elementwise_loss`).
        first_origin: Origins before this position are left out.
        input_mask: What the network may read, when it is less than ``mask`` (a simulated
            outage); ``mask`` when None. The targets are always those of ``mask``.

    Returns:
        ``(loss_sum, count)``: divide them for the mean over observed targets.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from ssmcast.models import build_model
        >>> net = build_model(
        ...     "s5", input_dim=1, output_dim=1, horizon=2, d_model=4, rngs=nnx.Rngs(0)
        ... )
        >>> x = jnp.arange(5.0)[:, None]
        >>> s, n = sequence_loss(net, x, jnp.ones(5), jnp.ones((5, 1), bool), loss="mae")
        >>> float(s / n)  # persistence is off by 1 at lead 1, 2 at lead 2
        1.4285...
    """
    forecast = model(x, dt, mask if input_mask is None else input_mask)
    targets, target_mask = make_targets(x[:, : model.output_dim], mask, model.horizon)
    origins = jnp.arange(x.shape[0]) >= first_origin
    target_mask = target_mask & origins[:, None, None]
    values = jnp.where(target_mask, elementwise_loss(forecast, targets, loss), 0.0)
    return jnp.sum(values), jnp.sum(target_mask)


def _all_finite(tree):
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves))


def _batch_loss(graphdef, rest, params, xb, dtb, mb, ib, loss, first_origin):
    model = nnx.merge(graphdef, *params, rest)
    sums, counts = jax.vmap(
        lambda x, dt, m, i: sequence_loss(
            model, x, dt, m, loss=loss, first_origin=first_origin, input_mask=i
        )
    )(xb, dtb, mb, ib)
    return jnp.sum(sums) / jnp.maximum(jnp.sum(counts), 1)


@jit(graph="graphdef", static_argnames=("graphdef", "config", "loss"))
def train_epoch(
    params,
    opt_state,
    ok,
    rest,
    x,
    dt,
    mask,
    outages,
    valid,
    active,
    hyper,
    *,
    graphdef,
    config,
    loss,
):
    """One jitted epoch (or block of one): a :func:`jax.lax.scan` of pure train steps.

    ``x, dt, mask`` are the training segments, ``(steps, batch_size, segment_length, ...)``,
    cut from the data on the host (see ``_fit``); ``outages`` (``(steps, batch_size, 2)``:
    start and length within the segment, length 0 for none) hide a span of each segment's
    inputs, not of its targets; ``valid`` (``(steps, batch_size)`` bool) marks the segments
    that count: the others (padding that makes a batch divide evenly over devices) weigh
    nothing in the loss; ``active`` (``(steps,)`` bool) marks the steps that run: an inactive
    step (padding of the last block of an epoch) changes nothing. ``hyper`` holds the
    schedule's warm-up steps, its total steps and the burn-in (positions of each segment left
    out of the loss) as int32. A step whose loss or gradient is not finite leaves the
    parameters unchanged and sets ``ok`` to False, which freezes them for the rest of the
    epoch. Only the architecture, the optimizer settings and the shapes of a block shape the
    computation, so fits of the same architecture and settings share one compilation
    whatever the length of their data. ``opt_state`` comes from :func:`init_opt_state` (the
    optimizer works on the parameters as flat vectors, see :func:`flatten_groups`).

    Returns:
        ``(params, opt_state, ok, losses, finite)`` with per-step ``losses`` and ``finite``.
    """
    flat, decay, unflatten = flatten_groups(params)
    tx = _optimizer(config, hyper[0], hyper[1], decay=decay)
    segment_length = x.shape[2]

    def train_step(carry, batch):
        params, opt_state, ok = carry  # the parameters as flat vectors
        xb, dtb, mb, outage, use, run = batch
        mb = mb & use[:, None, None]
        t = jnp.arange(segment_length)[None, :]
        hidden = (t >= outage[:, :1]) & (t < outage[:, :1] + outage[:, 1:])
        ib = mb & ~hidden[..., None]
        value, grads = jax.value_and_grad(
            lambda p: _batch_loss(graphdef, rest, unflatten(p), xb, dtb, mb, ib, loss, hyper[2])
        )(params)
        finite = jnp.isfinite(value) & _all_finite(grads)
        updates, new_opt_state = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        good = ok & finite & run

        def keep(new, old):
            return jax.tree.map(lambda n, o: jnp.where(good, n, o), new, old)

        carry = (keep(new_params, params), keep(new_opt_state, opt_state), ok & (finite | ~run))
        return carry, (value, finite | ~run)

    batches = (x, dt, mask, outages, valid, active)
    (flat, opt_state, ok), (losses, finite) = jax.lax.scan(
        train_step, (flat, opt_state, ok), batches
    )
    return unflatten(flat), opt_state, ok, losses, finite


@jit(graph="graphdef", static_argnames=("graphdef", "loss", "batch_size"))
def evaluate(params, rest, x, dt, mask, first_origin, *, graphdef, loss, batch_size):
    """Mean loss over all series from ``first_origin`` on (jitted; series in batches)."""
    model = nnx.merge(graphdef, *params, rest)
    sums, counts = jax.lax.map(
        lambda a: sequence_loss(model, *a, loss=loss, first_origin=first_origin),
        (x, dt, mask),
        batch_size=batch_size,
    )
    return jnp.sum(sums) / jnp.maximum(jnp.sum(counts), 1)


@jit(graph="graphdef", static_argnames=("graphdef", "config", "loss"))
def train_members(
    params,
    opt_state,
    ok,
    rest,
    x,
    dt,
    mask,
    outages,
    valid,
    active,
    hyper,
    *,
    graphdef,
    config,
    loss,
):
    """:func:`train_epoch` for an ensemble: one jitted epoch of every member in lock step.

    ``params``, ``opt_state``, ``ok``, ``rest`` and the segments ``x, dt, mask, outages,
    valid`` have a leading member axis (each member trains on its own segments); ``active``
    and ``hyper`` are shared. Returns what :func:`train_epoch` returns, per member.
    """
    epoch = functools.partial(train_epoch.__wrapped__, graphdef=graphdef, config=config, loss=loss)
    return jax.vmap(epoch, in_axes=(0, 0, 0, 0, 0, 0, 0, 0, 0, None, None))(
        params, opt_state, ok, rest, x, dt, mask, outages, valid, active, hyper
    )


@jit(graph="graphdef", static_argnames=("graphdef", "loss", "batch_size"))
def evaluate_members(params, rest, x, dt, mask, first_origin, *, graphdef, loss, batch_size):
    """:func:`evaluate` per member of an ensemble (leading member axis of ``params``)."""
    one = functools.partial(
        evaluate.__wrapped__, graphdef=graphdef, loss=loss, batch_size=batch_size
    )
    return jax.vmap(one, in_axes=(0, 0, None, None, None, None))(
        params, rest, x, dt, mask, first_origin
    )


@functools.cache
def sharded_steps(mesh):
    """:func:`train_members` and :func:`evaluate_members` jitted for ``mesh``.

    Their inputs arrive placed on the mesh (the batch sharded, the rest replicated); every
    output is replicated, so the parameters stay whole on each device and the host can read
    the losses in every process.
    """
    replicated = NamedSharding(mesh, PartitionSpec())
    train = jit(
        train_members.__wrapped__,
        graph="graphdef",
        static_argnames=("graphdef", "config", "loss"),
        out_shardings=replicated,
    )
    evaluate = jit(
        evaluate_members.__wrapped__,
        graph="graphdef",
        static_argnames=("graphdef", "loss", "batch_size"),
        out_shardings=replicated,
    )
    return train, evaluate
