"""Scaling out: training over devices, backtests over Dask workers, streaming many stations.

Three measurements, printed as tables:

1. ``devices``: the time of a fit (compiled already) against the number of devices it trains
   on, data parallel. Without an accelerator the devices are fake CPU devices
   (``--xla_force_host_platform_device_count``), one process per count: they share the
   machine's cores, so this checks that the sharded step costs little, not a speed-up.
2. ``dask``: stations per second of a one-pass backtest and of ``predict(y=...)`` on many
   stations (the 12 Beijing sites, copied with noise), in this process and on a
   ``dask.distributed.LocalCluster`` of 1 and 2 worker processes.
3. ``streaming``: stations per second of ``update`` (one new step) plus ``predict`` for 1,
   100 and 10,000 stations in one call.
4. ``peers``: the same many-station backtest (the stations and origins of ``dask``) with
   statsforecast's SeasonalNaive and AutoETS, in this process and through statsforecast's
   own Dask backend (fugue) on a ``LocalCluster`` of 1 and 2 workers (AutoETS, which selects
   and fits a model per station and origin, on the first 24 stations), after a warm-up run
   that lets numba compile the models in each process. statsforecast needs
   pandas < 3, so this part runs in its own environment:
   ``python -m venv /tmp/benv && /tmp/benv/bin/pip install statsforecast "pandas<3"
   "dask[distributed]" "fugue[dask]" && /tmp/benv/bin/pip install -e .``, then
   ``/tmp/benv/bin/python benchmarks/scale.py --part peers``. statsforecast refits every
   station at every origin (that is what its ``cross_validation`` does), where ssmcast's
   one-pass backtest applies one fitted global model; the peers do not take missing values,
   so theirs are filled by linear interpolation first.

Run:
    python benchmarks/scale.py [--part devices|dask|streaming|peers] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

SETTINGS = dict(
    d_model=16, num_layers=1, ensemble_size=1, batch_size=16, segment_length=128,
    seasons=(), staleness=False, calibrate=False, random_state=0, progress=False,
)  # fmt: skip


def sites(copies: int = 1, year: str = "2016"):
    """Daily temperature at the 12 Beijing sites; ``copies`` noisy copies of each."""
    import xarray as xr

    from ssmcast import datasets

    temp = datasets.load("beijing_multisite", as_="xarray")["TEMP"].sel(time=year)
    if copies == 1:
        return temp
    rng = np.random.default_rng(0)
    parts = [temp + rng.normal(0, 0.5, temp.shape) for _ in range(copies)]
    names = [f"{s}-{i}" for i in range(copies) for s in temp["station"].values]
    return xr.concat(parts, dim="station").assign_coords(station=names)


def _time(call, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


# --- 1. devices ---------------------------------------------------------------------------


def devices_child(count: int, epochs: int) -> None:
    """In a process with ``count`` fake devices: the fit's time once compiled."""
    from ssmcast import SSMForecaster

    temp = sites(copies=4)  # 48 stations
    model = SSMForecaster(horizon=7, max_epochs=epochs, validation_fraction=0.0, **SETTINGS)
    model.fit(temp)  # compiles
    seconds = _time(lambda: model.fit(temp), repeat=2)
    steps = max(8, -(-temp.shape[1] * temp.shape[0] // (16 * 128)))
    print(json.dumps({"devices": len(model.devices_), "seconds": seconds, "steps": steps}))


def devices(quick: bool) -> None:
    epochs = 2 if quick else 5
    print(f"training: 48 stations x 366 days, batch 16 x 128 steps, {epochs} epochs")
    print("devices  fit_s   segments_per_s")
    for count in (1, 2, 4, 8):
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={count}"
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(count), "--epochs", str(epochs)],
            env={**os.environ, "XLA_FLAGS": flags.strip()},
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rate = epochs * row["steps"] * 16 / row["seconds"]
        print(f"{row['devices']:>7}  {row['seconds']:6.2f}  {rate:10.0f}")


# --- 2. dask ------------------------------------------------------------------------------


def dask_workers(quick: bool) -> None:
    from distributed import Client, LocalCluster

    from ssmcast import SSMForecaster, backtest

    copies = 10 if quick else 40
    temp = sites(copies=copies, year=slice("2015", "2016"))
    n = temp.sizes["station"]
    model = SSMForecaster(horizon=7, max_epochs=1, **SETTINGS)
    kwargs = dict(horizon=7, start="2016-07-01", progress=False)
    model.fit(temp.sel(time=slice(None, "2016-06-30")))
    print(f"{n} stations x {temp.sizes['time']} days; one-pass backtest from 2016-07-01")
    print("where                 backtest_stations_per_s  predict_stations_per_s")

    def measure(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = _time(lambda: backtest(model, data, **kwargs), repeat=2)
            pred = _time(lambda: model.predict(y=data), repeat=2)
        return n / run, n / pred

    rows = {"this process": measure(temp)}
    for workers in (1, 2):
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as c,
            Client(c),
        ):
            lazy = temp.chunk({"station": -(-n // (2 * workers))})
            rows[f"dask, {workers} worker(s)"] = measure(lazy)
    for where, (run, pred) in rows.items():
        print(f"{where:<22}{run:>24.0f}{pred:>24.0f}")


# --- 3. streaming -------------------------------------------------------------------------


def streaming(quick: bool) -> None:
    import pandas as pd

    from ssmcast import SSMForecaster

    temp = sites()
    model = SSMForecaster(horizon=7, max_epochs=1, **SETTINGS).fit(temp.sel(time="2016-01"))
    print("stations  update+predict_ms  stations_per_s")
    for count in (1, 100, 1_000 if quick else 10_000):
        copies = -(-count // 12)
        data = sites(copies=copies).isel(station=slice(0, count))
        history, new = data.isel(time=slice(0, 300)), data.isel(time=slice(300, 330))
        many = model._for_series(history)
        steps = iter(range(new.sizes["time"]))

        def step(many=many, new=new, steps=steps):
            i = next(steps)
            many.update(new.isel(time=slice(i, i + 1)))
            many.predict()

        seconds = _time(step, repeat=10)
        print(f"{count:>8}  {1000 * seconds:>17.2f}  {count / seconds:>14.0f}")
    del pd


# --- 4. statsforecast's own Dask backend on the same stations ------------------------------


def peers(quick: bool) -> None:
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, SeasonalNaive
    except ImportError:
        print("peers: statsforecast is not installed here (see the module docstring)")
        return
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    copies = 10 if quick else 40
    temp = sites(copies=copies, year=slice("2015", "2016"))
    n = temp.sizes["station"]
    frame = (
        temp.to_series()
        .rename("y")
        .reset_index()
        .rename(columns={"station": "unique_id", "time": "ds"})
    )
    frame["y"] = frame.groupby("unique_id")["y"].transform(
        lambda y: y.interpolate(limit_direction="both")
    )
    test_days = int((pd.DatetimeIndex(temp["time"].values) >= "2016-07-01").sum())
    windows = test_days // 7
    print(
        f"{n} stations x {temp.sizes['time']} days; statsforecast cross_validation, h=7, "
        f"step 7, {windows} windows (the origins of the ssmcast backtest)"
    )
    print("model           stations  where                 stations_per_s")
    # AutoETS selects and fits a model per station and origin (about 0.1 s each here): it
    # runs on the first 24 stations, once, so that the part ends in minutes
    ids = frame["unique_id"].unique()
    for model, count, repeat in (
        (SeasonalNaive(season_length=7), n, 2),
        (AutoETS(season_length=7), 24, 1),
    ):
        name = type(model).__name__
        part = frame[frame["unique_id"].isin(ids[:count])]

        def run(data, model=model):
            forecaster = StatsForecast(models=[model], freq="D", n_jobs=1)
            out = forecaster.cross_validation(df=data, h=7, step_size=7, n_windows=windows)
            return out.compute() if hasattr(out, "compute") else out

        one = frame[frame["unique_id"] == ids[0]]
        run(one)  # warm-up: numba compiles statsforecast's models at their first call
        seconds = _time(lambda part=part: run(part), repeat=repeat)
        print(f"{name:<16}{count:>8}  {'this process':<22}{count / seconds:>14.3g}", flush=True)
        for workers in (1, 2):
            with (
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, dashboard_address=None
                ) as cluster,
                Client(cluster),
            ):
                run(dd.from_pandas(one, npartitions=workers))  # warm-up in the workers
                lazy = dd.from_pandas(part, npartitions=2 * workers)
                seconds = _time(lambda lazy=lazy: run(lazy), repeat=repeat)
            where = f"dask, {workers} worker(s)"
            print(f"{name:<16}{count:>8}  {where:<22}{count / seconds:>14.3g}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=["devices", "dask", "streaming", "peers"], action="append"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (seconds)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return devices_child(args.child, args.epochs)
    import jax

    print(f"jax {jax.__version__}, backend {jax.default_backend()}, {os.cpu_count()} CPU cores")
    parts = args.part or ["devices", "dask", "streaming"]
    for part in parts:
        print()
        run = {"devices": devices, "dask": dask_workers, "streaming": streaming, "peers": peers}
        run[part](args.quick)
    return None


if __name__ == "__main__":
    main()
