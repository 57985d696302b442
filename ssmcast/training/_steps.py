"""Pure, jitted pieces of training: the optimizer, the forking-sequence loss, an epoch.

:func:`train_epoch` is one :func:`jax.lax.scan` of train steps; everything that shapes the
computation is a static argument, so fits of the same architecture and settings share one
compilation. The epoch loop in ``_fit`` drives these from arrays; :mod:`ssmcast.training`
re-exports them.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from ssmcast.models import elementwise_loss, make_targets


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings for :func:`fit`.

    Attributes:
        epochs: Largest number of epochs.
        steps_per_epoch: Optimizer steps per epoch; when None, enough batches to cover the
            training range about once (at least 8).
        batch_size: Segments per batch, drawn across series.
        segment_length: Length of each training segment (cut to the training range).
        learning_rate: Peak learning rate of the AdamW group.
        ssm_learning_rate: Peak learning rate of the SSM group (no weight decay).
        weight_decay: AdamW weight decay on matrices (not on biases, norms or SSM params).
        warmup_fraction: Share of all steps spent warming the learning rate up from 0.
        final_lr_ratio: Learning rate at the end of the cosine decay, relative to the peak.
        clip_norm: Global gradient norm clip.
        loss: ``"crps"``, ``"nll"``, ``"mse"`` or ``"mae"``; ``"crps"`` for a normal head and
            ``"mse"`` for a point head when None.
        val_fraction: Share of the time steps held out at the end for validation (0: none).
        patience: Epochs without a better validation loss before stopping.
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
    total_steps = max(int(total_steps), 2)
    warmup = min(max(1, int(config.warmup_fraction * total_steps)), total_steps - 1)

    def schedule(peak):
        return optax.warmup_cosine_decay_schedule(
            0.0, peak, warmup, total_steps, end_value=peak * config.final_lr_ratio
        )

    def decay_mask(params):
        return jax.tree.map(lambda p: p.ndim >= 2, params)

    groups = {
        "ssm": optax.adam(schedule(config.ssm_learning_rate)),
        "other": optax.adamw(
            schedule(config.learning_rate), weight_decay=config.weight_decay, mask=decay_mask
        ),
    }
    return optax.chain(
        optax.clip_by_global_norm(config.clip_norm),
        optax.multi_transform(groups, ("ssm", "other")),
    )


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


@functools.partial(
    jax.jit, static_argnames=("graphdef", "config", "loss", "total_steps", "segment_length")
)
def train_epoch(
    params,
    opt_state,
    ok,
    rest,
    x,
    dt,
    mask,
    series,
    starts,
    outages=None,
    valid=None,
    *,
    graphdef,
    config,
    loss,
    total_steps,
    segment_length,
):
    """One jitted epoch: a :func:`jax.lax.scan` of pure train steps over batches.

    ``series, starts`` (shape ``(steps, batch_size)``) say where each segment of
    ``segment_length`` steps is cut from ``x, dt, mask`` (``(num_series, num_timesteps,
    ...)``); ``outages`` (``(steps, batch_size, 2)``: start and length within the segment,
    length 0 for none) hide a span of each segment's inputs, not of its targets; ``valid``
    (``(steps, batch_size)`` bool, or None for all) marks the segments that count: the others
    (padding that makes a batch divide evenly over devices) weigh nothing in the loss. A step
    whose loss or gradient is not finite leaves the parameters unchanged and
    sets ``ok`` to False, which freezes them for the rest of the epoch. Everything that shapes
    the computation is static, so fits of the same architecture and settings share one
    compilation.

    Returns:
        ``(params, opt_state, ok, losses, finite)`` with per-step ``losses`` and ``finite``.
    """
    tx = make_optimizer(config, total_steps)

    def cut(a, batch):
        return jax.vmap(lambda i, s: jax.lax.dynamic_slice_in_dim(a[i], s, segment_length))(*batch)

    def train_step(carry, batch):
        params, opt_state, ok = carry
        outage = batch[2]
        xb, dtb, mb = cut(x, batch[:2]), cut(dt, batch[:2]), cut(mask, batch[:2])
        if valid is not None:
            mb = mb & batch[3][:, None, None]
        t = jnp.arange(segment_length)[None, :]
        hidden = (t >= outage[:, :1]) & (t < outage[:, :1] + outage[:, 1:])
        ib = mb & ~hidden[..., None]
        value, grads = jax.value_and_grad(
            lambda p: _batch_loss(graphdef, rest, p, xb, dtb, mb, ib, loss, config.burn_in)
        )(params)
        finite = jnp.isfinite(value) & _all_finite(grads)
        updates, new_opt_state = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        good = ok & finite

        def keep(new, old):
            return jax.tree.map(lambda n, o: jnp.where(good, n, o), new, old)

        return (keep(new_params, params), keep(new_opt_state, opt_state), good), (value, finite)

    if outages is None:
        outages = jnp.zeros((*series.shape, 2), jnp.int32)
    batches = (series, starts, outages) + (() if valid is None else (valid,))
    (params, opt_state, ok), (losses, finite) = jax.lax.scan(
        train_step, (params, opt_state, ok), batches
    )
    return params, opt_state, ok, losses, finite


@functools.partial(jax.jit, static_argnames=("graphdef", "loss", "batch_size"))
def evaluate(params, rest, x, dt, mask, first_origin, *, graphdef, loss, batch_size):
    """Mean loss over all series from ``first_origin`` on (jitted; series in batches)."""
    model = nnx.merge(graphdef, *params, rest)
    sums, counts = jax.lax.map(
        lambda a: sequence_loss(model, *a, loss=loss, first_origin=first_origin),
        (x, dt, mask),
        batch_size=batch_size,
    )
    return jnp.sum(sums) / jnp.maximum(jnp.sum(counts), 1)


@functools.partial(
    jax.jit, static_argnames=("graphdef", "config", "loss", "total_steps", "segment_length")
)
def train_members(
    params,
    opt_state,
    ok,
    rest,
    x,
    dt,
    mask,
    series,
    starts,
    outages,
    valid=None,
    *,
    graphdef,
    config,
    loss,
    total_steps,
    segment_length,
):
    """:func:`train_epoch` for an ensemble: one jitted epoch of every member in lock step.

    ``params``, ``opt_state``, ``ok`` and ``rest`` have a leading member axis, and so do
    ``series``, ``starts``, ``outages`` and ``valid`` (each member cuts its own segments);
    the data ``x, dt, mask`` is shared. Returns what :func:`train_epoch` returns, per member.
    """
    epoch = functools.partial(
        train_epoch.__wrapped__,
        graphdef=graphdef,
        config=config,
        loss=loss,
        total_steps=total_steps,
        segment_length=segment_length,
    )
    return jax.vmap(epoch, in_axes=(0, 0, 0, 0, None, None, None, 0, 0, 0, 0))(
        params, opt_state, ok, rest, x, dt, mask, series, starts, outages, valid
    )


@functools.partial(jax.jit, static_argnames=("graphdef", "loss", "batch_size"))
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
    train = jax.jit(
        train_members.__wrapped__,
        static_argnames=("graphdef", "config", "loss", "total_steps", "segment_length"),
        out_shardings=replicated,
    )
    evaluate = jax.jit(
        evaluate_members.__wrapped__,
        static_argnames=("graphdef", "loss", "batch_size"),
        out_shardings=replicated,
    )
    return train, evaluate
