"""Model files: the weights as a ``.npz`` under PyTorch ``state_dict`` names, plus metadata.

A file holds one array per parameter (``conv1.weight (8, 1, 3, 3)``, ...,
``fc2.bias (10,)``), so ``torch.nn`` users can load it with
``{k: torch.from_numpy(v) for k, v in np.load(path).items()}`` after dropping the
``metadata.json`` entry: a 0-d string array with JSON (format version,
architecture, training settings and history, accuracy, date).

Saving is atomic: the file is written beside the target and renamed over it, so
an interrupted save leaves the previous file intact.  Loading checks
everything and raises :class:`ModelFileError` with one line on any fault.
"""
import datetime as _dt
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelFileError
from .network import Network

FORMAT_VERSION = 1
METADATA_KEY = "metadata.json"


def save_model(path, network, metadata=None):
    """Write ``network`` and ``metadata`` (a JSON-able dict) to ``path`` atomically."""
    path = Path(path)
    meta = dict(metadata or {})
    meta.update(format_version=FORMAT_VERSION, architecture=network.architecture,
                saved_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    arrays = {name: np.asarray(value, np.float32) for name, value in network.named_params()}
    arrays[METADATA_KEY] = np.array(json.dumps(meta))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ModelFileError(f"cannot save {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ModelFileError(f"cannot save {path}: {exc.strerror or exc}") from None
        raise


def _read_arrays(path):
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, EOFError):
        raise ModelFileError(f"{path.name}: not a model file (not a valid .npz archive)") from None
    except (ValueError, OSError, KeyError) as exc:
        raise ModelFileError(f"{path.name}: corrupt model file ({exc})") from None


def _read_metadata(path, arrays):
    if METADATA_KEY not in arrays:
        raise ModelFileError(f"{path.name}: no metadata entry, so not a model file of this app")
    try:
        meta = json.loads(str(arrays.pop(METADATA_KEY)))
    except (json.JSONDecodeError, TypeError):
        raise ModelFileError(f"{path.name}: the metadata entry is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path.name}: the metadata entry is not a JSON object")
    version = meta.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(f"{path.name}: format version {version!r} is not supported "
                             f"(this app reads version {FORMAT_VERSION}); is the app older than the file?")
    return meta


def _build_network(path, meta, arrays):
    try:
        network = Network(meta.get("architecture"))
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path.name}: unsupported architecture ({exc})") from None
    expected = dict(network.named_params())
    for name, value in expected.items():
        if name not in arrays:
            raise ModelFileError(f"{path.name}: missing array {name}")
        got = arrays[name]
        if got.shape != value.shape:
            raise ModelFileError(f"{path.name}: {name} has shape {got.shape}, expected {value.shape} "
                                 f"(a model of another architecture?)")
        if not np.issubdtype(got.dtype, np.floating):
            raise ModelFileError(f"{path.name}: {name} holds {got.dtype}, not floating-point numbers")
        if not np.isfinite(got).all():
            raise ModelFileError(f"{path.name}: {name} contains NaN or infinite values")
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise ModelFileError(f"{path.name}: unexpected arrays {', '.join(extra[:3])} "
                             f"(a model of another architecture?)")
    network.load_state_dict({name: arrays[name].astype(np.float32) for name in expected})
    return network


def load_model(path):
    """Read a model file; return ``(network, metadata)``.

    Raises
    ------
    ModelFileError
        Missing, empty, truncated or non-zip file; metadata that is not JSON or
        of an unknown version; a missing array, a wrong shape or NaN weights.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    meta = _read_metadata(path, arrays)
    return _build_network(path, meta, arrays), meta
