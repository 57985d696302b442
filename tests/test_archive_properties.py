"""Property-based tests of save and load: round trips, and archives corrupted at random.

* Round trip: a model fitted on data with random names, time zones and layouts saves and
  loads into a forecaster that predicts, updates and saves again exactly as the original.
* Corruption: an archive whose bytes are flipped or cut, whose ``config.json`` has a value
  replaced by random JSON, or whose weights are replaced by random bytes, either loads into
  a model that forecasts finite values or is refused with a ``ValueError`` that names the
  file; never another exception, never NaN forecasts.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssmcast import SSMForecaster, datasets

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TINY = dict(
    horizon=3, d_model=4, num_layers=1, max_epochs=1, batch_size=2, segment_length=32,
    ensemble_size=1, random_state=0, progress=False,
)  # fmt: skip
LABELS = st.one_of(
    st.text(min_size=1, max_size=8),
    st.integers(-5, 5),
    st.sampled_from(["TEMP", "température", "温度", "a/b", "", " "]),
)


def _temperature() -> pd.Series:
    return datasets.load("beijing")["TEMP"].loc["2014-11-01":"2014-11-10"]


def _fit(y, **params) -> SSMForecaster:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SSMForecaster(**{**TINY, **params}).fit(y)


class _Saved(bytes):
    """An archive's bytes, shown short in hypothesis' reports."""

    def __repr__(self) -> str:
        return f"<archive of {len(self)} bytes>"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The archive of a fitted tiny model, as bytes."""
    path = tmp_path_factory.mktemp("archive") / "good.ssmcast"
    _fit(_temperature()).save(path)
    return _Saved(path.read_bytes())


@settings(SETTINGS, max_examples=6)  # each example fits a model
@given(
    st.lists(LABELS, min_size=1, max_size=3, unique_by=str),
    st.sampled_from([None, "UTC", "Asia/Kolkata"]),
    st.sampled_from(["series", "wide", "long"]),
)
def test_a_saved_model_loads_and_forecasts_exactly_as_the_original(
    tmp_path_factory, names, zone, layout
):
    temp = _temperature()
    time = temp.index if zone is None else temp.index.tz_localize(zone)
    block = np.stack([temp.to_numpy() + i for i in range(len(names))], axis=1)
    if layout == "series":
        y = pd.Series(block[:, 0], index=time, name=names[0])
    elif layout == "wide":
        y = pd.DataFrame(block, index=time, columns=names)
    else:
        y = pd.DataFrame(
            [{"unique_id": n, "ds": t, "y": v} for i, n in enumerate(names)
             for t, v in zip(time, block[:, i], strict=True)]
        )  # fmt: skip
    f = _fit(y)
    path = tmp_path_factory.mktemp("roundtrip") / "m.ssmcast"
    f.save(path)
    g = SSMForecaster.load(path)
    assert g.get_params() == f.get_params()
    expected, got = f.predict_quantiles([0.1, 0.9]), g.predict_quantiles([0.1, 0.9])
    pd.testing.assert_frame_equal(got, expected)
    g.save(path)  # saved again: the same model
    pd.testing.assert_frame_equal(SSMForecaster.load(path).predict_quantiles([0.1, 0.9]), expected)


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, replace.get(info.filename, old.read(info.filename)))
    return out.getvalue()


def _paths(tree, prefix=()):
    """Every path into a JSON tree (dict keys and list positions)."""
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _paths(value, (*prefix, i))


def _set(tree, path, value):
    if not path:
        return value
    tree = json.loads(json.dumps(tree))
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return tree


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def corruptions(draw, data: bytes):
    """A corrupted copy of the archive ``data``, and how it was corrupted."""
    kind = draw(st.sampled_from(["flip", "cut", "config", "weights"]))
    if kind == "flip":  # anywhere: headers, compressed streams, checksums
        raw = bytearray(data)
        for position in draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
            raw[position] ^= draw(st.integers(1, 255))
        return bytes(raw), kind
    if kind == "cut":
        return data[: draw(st.integers(0, len(data) - 1))], kind
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        config = json.loads(archive.read("config.json"))
    if kind == "config":
        paths = list(_paths(config))
        path = paths[draw(st.integers(0, len(paths) - 1))]
        text = json.dumps(_set(config, path, draw(JSON)))
        return _rezip(data, {"config.json": text.encode()}), f"config {path}"
    member = draw(st.sampled_from(["params.msgpack", "state.msgpack"]))
    return _rezip(data, {member: draw(st.binary(max_size=64))}), f"weights {member}"


@settings(SETTINGS, max_examples=60)
@given(st.data())
def test_a_corrupted_archive_is_refused_or_forecasts_finite_values(saved, tmp_path_factory, data):
    bad, how = data.draw(corruptions(bytes(saved)))
    path = tmp_path_factory.mktemp("corrupt") / "bad.ssmcast"
    path.write_bytes(bad)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = SSMForecaster.load(path)
            forecast = g.predict_quantiles([0.1, 0.5, 0.9])
    except ValueError as err:
        assert str(path) in str(err), (how, err)
        return
    assert np.isfinite(forecast.to_numpy()).all(), how
