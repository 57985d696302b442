"""Archives of data, never code: a JSON config and msgpack trees in one zip file.

An archive holds ``config.json`` (a dict with the format name and version) and any number of
msgpack members, each a tree of arrays (:mod:`flax.serialization`). Nothing is unpickled:
JSON and msgpack hold only numbers, strings and arrays. This module knows no estimator: the
caller names the format, the members it expects, and reads each tree against a template of
the right structure, shapes and dtypes (:func:`restore_tree`).

* :func:`write_archive` writes atomically: a temporary file in the same folder, then a
  rename, so a failed save never destroys the file that was there.
* :func:`read_archive` refuses a missing, truncated, foreign or newer-format file with a
  :class:`ValueError` that says what is wrong.

Examples:
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.zip"
    >>> tree = {"w": {"a": np.arange(3.0, dtype=np.float32)}}
    >>> write_archive(path, {"size": 3}, tree, format="demo", version=1)
    >>> archive = read_archive(path, format="demo", version=1, members=("w",))
    >>> template = {"a": np.zeros(3, np.float32)}
    >>> archive.config["size"], restore_tree(archive.members["w"], template)["a"].tolist()
    (3, [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from flax import serialization

from ssmcast._version import __version__

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_MEMBER_BYTES",
    "Archive",
    "check_path",
    "numbered_leaves",
    "read_archive",
    "refuse",
    "restore_leaves",
    "restore_tree",
    "write_archive",
]

_CONFIG = "config.json"
MAX_MEMBER_BYTES = 2**31  # 2 GiB: far above any model ssmcast trains
MAX_CONFIG_BYTES = 2**24  # 16 MiB of JSON: settings, scalers and the data's layout


class Archive(NamedTuple):
    """An archive read by :func:`read_archive`.

    Attributes:
        path: The file.
        config: The JSON config (format fields included).
        members: The raw msgpack bytes of each tree member, by name.
    """

    path: Path
    config: dict
    members: dict[str, bytes]


def write_archive(
    path: str | os.PathLike,
    config: Mapping[str, Any],
    trees: Mapping[str, Any],
    *,
    format: str,
    version: int,
) -> None:
    """Write ``config`` and the ``trees`` to a zip archive at ``path``, atomically.

    Args:
        path: The file to write; replaced only once the new archive is complete.
        config: JSON-serialisable settings (NumPy scalars are converted).
        trees: Member name -> a tree of arrays (dicts, lists, NamedTuples of arrays).
        format: The format name stored in the config and checked on reading.
        version: The format version stored in the config.

    Raises:
        OSError: If the folder cannot be written (the old file, if any, is kept).
    """
    path = check_path(path, "save")
    header = {"format": format, "format_version": version, "ssmcast_version": __version__}
    text = json.dumps({**header, **config}, indent=2, default=_json_default)
    blobs = {
        name: serialization.msgpack_serialize(jax.tree.map(np.asarray, tree))
        for name, tree in trees.items()
    }
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else "."
    )
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(_CONFIG, text)
            for name, blob in blobs.items():
                z.writestr(f"{name}.msgpack", blob)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} in the archive's JSON")


def check_path(path: object, method: str) -> Path:
    """``path`` as a ``Path``, or a TypeError that says what ``method`` expects.

    Examples:
        >>> check_path(None, "save")
        Traceback (most recent call last):
        ...
        TypeError: The 'path' argument of save must be a file path (str or os.PathLike). Got None (NoneType); e.g. save("model.ssmcast").
    """  # noqa: E501
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike) or not str(path):
        raise TypeError(
            f"The 'path' argument of {method} must be a file path (str or os.PathLike). Got "
            f'{path!r} ({type(path).__name__}); e.g. {method}("model.ssmcast").'
        )
    return Path(path)


class _Refused(ValueError):
    """A file that cannot be loaded, for a reason already put in words."""


# What a damaged zip file raises on reading: bad headers or checksums, deflate streams that
# do not decode, flags that claim an encryption or a compression method that is not there,
# and config text that is not UTF-8 or not JSON (both ValueErrors)
_CORRUPTED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    KeyError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


def refuse(path, what: str) -> ValueError:
    """The error for a file that cannot be loaded: ``Cannot load PATH: WHAT``."""
    return _Refused(f"Cannot load {path}: {what}")


def read_archive(
    path: str | os.PathLike,
    *,
    format: str,
    version: int,
    members: tuple[str, ...],
    what: str = "an ssmcast model file",
    hint: str = "Pass the path that SSMForecaster.save wrote.",
) -> Archive:
    """Read an archive written by :func:`write_archive`, checking its format first.

    Args:
        path: The file.
        format: The expected format name.
        version: The newest format version this reader understands.
        members: The tree members that must be present.
        what: What the file should be, for messages (``"an ssmcast model file"``).
        hint: How to fix a missing file, for the message.

    Returns:
        The :class:`Archive`.

    Raises:
        ValueError: If the file is missing, not a zip archive, of another format, of a newer
            format version, incomplete, truncated or corrupted, or if a member would inflate
            beyond :data:`MAX_MEMBER_BYTES` (:data:`MAX_CONFIG_BYTES` for the config); the
            sizes are checked before anything is inflated.
    """
    path = check_path(path, "load")
    if not path.exists():
        raise refuse(path, f"no such file. {hint}")
    if not zipfile.is_zipfile(path):
        raise refuse(path, f"it is not {what} (not a zip archive).")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if _CONFIG not in names:
                raise refuse(path, f"it is not {what} (no {_CONFIG}).")
            for info in archive.infolist():  # before inflating anything
                limit = MAX_CONFIG_BYTES if info.filename == _CONFIG else MAX_MEMBER_BYTES
                if info.file_size > limit:
                    raise refuse(
                        path,
                        f"its member {info.filename} would inflate to {info.file_size:,} bytes, "
                        f"more than the limit of {limit:,} (ssmcast.io.MAX_MEMBER_BYTES, "
                        "MAX_CONFIG_BYTES); it is not a file ssmcast wrote, or raise the limit.",
                    )
            config = json.loads(archive.read(_CONFIG))
            _check_format(path, config, format, version, what)
            missing = [f"{m}.msgpack" for m in members if f"{m}.msgpack" not in names]
            if missing:
                raise refuse(path, f"the file is incomplete (missing {', '.join(missing)}).")
            blobs = {m: archive.read(f"{m}.msgpack") for m in members}
    except _Refused:
        raise
    except _CORRUPTED as err:
        raise refuse(path, f"the file is truncated or corrupted ({err}).") from err
    return Archive(path, config, blobs)


def _check_format(path, config, format: str, version: int, what: str) -> None:
    if not isinstance(config, dict) or config.get("format") != format:
        raise refuse(path, f"it is not {what} (unknown format).")
    found = config.get("format_version")
    if not isinstance(found, int) or isinstance(found, bool):
        raise refuse(path, "its format version is missing or not an integer.")
    if found > version:
        raise refuse(
            path,
            f"it was written in format {found} by ssmcast "
            f"{config.get('ssmcast_version', '?')}; this ssmcast {__version__} reads format "
            f"{version} and older. Upgrade ssmcast to load it.",
        )


def restore_tree(data: bytes, template: Any) -> Any:
    """A tree of nested dicts from msgpack, checked key by key and shape by shape.

    Args:
        data: The msgpack bytes of a member.
        template: Nested dicts of arrays with the expected keys, shapes and dtypes.

    Returns:
        The stored tree with the template's structure, as JAX arrays of its dtypes.

    Raises:
        ValueError: If the keys or a shape differ, or a value is not finite.
    """
    stored = serialization.msgpack_restore(data)
    flat_template = dict(_flatten(template))
    flat_stored = dict(_flatten(stored))
    if flat_template.keys() != flat_stored.keys():
        raise ValueError("the stored arrays do not match the expected ones")
    for key, leaf in flat_template.items():
        _check_leaf(flat_stored[key], leaf, "/".join(key))
    return _unflatten_like(template, flat_stored)


def restore_leaves(data: bytes, template: Any) -> Any:
    """A tree stored as its numbered leaves (``{"0": ..., "1": ...}``), on ``template``.

    Args:
        data: The msgpack bytes of a member written from ``{str(i): leaf}``.
        template: Any JAX tree with the expected structure, shapes and dtypes.

    Returns:
        ``template``'s structure with the stored leaves.

    Raises:
        ValueError: If the count or a shape of the leaves differs, or a value is not finite.
    """
    leaves, treedef = jax.tree.flatten(template)
    stored = serialization.msgpack_restore(data)
    if not isinstance(stored, dict) or len(stored) != len(leaves):
        count = len(stored) if isinstance(stored, dict) else 0
        raise ValueError(f"{count} state arrays where {len(leaves)} were expected")
    restored = [
        jax.numpy.asarray(_check_leaf(stored[str(i)], leaf, f"state array {i}"), leaf.dtype)
        for i, leaf in enumerate(leaves)
    ]
    return jax.tree.unflatten(treedef, restored)


def numbered_leaves(tree: Any) -> dict[str, np.ndarray]:
    """The leaves of a tree as ``{"0": leaf, "1": leaf, ...}`` (read by restore_leaves)."""
    return {str(i): np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(tree))}


def _check_leaf(value: Any, leaf: Any, name: str) -> np.ndarray:
    value = np.asarray(value)
    if value.shape != np.shape(leaf):
        raise ValueError(f"{name} has shape {value.shape}, not {np.shape(leaf)}")
    if np.issubdtype(value.dtype, np.inexact) and not np.isfinite(value).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return value


def _flatten(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flatten(value, (*prefix, str(key)))
    else:
        yield prefix, tree


def _unflatten_like(template, flat, prefix=()):
    if isinstance(template, dict):
        return {k: _unflatten_like(v, flat, (*prefix, str(k))) for k, v in template.items()}
    return jax.numpy.asarray(flat[prefix], getattr(template, "dtype", None))
