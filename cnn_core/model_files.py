"""Model files: the weights as a ``.npz`` under PyTorch ``state_dict`` names, plus metadata.

A file holds one array per parameter (``conv1.weight (8, 1, 3, 3)``, ...,
``fc2.bias (10,)``), so ``torch.nn`` users can load it with
``{k: torch.from_numpy(v) for k, v in np.load(path).items()}`` after dropping the
``metadata.json`` entry: a 0-d string array with JSON (format version,
architecture, training settings and history, accuracy, date).

Saving is atomic: the file is written beside the target and renamed over it, so
an interrupted save leaves the previous file intact.  A save killed outright
leaves its hidden temporary file behind; the next save of the same file removes
such files once they are old enough not to belong to a save still running.
Loading checks everything and raises :class:`ModelFileError` with one line on
any fault.
"""
import datetime as _dt
import json
import lzma
import os
import re
import stat
import time
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .errors import ConfigError, ModelFileError
from .layers import LAYER_TYPES
from .network import Network
from .trainer import EpochRecord, TrainConfig

FORMAT_VERSION = 1
METADATA_KEY = "metadata.json"
#: A temporary file untouched this long belongs to a save that was killed, not
#: to one in progress (a save writes continuously and takes well under a second).
STALE_TEMP_SECONDS = 120

# What np.load and zipfile raise on a damaged archive besides BadZipFile: a
# garbled .npy header (ValueError, SyntaxError, TokenError), a compression
# method or flag they do not support (NotImplementedError, RuntimeError for
# "encrypted"), corrupt compressed data (zlib, lzma; bz2 gives OSError), and a
# header announcing an absurd array size (MemoryError).
_CORRUPT_ARCHIVE_ERRORS = (ValueError, OSError, KeyError, SyntaxError, tokenize.TokenError,
                           NotImplementedError, RuntimeError, zlib.error, lzma.LZMAError,
                           MemoryError, OverflowError)


def save_model(path, network, metadata=None):
    """Write ``network`` and ``metadata`` (a JSON-able dict) to ``path`` atomically."""
    path = Path(path)
    meta = dict(metadata or {})
    meta.update(format_version=FORMAT_VERSION, architecture=network.architecture,
                saved_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    arrays = {name: np.asarray(value, np.float32) for name, value in network.named_params()}
    bad = next((name for name, value in arrays.items() if not np.isfinite(value).all()), None)
    if bad is not None:
        # load_model would refuse such a file; better not to replace a good one with it.
        raise ModelFileError(f"cannot save {path}: {bad} contains NaN or infinite values")
    arrays[METADATA_KEY] = np.array(json.dumps(meta))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o644   # keep it
        with atomic_write(path, mode, durable=True) as handle:
            np.savez(handle, **arrays)
    except OSError as exc:
        raise ModelFileError(f"cannot save {path}: {exc.strerror or exc}") from None
    _remove_stale_temps(path)


def _remove_stale_temps(path):
    """Delete ``.NAME.XXXXXXXX.tmp`` files beside ``path`` left by killed saves of it."""
    # The random part has no dots, so another file's temporaries never match.
    pattern = re.compile(re.escape(f".{path.name}.") + r"[^.]+\.tmp")
    cutoff = time.time() - STALE_TEMP_SECONDS
    try:
        candidates = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return                  # the save itself succeeded; tidying up is a courtesy
    for candidate in candidates:
        try:
            if candidate.stat().st_mtime < cutoff:
                candidate.unlink()
        except OSError:
            pass                # gone already (another save tidied it) or not ours to delete


def _read_arrays(path):
    try:
        if path.is_dir():
            shown = path if path.name not in ("", "..") else os.path.abspath(path)
            raise ModelFileError(f"{shown}: is a folder, not a model file")
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
    except OSError as exc:      # a folder on the way that may not be looked into
        raise ModelFileError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        loaded = np.load(path, allow_pickle=False)
    except PermissionError:     # an OSError, but no fault of the file's contents
        raise ModelFileError(f"{path.name}: cannot be read (permission denied)") from None
    except (zipfile.BadZipFile, EOFError, *_CORRUPT_ARCHIVE_ERRORS):
        raise ModelFileError(f"{path.name}: not a model file, or a damaged one "
                             f"(not a valid .npz archive)") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path.name}: not a model file (a single NumPy array, "
                             f"not a .npz archive)")
    try:
        with loaded as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, EOFError, *_CORRUPT_ARCHIVE_ERRORS) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path.name}: corrupt model file ({detail})") from None


def _read_metadata(path, arrays):
    if METADATA_KEY not in arrays:
        raise ModelFileError(f"{path.name}: no metadata entry, so not a model file of this app")
    try:
        meta = json.loads(str(arrays.pop(METADATA_KEY)))
    except (ValueError, TypeError, RecursionError):
        raise ModelFileError(f"{path.name}: the metadata entry is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path.name}: the metadata entry is not a JSON object")
    version = meta.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(f"{path.name}: format version {version!r} is not supported "
                             f"(this app reads version {FORMAT_VERSION}); is the app older than the file?")
    return meta


#: The whole-number settings each kind of layer needs besides its type and name.
_LAYER_SIZES = {"conv": ("in_channels", "out_channels"), "dense": ("in_features", "out_features")}


def _json(value, limit=40):
    """``value`` as JSON on one line, cut short when long: for messages."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _key(text):
    """A setting's name as it is when it is plain text, else quoted and escaped."""
    return text if text.isprintable() and len(text) <= 40 else _json(text)


def _json_kind(value):
    """What a JSON value is, in words: for messages about the architecture."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the truth value {_json(value)}"
    if isinstance(value, (int, float)):
        return f"the number {_json(value)}"
    if isinstance(value, str):
        return f"the text {_json(value)}"
    return "a list" if isinstance(value, list) else "a table of settings"


def _check_architecture(path, architecture):
    """Raise ModelFileError, in plain words, unless ``architecture`` is a list of
    layer specs that :func:`~cnn_core.layers.layer_from_spec` can build."""
    if architecture is None:
        raise ModelFileError(f"{path.name}: the metadata has no architecture (the list of layers)")
    if not isinstance(architecture, list):
        raise ModelFileError(f"{path.name}: the architecture is not a list of layers "
                             f"but {_json_kind(architecture)}")
    if not architecture:
        raise ModelFileError(f"{path.name}: the architecture lists no layers")
    types = ", ".join(sorted(LAYER_TYPES))
    seen = {}
    for index, spec in enumerate(architecture):
        where = f"layer {index} of the architecture"
        if not isinstance(spec, dict):
            raise ModelFileError(f"{path.name}: {where} is not a table of settings "
                                 f"but {_json_kind(spec)}")
        kind, name = spec.get("type"), spec.get("name")
        if "type" not in spec:
            raise ModelFileError(f"{path.name}: {where} has no type (one of {types})")
        if not isinstance(kind, str) or kind not in LAYER_TYPES:
            raise ModelFileError(f"{path.name}: {where} has type {_json(kind)}, "
                                 f"not one of {types}")
        # Printable: the name appears in messages, which must stay one line.
        if not isinstance(name, str) or not name or not name.isprintable():
            got = "no name" if "name" not in spec else f"the name {_json(name)}"
            raise ModelFileError(f"{path.name}: {where} ({kind}) has {got}; "
                                 f"it needs a name such as \"{kind}1\"")
        where = f"layer {index} ({name}) of the architecture"
        if name in seen:
            raise ModelFileError(f"{path.name}: {where} has the same name as layer {seen[name]}")
        seen[name] = index
        sizes = _LAYER_SIZES.get(kind, ())
        missing = [key for key in sizes if key not in spec]
        if missing:
            raise ModelFileError(f"{path.name}: {where} is missing {' and '.join(missing)}")
        unknown = sorted(set(spec) - {"type", "name", *sizes})
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise ModelFileError(f"{path.name}: {where} has unknown setting{plural} "
                                 f"{', '.join(map(_key, unknown))} (a {kind} layer takes "
                                 f"{' and '.join(sizes) or 'only a type and a name'})")
        for key in sizes:
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelFileError(f"{path.name}: {where}: {key} must be a whole number "
                                     f"of at least 1, not {_json_kind(value)}")


def _announced_params(architecture):
    """How many parameters the conv and dense specs of a checked ``architecture`` ask for."""
    kernel_area = {"conv": 9, "dense": 1}
    total = 0
    for spec in architecture:
        sizes = _LAYER_SIZES.get(spec["type"])
        if sizes:
            n_in, n_out = spec[sizes[0]], spec[sizes[1]]
            total += n_in * n_out * kernel_area[spec["type"]] + n_out
    return total


def _build_network(path, meta, arrays):
    architecture = meta.get("architecture")
    _check_architecture(path, architecture)
    announced, held = _announced_params(architecture), sum(a.size for a in arrays.values())
    if announced > held:
        # Checked before building: a crafted file could otherwise ask for gigabytes.
        raise ModelFileError(f"{path.name}: the architecture needs {announced:,} parameters "
                             f"but the file holds only {held:,}")
    try:
        network = Network(architecture)
    except (ValueError, TypeError, KeyError, AttributeError, MemoryError) as exc:
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


def training_history(meta):
    """A model file's training history as ``(list of EpochRecord, TrainConfig or None)``.

    Files from before the history was kept, or whose history does not make sense
    (missing fields, epochs out of order), give an empty list: the weights are
    still good, only the curves cannot be shown.  Settings that no longer pass
    :meth:`TrainConfig.validate` give None.
    """
    records = []
    try:
        for number, entry in enumerate(meta.get("history") or [], start=1):
            record = EpochRecord(**entry)
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in entry.values())
            if record.epoch != number or not numbers:
                return [], _config(meta)
            records.append(record)
    except TypeError:       # not a list of tables with exactly the record's fields
        records = []
    return records, _config(meta)


def _config(meta):
    try:
        config = TrainConfig(**meta.get("training", {}))
        config.validate()
    except (TypeError, ConfigError):
        return None
    return config
