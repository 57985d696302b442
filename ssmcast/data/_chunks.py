"""Many series through Dask: a dask-backed xarray input, split by its chunks of series.

An ``xr.DataArray``/``xr.Dataset`` whose values are dask arrays, chunked along a series
dimension (``station``, ``lat``, ...), is cut at those chunk boundaries into blocks of
whole series. :func:`map_series_chunks` runs a function on every block on the active
``dask.distributed`` client: the shared value (a fitted forecaster) is scattered to the
workers once, and each worker reads its own block of the data (the dask graph computes it
there, never in this process).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

__all__ = [
    "active_client",
    "columns_as_series",
    "is_dask_backed",
    "join_blocks",
    "map_series_chunks",
    "series_blocks",
]


def is_dask_backed(y: Any, time_dim: Hashable = "time") -> bool:
    """Whether ``y`` is xarray data held in dask arrays (lazy).

    Examples:
        >>> import numpy as np, xarray as xr
        >>> is_dask_backed(xr.DataArray(np.zeros((3, 2)), dims=("time", "station")))
        False
    """
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a dependency
        return False
    if not isinstance(y, (xr.DataArray, xr.Dataset)):
        return False
    return bool(y.chunksizes)


def active_client():
    """The active ``dask.distributed`` client, or None (none, or dask is not installed)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def series_blocks(y: Any, time_dim: Hashable = "time") -> tuple[Hashable | None, list]:
    """``y`` cut along its most-chunked series dimension at the chunk boundaries.

    Returns:
        ``(dim, blocks)``: the dimension and the lazy pieces of ``y`` in order along it;
        ``(None, [y])`` when no series dimension is chunked.
    """
    sizes = {dim: chunks for dim, chunks in y.chunksizes.items() if dim != time_dim}
    if not sizes or max(len(chunks) for chunks in sizes.values()) < 2:
        return None, [y]
    dim = max(sizes, key=lambda d: len(sizes[d]))
    blocks, start = [], 0
    for size in sizes[dim]:
        blocks.append(y.isel({dim: slice(start, start + size)}))
        start += size
    return dim, blocks


def map_series_chunks(function: Callable, shared: Any, y: Any, client, *args) -> list:
    """``function(shared, block, *args)`` for every block of series of ``y``, on ``client``.

    ``shared`` is scattered to every worker once per call, under a fresh key;
    each block is a lazy piece of ``y`` (see :func:`series_blocks`) that its worker computes
    from the dask graph before calling ``function``.

    Returns:
        The results, in the order of the blocks along the series dimension.
    """
    import dask

    _, blocks = series_blocks(y)
    # hash=False: a fresh key per call. Under the default content-hashed key, scattering the
    # same object again (a backtest's forecaster, then its predict) while the scheduler still
    # releases the last copy loses it: "lost dependencies" (dask/distributed#8576).
    remote = client.scatter(shared, broadcast=True, hash=False)
    tasks = [dask.delayed(function)(remote, block, *args) for block in blocks]
    return client.gather(client.compute(tasks))


def join_blocks(y: Any, parts: list, time_dim: Hashable = "time") -> Any:
    """Outputs in ``y``'s xarray layout, one per block of :func:`series_blocks`, as one."""
    import xarray as xr

    dim, _ = series_blocks(y, time_dim)
    return parts[0] if dim is None else xr.concat(parts, dim=dim)


def columns_as_series(y: Any, num_blocks: int | None = None) -> Any:
    """A wide frame's columns as independent series: an ``xr.DataArray`` ``(time, series)``.

    A wide frame is read as the channels of one series; as this array, each column is a
    series (a station) of one global model, labelled by its column name. With
    ``num_blocks``, the array is dask-backed, in that many chunks of whole series. Anything
    but a wide frame (a Series, xarray data) comes back as it is.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame(
        ...     {"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]},
        ...     index=pd.date_range("2024-01-01", periods=2, freq="h"),
        ... )
        >>> columns_as_series(frame).dims
        ('time', 'series')
        >>> columns_as_series(frame, 2).chunksizes["series"]
        (2, 1)
    """
    import math

    import pandas as pd
    import xarray as xr

    if not isinstance(y, pd.DataFrame) or not isinstance(y.index, pd.DatetimeIndex):
        return y
    array = xr.DataArray(
        y.to_numpy(),
        dims=("time", "series"),
        coords={"time": y.index.rename("time"), "series": [str(c) for c in y.columns]},
    )
    if num_blocks is None:
        return array
    return array.chunk({"series": math.ceil(y.shape[1] / max(1, num_blocks))})
