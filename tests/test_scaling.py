"""Scaling out: data-parallel training over devices.

The sharded fit is checked against a one-device fit of the same seed (the reference). Fake
CPU devices need ``--xla_force_host_platform_device_count`` before JAX starts, so those runs
happen in a fresh process.
"""

from __future__ import annotations

import json
import os
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

