"""Data-parallel training over devices with :mod:`jax.sharding`, also across processes.

The devices form a one-axis :class:`~jax.sharding.Mesh` (axis ``"batch"``). The parameters
(and the validation window) are replicated on every device; the batch of training segments
(cut on the host, each with its weight: 0 for the padding that makes the batch divide
evenly) is sharded along the mesh axis, so each device receives only its own segments.
Plain :func:`jax.jit` then runs each device's segments on that device and XLA reduces the
loss and the gradients across the mesh: no ``pmap``.

Under :func:`jax.distributed.initialize` the mesh spans the devices of every process; each
process passes its own share of the series and :func:`gather_processes` assembles the
global training arrays, so that every process drives the same computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "AXIS",
    "agree",
    "gather_processes",
    "make_mesh",
    "padded_batch_size",
    "put_replicated",
    "put_sharded",
    "resolve_devices",
]

AXIS = "batch"


def resolve_devices(devices: Any, owner: str = "SSMForecaster") -> tuple[jax.Device, ...]:
    """The devices that ``devices`` names, checked.

    Args:
        devices: None for every device of the default backend (in one process: its local
            devices; under :func:`jax.distributed.initialize`: those of every process); an
            int ``n`` for the first ``n`` of them; or a list of :class:`jax.Device`.
        owner: Who takes the argument, for the error messages.

    Returns:
        The devices, in order.

    Raises:
        TypeError: If ``devices`` is not None, an int or a list of devices.
        ValueError: If it names no device, more devices than there are, or one twice.

    Examples:
        >>> import jax
        >>> resolve_devices(1) == (jax.devices()[0],)
        True
    """
    available = jax.devices()
    if devices is None:
        return tuple(available)
    if isinstance(devices, bool) or not isinstance(devices, (int, np.integer, list, tuple)):
        raise TypeError(
            f"The 'devices' parameter of {owner} must be None (every device), an int (the first "
            f"n devices) or a list of jax devices such as jax.devices()[:2]. Got {devices!r}."
        )
    if isinstance(devices, (int, np.integer)):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"The 'devices' parameter of {owner} must be between 1 and the {len(available)} "
                f"device(s) of the {jax.default_backend()!r} backend. Got {devices}; pass None "
                "to use them all."
            )
        return tuple(available[: int(devices)])
    if not devices:
        raise ValueError(
            f"The 'devices' parameter of {owner} must name at least one device. Got an empty "
            "list; pass None to use every device."
        )
    wrong = [d for d in devices if not isinstance(d, jax.Device)]
    if wrong:
        raise TypeError(
            f"The 'devices' parameter of {owner} must hold jax devices (from jax.devices()). "
            f"Got {wrong[0]!r} of type {type(wrong[0]).__name__}; pass an int for the first n "
            "devices."
        )
    if len(set(devices)) != len(devices):
        raise ValueError(
            f"The 'devices' parameter of {owner} names a device twice: {list(devices)}. List "
            "each device once."
        )
    return tuple(devices)


def make_mesh(devices: Sequence[jax.Device]) -> Mesh:
    """A one-axis mesh (``"batch"``) over ``devices``.

    Raises:
        ValueError: If several processes run and the devices leave one of them out.
    """
    processes = {d.process_index for d in devices}
    if jax.process_count() > 1 and len(processes) != jax.process_count():
        raise ValueError(
            f"'devices' must include devices of all {jax.process_count()} processes under "
            f"jax.distributed; it has devices of processes {sorted(processes)}. Pass "
            "devices=None to train on every device."
        )
    return Mesh(np.asarray(devices), (AXIS,))


def padded_batch_size(batch_size: int, mesh: Mesh) -> int:
    """``batch_size`` rounded up to a multiple of the mesh's size (extra segments weigh 0).

    Examples:
        >>> import jax
        >>> padded_batch_size(6, make_mesh(jax.devices()[:1]))
        6
    """
    return math.ceil(batch_size / mesh.size) * mesh.size


def _put(tree, sharding: NamedSharding):
    """Every leaf of ``tree`` (the same on every process) as a global array on ``sharding``."""

    def put(leaf):
        if jax.process_count() == 1:
            return jax.device_put(leaf, sharding)
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def put_replicated(tree, mesh: Mesh):
    """``tree`` with a copy of every leaf on every device of ``mesh``."""
    return _put(tree, NamedSharding(mesh, PartitionSpec()))


def put_sharded(tree, mesh: Mesh, axis: int):
    """``tree`` with its leaves split along ``axis`` over the devices of ``mesh``."""
    return _put(tree, NamedSharding(mesh, PartitionSpec(*([None] * axis), AXIS)))


def gather_processes(array: np.ndarray) -> tuple[np.ndarray, slice]:
    """Every process's ``array`` joined along axis 0, and where this process's rows lie.

    In one process: ``array`` itself and ``slice(0, len(array))``. Under
    :func:`jax.distributed.initialize`, each process passes its own share of the series (the
    other axes must agree) and every process gets all of them, in process order.

    Raises:
        ValueError: If the processes' arrays differ beyond axis 0.
    """
    array = np.asarray(array)
    if jax.process_count() == 1:
        return array, slice(0, len(array))
    from jax.experimental import multihost_utils

    shape = np.asarray([len(array), *array.shape[1:]], np.int64)
    shapes = np.asarray(multihost_utils.process_allgather(shape)).reshape(jax.process_count(), -1)
    if len(set(map(tuple, shapes[:, 1:].tolist()))) > 1:
        raise ValueError(
            "Under jax.distributed every process must pass series on the same timestamps "
            f"with the same channels; their arrays have shapes {shapes.tolist()} (series "
            "first). Give every process the same time range."
        )
    counts = shapes[:, 0]
    padded = np.zeros((int(counts.max()), *array.shape[1:]), array.dtype)
    padded[: len(array)] = array
    every = np.asarray(multihost_utils.process_allgather(padded))
    joined = np.concatenate([every[p, :n] for p, n in enumerate(counts)])
    start = int(counts[: jax.process_index()].sum())
    return joined, slice(start, start + len(array))


def agree(value: int) -> int:
    """Process 0's ``value`` on every process (a seed drawn at random must be shared)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.asarray(value, np.int64)))
