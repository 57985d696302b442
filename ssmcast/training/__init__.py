"""Train forecasting networks on long segments with a loss at every position and lead.

The network reads each training segment in parallel and forecasts the next ``horizon``
steps from every position (forking sequences), so one pass gives ``segment_length``
examples per segment. The loss (CRPS or NLL for a normal head, MSE or MAE for a point head)
is averaged over every observed (origin, lead, output) target. Parameters form two optimizer
groups: the SSM parameters (:class:`~ssmcast.layers.SSMParam`) with a lower learning rate and
no weight decay, and the rest with AdamW; both share warm-up, cosine decay and global
gradient clipping. An epoch runs as jitted blocks of a few train steps
(:func:`jax.lax.scan`) over segments cut on the host; the compiled block depends on the
architecture and the settings, not on the data, so fits on data of any length, any number of
series and any number of steps share one compilation. Early stopping watches a time-ordered
validation tail, padded to a bucket length (:func:`bucket_length`) so that data of similar
lengths share that pass too. With a device mesh (:func:`make_mesh`), each step's batch of
segments is split over the devices and XLA sums the gradients (data parallel, also across
processes under :func:`jax.distributed.initialize`). Everything here takes arrays; the
estimator wraps it with pandas.
"""

from ssmcast.training._fit import (
    TrainingDivergedError,
    TrainResult,
    bucket_length,
    check_arrays,
    fit,
    fit_ensemble,
    stack_members,
    validation_steps,
)
from ssmcast.training._sharding import (
    agree,
    gather_processes,
    make_mesh,
    resolve_devices,
)
from ssmcast.training._steps import (  # noqa: F401
    TrainConfig,
    evaluate_members,
    flatten_groups,
    init_opt_state,
    make_optimizer,
    sequence_loss,
    train_members,
)
from ssmcast.training._steps import evaluate as evaluate  # reachable here as before
from ssmcast.training._steps import train_epoch as train_epoch

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingDivergedError",
    "agree",
    "bucket_length",
    "check_arrays",
    "fit",
    "fit_ensemble",
    "flatten_groups",
    "gather_processes",
    "init_opt_state",
    "make_mesh",
    "make_optimizer",
    "resolve_devices",
    "sequence_loss",
    "stack_members",
    "validation_steps",
]
