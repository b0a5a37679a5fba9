"""Hypothesis-made faults: damaged model files, IDX files, image bytes and options.

The contract under test is narrow and absolute: whatever the bytes, a reader
either returns something sound or raises its own one-line
:class:`~cnn_core.errors.UserError` subclass; no other exception escapes.  The
last tests feed the same kind of input through :func:`cli.commands.main` in
this process (fast enough for hypothesis) with file descriptors 1 and 2
captured, so even what a C library prints would break the one-line rule.
"""
import gzip
import io
import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from cli.commands import main
from digit_files import load_image_bytes
from cnn_core import paths
from cnn_core.data import IDX_DTYPES, load_sample, read_idx, write_idx
from cnn_core.errors import DataError, ImageError, ModelFileError
from cnn_core.model_files import METADATA_KEY, load_model
from cnn_core.network import default_architecture
from cnn_core.preprocessing import preprocess

_FUZZ = settings(deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples):
    """Hypothesis settings: reproducible (derandomized, no database), no deadline; and
    the ``slow`` mark, as a few hundred examples take seconds."""
    def decorate(test):
        return pytest.mark.slow(settings(_FUZZ, max_examples=examples)(test))
    return decorate


def edits(base, regions):
    """Strategy: ``base`` with 1 to 4 bytes set, inserted or deleted, then maybe truncated.

    Positions are drawn from ``regions`` ((start, end) pairs) so that the
    edits land in headers and directories rather than only in bulk data.
    """
    @st.composite
    def damaged(draw):
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 4))):
            start, end = draw(st.sampled_from(regions))
            at = min(draw(st.integers(start, end - 1)), max(len(data) - 1, 0))
            how = draw(st.sampled_from(["set", "set", "insert", "delete"]))
            if how == "set" and data:
                data[at] = draw(st.integers(0, 255))
            elif how == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
            else:
                del data[at:at + draw(st.integers(1, 8))]
        if draw(st.booleans()):
            data = data[:draw(st.integers(0, len(data)))]
        return bytes(data)
    return damaged()


# --- model files ------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


#: The shipped model, a real file written by ``save_model``.
GOOD_MODEL = paths.SHIPPED_MODEL.read_bytes()
#: Around every zip header, every .npy header, and the central directory at the end.
_SIGNATURES = [m.start() for m in re.finditer(rb"PK\x03\x04|PK\x01\x02|PK\x05\x06|\x93NUMPY",
                                              GOOD_MODEL)]
MODEL_REGIONS = [(at, at + 48) for at in _SIGNATURES]       # flags, methods, sizes, names
MODEL_REGIONS += [(max(0, at - 8), min(len(GOOD_MODEL), at + 160)) for at in _SIGNATURES]
MODEL_REGIONS += [(len(GOOD_MODEL) - 2000, len(GOOD_MODEL)), (0, len(GOOD_MODEL))]


def _patched(offset_from, signature, data, after=b""):
    """GOOD_MODEL with ``data`` written ``offset_from`` bytes after the first ``signature``
    that follows ``after``."""
    at = GOOD_MODEL.index(signature, GOOD_MODEL.index(after)) + offset_from
    return GOOD_MODEL[:at] + data + GOOD_MODEL[at + len(data):]


def load_or_refuse(path):
    """Load ``path``; a refusal must be a one-line ModelFileError naming the file."""
    try:
        network, meta = load_model(path)
    except ModelFileError as error:
        assert "\n" not in str(error) and path.name in str(error)
        return None
    assert isinstance(meta, dict)
    assert np.isfinite(network.predict_logits(np.zeros((1, 1, 28, 28), np.float32))).all()
    return network


@fuzz(400)
@given(data=edits(GOOD_MODEL, MODEL_REGIONS))
@example(data=_patched(10, b"PK\x01\x02", b"\x63\x00"))      # unknown compression method
@example(data=_patched(8, b"PK\x01\x02", b"\x20\x00"))       # "compressed patched data" flag
@example(data=_patched(8, b"PK\x01\x02", b"\x01\x00"))       # "encrypted" flag
# A garbled .npy header in an entry too large for zipfile to check its CRC first.
@example(data=_patched(10, b"\x93NUMPY", b"{'descr': '<f4', 'fortran_order': ((", b"fc1.weight"))
@example(data=GOOD_MODEL[:len(GOOD_MODEL) // 2])
def test_damaged_model_files_give_model_file_error_or_load(data, model_dir):
    path = model_dir / "damaged.npz"
    path.write_bytes(data)
    load_or_refuse(path)


def _with_metadata(path, metadata_text):
    with np.load(io.BytesIO(GOOD_MODEL)) as raw:
        arrays = {k: raw[k] for k in raw.files}
    arrays[METADATA_KEY] = np.array(metadata_text)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
SPEC_KEYS = ["type", "name", "in_channels", "out_channels", "in_features", "out_features"]


@st.composite
def architectures(draw):
    """The default architecture with a few fields, or whole layers, replaced."""
    layers = default_architecture()
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(layers) - 1))
        if draw(st.booleans()) and isinstance(layers[index], dict):
            key = draw(st.sampled_from(SPEC_KEYS))
            layers[index][key] = draw(JSON | st.integers(-2, 10 ** 12) | st.sampled_from(
                ["conv", "dense", "relu", "maxpool", "flatten", "conv1", "fc1"]))
        else:
            layers[index] = draw(JSON)
    return layers


@fuzz(200)
@given(architecture=architectures(), version=st.sampled_from([1, 1, 1, 0, 2, "1", 1.0, None]))
@example(architecture=[{**spec, "name": "conv1"} if spec["name"] == "conv2" else spec
                       for spec in default_architecture()], version=1)  # two layers, one name
def test_any_architecture_in_the_metadata_gives_model_file_error_or_loads(architecture, version,
                                                                           model_dir):
    path = model_dir / "other.npz"
    _with_metadata(path, json.dumps({"format_version": version, "architecture": architecture}))
    load_or_refuse(path)


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,                                  # nested too deep to parse
    '{"format_version": 1, "n": ' + "9" * 5000 + "}",              # int too long to convert
    json.dumps({"format_version": 1, "architecture": "conv"}),
    json.dumps({"format_version": 1, "architecture": [{"type": ["conv"]}]}),
    json.dumps({"format_version": 1, "architecture": [
        {"type": "dense", "name": "fc", "in_features": 784, "out_features": 10 ** 9}]}),
], ids=["deep", "long int", "a string", "unhashable type", "gigabytes"])
def test_hostile_metadata_is_refused_in_one_line(text, model_dir):
    path = model_dir / "hostile.npz"
    _with_metadata(path, text)
    assert load_or_refuse(path) is None


# --- IDX files --------------------------------------------------------------------

SIZES = st.one_of(st.integers(0, 40), st.sampled_from([28, 60000, 2 ** 16, 2 ** 31, 2 ** 32 - 1]),
                  st.integers(0, 2 ** 32 - 1))


@st.composite
def idx_files(draw):
    """Bytes that look more or less like an IDX file: header fields drawn, body random."""
    zeros = draw(st.sampled_from([b"\0\0", b"\0\0", b"\0\x01", b"\x08\0"]))
    code = draw(st.sampled_from(sorted(IDX_DTYPES)) | st.integers(0, 255))
    ndim = draw(st.integers(0, 4) | st.integers(0, 255))
    dims = draw(st.lists(SIZES, min_size=min(ndim, 8), max_size=min(ndim, 8)))
    dims = (dims * (ndim // max(len(dims), 1) + 1))[:ndim] if dims else []
    header = zeros + bytes([code, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)
    if draw(st.booleans()):
        header = header[:draw(st.integers(0, len(header)))]
    size = draw(st.sampled_from([0, 1, 5, 40]))
    if dims and code in IDX_DTYPES and draw(st.booleans()):
        # Sometimes exactly the body the header announces, when that is small.
        wanted = int(np.prod(dims, dtype=object)) * IDX_DTYPES[code].itemsize
        size = wanted if wanted <= 4096 else size
    return header + draw(st.binary(min_size=size, max_size=size))


@fuzz(400)
@given(data=idx_files(), compressed=st.booleans())
@example(data=bytes([0, 0, 8, 4]) + (65536).to_bytes(4, "big") * 4, compressed=False)
@example(data=bytes([0, 0, 8, 40]) + (1).to_bytes(4, "big") * 40 + b"\0", compressed=False)
@example(data=bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2 ** 32 - 1, 11, 0)),
         compressed=True)
def test_read_idx_raises_only_data_error(data, compressed, tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / ("fuzz.idx.gz" if compressed else "fuzz.idx")
    path.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
    try:
        array = read_idx(path)
    except DataError as error:
        assert "\n" not in str(error) and path.name in str(error)
        return
    ndim = data[3]
    assert array.shape == tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
                                for i in range(ndim))
    assert array.dtype.isnative and array.flags.writeable


# --- image bytes --------------------------------------------------------------------

def _encode(picture, fmt, **options):
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def _image_seeds():
    gray = Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 20), np.uint8))
    seeds = [
        _encode(gray, "PNG"), _encode(gray.convert("RGBA"), "PNG"), _encode(gray.convert("P"), "PNG"),
        _encode(Image.fromarray(np.asarray(gray, np.uint16) * 257), "PNG"),
        _encode(gray.convert("1"), "PNG"), _encode(gray, "GIF"), _encode(gray.convert("RGB"), "BMP"),
        _encode(gray, "TIFF"), _encode(gray.convert("RGB"), "TIFF", compression="tiff_lzw"),
        _encode(Image.fromarray(np.asarray(gray, np.float32) / 255, "F"), "TIFF"),
        _encode(gray, "JPEG"), _encode(gray.convert("RGB"), "JPEG", progressive=True),
        _encode(gray.convert("CMYK"), "JPEG"), _encode(gray, "WEBP"),
        _encode(gray.convert("RGBA"), "ICO"), _encode(gray, "PPM"), _encode(gray, "TGA"),
        _encode(gray, "PCX"), _encode(gray, "SGI"),
    ]
    return seeds


IMAGE_SEEDS = _image_seeds()


@st.composite
def image_bytes(draw):
    seed = draw(st.sampled_from(IMAGE_SEEDS))
    if draw(st.integers(0, 9)) == 0:
        return seed[:draw(st.integers(1, 16))] + draw(st.binary(max_size=200))
    return draw(edits(seed, [(0, min(len(seed), 300)), (0, len(seed))]))


def read_digit_or_refuse(data):
    """What the app does with pasted bytes; only ImageError may come out."""
    try:
        digit = preprocess(load_image_bytes(data, "dropped.png"))
    except ImageError as error:
        assert "\n" not in str(error)
        return
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert np.isfinite(digit).all() and 0 <= digit.min() and digit.max() <= 1


@pytest.mark.filterwarnings("ignore::UserWarning")      # Pillow's notes on corrupt TIFF tags
@fuzz(500)
@given(data=image_bytes())
def test_image_bytes_raise_only_image_error(data):
    read_digit_or_refuse(data)


# --- the same through the command line, in process ---------------------------------------

def run_main(argv, capfd):
    """``main(argv)`` -> (status, stdout, stderr), argparse's exits included."""
    capfd.readouterr()
    try:
        status = main([str(a) for a in argv])
    except SystemExit as stop:
        status = stop.code
    out, err = capfd.readouterr()
    return status, out, err


def assert_ok_or_one_line(status, out, err, name):
    if status == 0:
        return
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0], err
    assert out == ""


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("idx")
    _, val = load_sample()
    write_idx(folder / "labels.idx", val.labels[:8])
    return folder


@fuzz(100)
@given(data=idx_files(), which=st.sampled_from(["images", "labels"]))
def test_evaluate_with_fuzzed_idx_files_exits_0_or_2_with_one_line(data, which, idx_dir, capfd):
    _, val = load_sample()
    write_idx(idx_dir / "images.idx", val.images[:8])
    write_idx(idx_dir / "labels.idx", val.labels[:8])
    (idx_dir / f"{which}.idx").write_bytes(data)
    result = run_main(["evaluate", "--images", idx_dir / "images.idx",
                       "--labels", idx_dir / "labels.idx"], capfd)
    assert_ok_or_one_line(*result, "idx")


@pytest.mark.filterwarnings("ignore::UserWarning")
@fuzz(150)
@given(data=image_bytes())
def test_predict_with_fuzzed_image_files_exits_0_or_2_with_one_line(data, tmp_path_factory, capfd):
    path = tmp_path_factory.getbasetemp() / "fuzzed-image"
    path.write_bytes(data)
    assert_ok_or_one_line(*run_main(["predict", path], capfd), str(path))


OUT_OF_RANGE = {
    "--lr": st.floats(max_value=0) | st.floats(min_value=100, exclude_min=True)
    | st.sampled_from([float("nan"), float("inf")]),
    "--momentum": st.floats(max_value=0, exclude_max=True) | st.floats(min_value=1)
    | st.just(float("nan")),
    "--weight-decay": st.floats(max_value=0, exclude_max=True)
    | st.floats(min_value=1, exclude_min=True) | st.just(float("nan")),
    "--epochs": st.integers(max_value=0) | st.integers(min_value=1001),
    "--batch-size": st.integers(max_value=0) | st.integers(min_value=4001),
    "--train-size": st.integers(max_value=0) | st.integers(min_value=4001),
    "--seed": st.integers(max_value=-1) | st.integers(min_value=2 ** 32),
}
IN_RANGE = {
    "--lr": st.floats(0.001, 1), "--momentum": st.floats(0, 0.99), "--weight-decay": st.floats(0, 1),
    "--epochs": st.integers(1, 3), "--batch-size": st.integers(1, 64),
    "--train-size": st.integers(64, 4000), "--seed": st.integers(0, 2 ** 32 - 1),
}


@st.composite
def bad_options(draw):
    bad = draw(st.lists(st.sampled_from(sorted(OUT_OF_RANGE)), min_size=1, max_size=3, unique=True))
    options = []
    for name in sorted(IN_RANGE):
        if name in bad or draw(st.booleans()):
            value = draw(OUT_OF_RANGE[name] if name in bad else IN_RANGE[name])
            options.append(f"{name}={value!r}")
    return options


@fuzz(100)
@given(options=bad_options())
def test_train_with_any_option_out_of_range_exits_2_before_training(options, tmp_path_factory,
                                                                   capfd, monkeypatch):
    from cnn_core.trainer import Trainer

    def no_training(*args, **kwargs):
        raise AssertionError(f"training started with {options}")
    monkeypatch.setattr(Trainer, "run", no_training)
    data_dir = tmp_path_factory.getbasetemp() / "never-created"
    monkeypatch.setenv("EXPLAINABLE_CNN_DATA", str(data_dir))
    out = tmp_path_factory.getbasetemp() / "never-written.npz"
    status, stdout, err = run_main(["train", *options, "--out", out], capfd)
    assert status == 2, (options, err)
    assert len(err.splitlines()) == 1 and "error: " in err and stdout == ""
    assert not out.exists() and not data_dir.exists()
    assert paths.user_data_dir() == data_dir
