"""Several processes (hosts) train one model together with ``jax.distributed``.

What it shows:

* ``jax.distributed.initialize``: every process runs this same script; together their
  devices form one mesh, and ``SSMForecaster`` (``devices=None``) trains data parallel over
  all of them: each training batch is split over the devices and XLA sums the gradients;
* each process reads only its own share of the 12 stations of the shipped
  ``beijing_multisite`` dataset (daily temperature) and fits on it; the processes train one
  global model and each keeps the recurrent state of its own stations;
* the forecasts of every station gathered to every process: each writes
  ``forecast-{process_id}.csv`` (one column per station), and the files are identical, as
  are the models' weights (their SHA-256 in ``weights-{process_id}.txt``).

Run (two processes on one machine, on the CPU):
    python examples/distributed_training.py --coordinator 127.0.0.1:12355 \\
        --num-processes 2 --process-id 0 --out results/dist &
    python examples/distributed_training.py --coordinator 127.0.0.1:12355 \\
        --num-processes 2 --process-id 1 --out results/dist

On a cluster (SLURM, Open MPI, Kubernetes, Cloud TPU), start one process per host with
``--cluster`` instead: ``jax.distributed`` detects the coordinator, the number of processes
and each one's rank (see the user guide's "Scaling out" page). With none of these options
the script runs as one process, on that process's devices.

Environment:
    SSMCAST_EXAMPLE_EPOCHS  training epochs (default 20; early stopping may stop sooner)
    SSMCAST_EXAMPLE_FAST=1  a tiny model on one year of data (seconds; for the tests)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

import jax
import numpy as np
import pandas as pd
from flax import nnx

from ssmcast import SSMForecaster, datasets, training

EPOCHS = int(os.environ.get("SSMCAST_EXAMPLE_EPOCHS", "20"))
FAST = os.environ.get("SSMCAST_EXAMPLE_FAST", "") == "1"


def make_forecaster(horizon: int) -> SSMForecaster:
    """The default model for real use; a tiny one in fast mode. ``devices=None``: all."""
    if FAST:
        return SSMForecaster(
            horizon=horizon, d_model=4, num_layers=1, ensemble_size=1, max_epochs=EPOCHS,
            batch_size=4, segment_length=64, seasons=(), staleness=False, calibrate=False,
            validation_fraction=0.0, random_state=0, progress=False,
        )  # fmt: skip
    return SSMForecaster(horizon=horizon, max_epochs=EPOCHS, random_state=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", help="HOST:PORT of process 0")
    parser.add_argument("--num-processes", type=int, help="number of processes")
    parser.add_argument("--process-id", type=int, help="this process's rank, from 0")
    parser.add_argument("--cluster", action="store_true", help="detect the cluster's settings")
    parser.add_argument("--out", type=Path, help="output folder (default: a new temp folder)")
    args = parser.parse_args(argv)
    settings = (args.coordinator, args.num_processes, args.process_id)

    # CPU collectives between processes go through gloo; GPUs and TPUs use their own
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    distributed = args.cluster or any(v is not None for v in settings)
    if distributed:  # before anything else touches the devices
        jax.distributed.initialize(*settings)
    rank, size = jax.process_index(), jax.process_count()
    out = args.out or Path(tempfile.mkdtemp(prefix="ssmcast-dist-"))
    out.mkdir(parents=True, exist_ok=True)

    temp = datasets.load("beijing_multisite", as_="xarray")["TEMP"]  # (time, station)
    horizon = 7
    if FAST:
        temp = temp.sel(time=slice("2016-01-01", "2016-12-31"))
    # this process's share of the stations (contiguous, in process order)
    everyone = temp["station"].values
    share = np.array_split(everyone, size)[rank]
    mine = temp.sel(station=share)
    print(f"process {rank} of {size}: stations {share.tolist()}, {len(jax.devices())} devices")

    forecaster = make_forecaster(horizon).fit(mine)
    forecast = forecaster.predict().transpose("station", "time")  # this process's stations
    values, _ = training.gather_processes(forecast.values)  # every station, every process
    table = pd.DataFrame(values.T, index=forecast["time"].values, columns=everyone)
    table.index.name = "time"
    table.to_csv(out / f"forecast-{rank}.csv", float_format="%.6f")

    leaves = jax.tree.leaves(nnx.to_pure_dict(forecaster.fitted_.state.params))
    digest = hashlib.sha256(b"".join(np.asarray(leaf).tobytes() for leaf in leaves)).hexdigest()
    (out / f"weights-{rank}.txt").write_text(digest + "\n")
    print(f"process {rank}: trained on {len(forecaster.devices_)} devices, weights {digest[:12]}")
    if distributed:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
