"""Scaling out: data-parallel training over devices, and many stations through Dask.

The sharded fit is checked against a one-device fit of the same seed (the reference); the
runs on a Dask cluster against the same computation in this process. Fake CPU devices need
``--xla_force_host_platform_device_count`` before JAX starts, so those runs happen in a fresh
process. Two processes under ``jax.distributed`` are tested with the example that shows them
(``tests/test_examples.py``).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from ssmcast import SSMForecaster, datasets

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(
    d_model=4,
    num_layers=1,
    max_epochs=2,
    batch_size=6,
    segment_length=64,
    ensemble_size=1,
    seasons=(),
    staleness=False,
    calibrate=False,
    random_state=0,
    progress=False,
)


def stations() -> pd.DataFrame:
    """Hourly temperature at the three New York airports, a month (three series)."""
    weather = datasets.load("nyc_weather")
    return weather[[c for c in weather.columns if c.endswith("_temp")]].iloc[:800]


@pytest.mark.parametrize(
    ("devices", "error", "match"),
    [
        ("gpu", TypeError, "'devices' parameter .* Got 'gpu'"),
        (True, TypeError, "'devices' parameter"),
        (0, ValueError, "between 1 and the 1 device"),
        (10**6, ValueError, "Got 1000000; pass None"),
        ([], ValueError, "at least one device"),
        ([0], TypeError, "must hold jax devices .* Got 0 of type int"),
        ("twice", ValueError, "names a device twice"),
    ],
)
def test_devices_are_checked(devices, error, match):
    if devices == "twice":
        devices = [jax.devices()[0]] * 2
    y = stations().iloc[:100]
    with pytest.raises(error, match=match):
        SSMForecaster(devices=devices, **TINY).fit(y)


def test_devices_are_a_fitted_attribute_not_saved(tmp_path):
    one = jax.devices()[:1]
    f = SSMForecaster(horizon=6, devices=one, **TINY)
    copy = clone(f)  # devices cannot be deep-copied: the list is shared
    assert copy.get_params()["devices"] == one and copy.get_params()["devices"] is not one
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f.fit(stations())
    assert f.devices_ == tuple(one)
    f.save(tmp_path / "model.ssmcast")
    loaded = SSMForecaster.load(tmp_path / "model.ssmcast")
    assert loaded.get_params()["devices"] is None
    assert loaded.devices_ == tuple(jax.devices())
    np.testing.assert_array_equal(loaded.predict().to_numpy(), f.predict().to_numpy())
    # pickled (as Dask sends it to worker processes): devices stay behind, as in a file
    copy = pickle.loads(pickle.dumps(f))
    assert copy.get_params()["devices"] is None and copy.devices_ == tuple(jax.devices())
    assert f.devices_ == tuple(one) and f.get_params()["devices"] == one  # unchanged
    np.testing.assert_array_equal(copy.predict().to_numpy(), f.predict().to_numpy())


_EIGHT_DEVICES = """
import json, sys, warnings
import jax, numpy as np
sys.path.insert(0, {tests!r})
from test_scaling import TINY, stations
from ssmcast import SSMForecaster
warnings.simplefilter("ignore")
out = {{}}
for devices in (1, None):  # one device (the reference), then all eight
    f = SSMForecaster(horizon=6, devices=devices, **TINY).fit(stations())
    out[str(devices)] = (len(f.devices_), f.predict().to_numpy().tolist(), f.history_)
print(json.dumps(out))
"""


def test_eight_devices_forecast_as_one():
    """Batch 6 on 8 fake CPU devices (padded with 2 segments of weight 0) vs 1 device."""
    flags = os.environ.get("XLA_FLAGS", "")
    env = {**os.environ, "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count=8"}
    script = _EIGHT_DEVICES.format(tests=str(ROOT / "tests"))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    (n_one, one, history_one), (n_all, sharded, history_all) = out["1"], out["None"]
    assert (n_one, n_all) == (1, 8)
    np.testing.assert_allclose(sharded, one, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(history_all["train_loss"], history_one["train_loss"], rtol=1e-5)


# --- many stations through Dask -------------------------------------------------------------

DAILY = dict(TINY, horizon=7, max_epochs=1, batch_size=4)


def sites():
    """Daily temperature at the 12 Beijing air-quality sites, 2016 (``(time, station)``)."""
    temp = datasets.load("beijing_multisite", as_="xarray")["TEMP"]
    return temp.sel(time=slice("2016-01-01", "2016-12-31"))


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_backtest_and_predict_by_blocks_of_stations_on_dask(client):
    from ssmcast import backtest

    temp = sites()
    lazy = temp.chunk({"station": 5})  # blocks of 5, 5 and 2 stations
    kwargs = dict(horizon=7, start="2016-11-01", levels=[0.1, 0.9], progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spread = backtest(SSMForecaster(**DAILY), lazy, **kwargs)  # on the workers
        here = backtest(SSMForecaster(**DAILY), temp, **kwargs)  # in memory: in this process
    assert here.method == spread.method == "one_pass"
    pd.testing.assert_frame_equal(
        spread.forecasts, here.forecasts, check_exact=False, rtol=1e-5, atol=1e-5
    )
    pd.testing.assert_series_equal(spread.metrics.overall, here.metrics.overall, rtol=1e-5)

    model = spread.forecaster  # fitted on every station up to the first origin
    forecast = model.predict(y=lazy)
    assert forecast.dims == ("time", "station") and forecast.sizes["station"] == 12
    assert forecast["time"].values[0] == np.datetime64("2017-01-01")
    np.testing.assert_allclose(forecast.values, model.predict(y=temp).values, rtol=1e-5)
    # what the fit holds for its own stations, read again by predict(y=...)
    fitted_part = temp.sel(time=slice(None, "2016-10-31"))
    np.testing.assert_allclose(
        model.predict(y=fitted_part).values, model.predict().values, rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="takes no `X`"):
        model.predict(y=temp, X=temp)
    with pytest.raises(ValueError, match="2 channel"):
        model.predict(y=temp.to_dataset(name="TEMP").assign(DEWP=temp))


def _first_value(shared, block):
    return float(block.values[0, 0]) + float(shared[0])


def test_the_same_object_can_be_mapped_again_at_once(client):
    """Each call scatters under a fresh key: a second scatter of the same object must not
    race the scheduler's release of the first (dask's "lost dependencies")."""
    from ssmcast.data._chunks import map_series_chunks

    lazy = sites().chunk({"station": 4})
    shared = np.ones(3)  # one object (a dict or a list would be scattered item by item)
    first = map_series_chunks(_first_value, shared, lazy, client)
    for _ in range(20):  # the same object again and again, each copy released at once
        assert map_series_chunks(_first_value, shared, lazy, client) == first


def test_cli_backtest_on_a_dask_scheduler(client, tmp_path):
    from click.testing import CliRunner

    from ssmcast.cli import cli

    frame = sites().isel(station=slice(0, 4)).to_pandas()  # wide: one column per station
    path = tmp_path / "sites.csv"
    frame.rename_axis("date").to_csv(path)
    targets = [arg for name in frame.columns for arg in ("--target", name)]
    # the wiring only (the scheduler, a block of stations per worker): a baseline, which
    # fits per station, runs in this process; the SSM path is tested above
    args = [
        str(path), *targets, "--series-columns", "--model", "seasonal_naive", "--horizon",
        "7", "--start", "2016-12-01", "--compare", "naive", "--quiet",
    ]  # fmt: skip
    scheduler = client.scheduler.address
    runs = {
        where: CliRunner().invoke(cli, ["backtest", *args, *extra, "--out", str(tmp_path / where)])
        for where, extra in {"dask": ["--dask-scheduler", scheduler], "here": []}.items()
    }
    for result in runs.values():
        assert result.exit_code == 0, result.output
    spread, here = (pd.read_csv(tmp_path / where / "forecasts.csv") for where in runs)
    assert sorted(spread["series"].unique()) == sorted(frame.columns)  # stations, not channels
    pd.testing.assert_frame_equal(spread, here, check_exact=False, rtol=1e-5, atol=1e-5)
