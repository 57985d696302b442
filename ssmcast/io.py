"""Saving and loading fitted forecasters: data, never code.

A saved model is a zip archive with three members:

* ``config.json``: the format name and version, the ssmcast version, the estimator's
  parameters, the data's layout, frequency, cutoff, scaling statistics and the training
  history;
* ``params.msgpack``: the network's weights (:mod:`flax.serialization` msgpack);
* ``state.msgpack``: the recurrent state and the forecast from it, so a loaded model
  continues exactly where the saved one stopped.

Nothing is unpickled: JSON and msgpack hold only numbers, strings and arrays. A missing,
truncated, foreign or newer-format file is refused with a :class:`ValueError` that says what
is wrong.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jax
import numpy as np
import pandas as pd
from flax import nnx, serialization

from ssmcast._version import __version__
from ssmcast.data import Layout, Scaler

FORMAT = "ssmcast-model"
FORMAT_VERSION = 1
_MEMBERS = ("config.json", "params.msgpack", "state.msgpack")


def save_forecaster(forecaster, path) -> None:
    """Write a fitted :class:`~ssmcast.SSMForecaster` to ``path`` (see the module docstring)."""
    f = forecaster
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ssmcast_version": __version__,
        "estimator": type(f).__name__,
        "params": f.get_params(),
        "fitted": {
            "cutoff": f.cutoff_.isoformat(),
            "freq": f.freq_.freqstr,
            "layout": f.layout_.to_dict(),
            "num_series": f.num_series_,
            "num_channels": f.num_channels_,
            "num_gaps": f.num_gaps_,
            "input_dim": f.input_dim_,
            "num_covariates": f.num_covariates_,
            "scaler": f.scaler_.to_dict(),
            "covariate_scaler": None
            if f._covariate_scaler is None
            else f._covariate_scaler.to_dict(),
            "history": {k: [float(v) for v in vs] for k, vs in f.history_.items()},
            "best_epoch": int(f.best_epoch_),
        },
    }
    params = serialization.msgpack_serialize(jax.tree.map(np.asarray, nnx.to_pure_dict(f._params)))
    leaves = jax.tree.leaves((f._state, f._last))
    state = serialization.msgpack_serialize({str(i): np.asarray(x) for i, x in enumerate(leaves)})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(config, indent=2, default=_json_default))
        archive.writestr("params.msgpack", params)
        archive.writestr("state.msgpack", state)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} in the model's JSON")


def _refuse(path, what: str) -> ValueError:
    return ValueError(f"Cannot load {path}: {what}")


def _read_archive(path) -> tuple[dict, bytes, bytes]:
    path = Path(path)
    if not path.exists():
        raise _refuse(path, "no such file. Pass the path that SSMForecaster.save wrote.")
    if not zipfile.is_zipfile(path):
        raise _refuse(path, "it is not an ssmcast model file (not a zip archive).")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in _MEMBERS if m not in names]
            if "config.json" not in names:
                raise _refuse(path, "it is not an ssmcast model file (no config.json).")
            config = json.loads(archive.read("config.json"))
            _check_format(path, config)
            if missing:
                raise _refuse(path, f"the file is incomplete (missing {', '.join(missing)}).")
            return config, archive.read("params.msgpack"), archive.read("state.msgpack")
    except (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError, KeyError) as err:
        raise _refuse(path, f"the file is truncated or corrupted ({err}).") from err


def _check_format(path, config) -> None:
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise _refuse(path, "it is not an ssmcast model file (unknown format).")
    version = config.get("format_version")
    if not isinstance(version, int):
        raise _refuse(path, "its format version is missing or not an integer.")
    if version > FORMAT_VERSION:
        raise _refuse(
            path,
            f"it was written in model format {version} by ssmcast "
            f"{config.get('ssmcast_version', '?')}; this ssmcast {__version__} reads format "
            f"{FORMAT_VERSION} and older. Upgrade ssmcast to load it.",
        )


def load_forecaster(path):
    """Read a forecaster written by :func:`save_forecaster`; it predicts exactly as before."""
    from ssmcast.forecaster import SSMForecaster, batched_init_state

    config, params_bytes, state_bytes = _read_archive(path)
    if config.get("estimator") != "SSMForecaster":
        raise _refuse(path, f"it holds a {config.get('estimator')!r}, not an SSMForecaster.")
    try:
        fitted = config["fitted"]
        f = SSMForecaster(**config["params"])
        f.cutoff_ = pd.Timestamp(fitted["cutoff"])
        f.freq_ = pd.tseries.frequencies.to_offset(fitted["freq"])
        f.layout_ = Layout.from_dict(fitted["layout"])
        f.num_series_ = int(fitted["num_series"])
        f.num_channels_ = int(fitted["num_channels"])
        f.num_gaps_ = int(fitted["num_gaps"])
        f.input_dim_ = int(fitted["input_dim"])
        f.num_covariates_ = int(fitted["num_covariates"])
        f.scaler_ = Scaler.from_dict(fitted["scaler"])
        cov = fitted["covariate_scaler"]
        f._covariate_scaler = None if cov is None else Scaler.from_dict(cov)
        f.history_ = fitted["history"]
        f.best_epoch_ = int(fitted["best_epoch"])
        network = f._build_network(0, f.num_channels_)
        graphdef, params = nnx.split(network)
        nnx.replace_by_pure_dict(params, _restore(nnx.to_pure_dict(params), params_bytes))
        template = (
            batched_init_state(graphdef, params, f.num_series_),
            _last_template(f),
        )
        leaves, treedef = jax.tree.flatten(template)
        stored = serialization.msgpack_restore(state_bytes)
        if len(stored) != len(leaves):
            raise ValueError(f"{len(stored)} state arrays where {len(leaves)} were expected")
        restored = []
        for i, leaf in enumerate(leaves):
            value = np.asarray(stored[str(i)])
            if value.shape != leaf.shape:
                raise ValueError(f"state array {i} has shape {value.shape}, not {leaf.shape}")
            restored.append(jax.numpy.asarray(value, leaf.dtype))
        f._graphdef, f._params = graphdef, params
        f._state, f._last = jax.tree.unflatten(treedef, restored)
    except (KeyError, TypeError, ValueError) as err:
        raise _refuse(path, f"the file is truncated or corrupted ({err}).") from err
    return f


def _last_template(f):
    shape = (f.num_series_, f.horizon, f.num_channels_)
    zeros = jax.numpy.zeros(shape, jax.numpy.float32)
    return (zeros, zeros)


def _restore(target: dict, data: bytes) -> dict:
    """Weights from msgpack, checked leaf by leaf against the freshly built network."""
    stored = serialization.msgpack_restore(data)
    flat_target = dict(_flatten(target))
    flat_stored = dict(_flatten(stored))
    if flat_target.keys() != flat_stored.keys():
        raise ValueError("the weights do not match the model's parameters")
    for key, leaf in flat_target.items():
        if np.shape(flat_stored[key]) != np.shape(leaf):
            raise ValueError(f"weight {'/'.join(key)} has shape {np.shape(flat_stored[key])}")
    return jax.tree.map(lambda _, new: new, target, _unflatten_like(target, flat_stored))


def _flatten(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flatten(value, (*prefix, str(key)))
    else:
        yield prefix, tree


def _unflatten_like(target, flat, prefix=()):
    if isinstance(target, dict):
        return {k: _unflatten_like(v, flat, (*prefix, str(k))) for k, v in target.items()}
    return jax.numpy.asarray(flat[prefix], getattr(target, "dtype", None))
