"""What a person reads when an input file is wrong: one plain line naming the file.

Each test covers a message an audit found unclear or missing: a folder given as
the model or as data, IDX files of the wrong kind (swapped images and labels),
a gzip bomb, and malformed architectures in a model file.  The command-line
tests run ``python main.py`` in a subprocess through ``test_faults_cli``'s
``cli`` fixture and check its ``error_line`` rule: exit status 2, exactly one
line on stderr, no traceback.
"""
import gzip
import json
import re
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from cnn_core import data, paths
from cnn_core.data import load_images_and_labels, read_idx, write_idx
from cnn_core.errors import DataError, ModelFileError
from cnn_core.model_files import METADATA_KEY, load_model
from cnn_core.network import default_architecture
from tests.core.test_faults_cli import REPO, cli, data_dir, error_line  # noqa: F401 (fixtures)

SAMPLE_IMAGES = paths.SAMPLE_DIR / data.SAMPLE_IMAGES
SAMPLE_LABELS = paths.SAMPLE_DIR / data.SAMPLE_LABELS


def _header(magic, dims):
    return magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in dims)


def _write(path, payload):
    """Write ``payload`` to ``path``, gzip-compressed when the name ends in .gz."""
    path.write_bytes(gzip.compress(payload, mtime=0) if path.name.endswith(".gz") else payload)
    return path


@pytest.fixture
def pair(tmp_path):
    """10 images and their labels, as raw IDX and as gzip IDX: ``{"": (i, l), ".gz": (i, l)}``."""
    images, labels = read_idx(SAMPLE_IMAGES)[:10], read_idx(SAMPLE_LABELS)[:10]
    files = {}
    for ending in ("", ".gz"):
        files[ending] = (tmp_path / f"imgs{ending}", tmp_path / f"labs{ending}")
        write_idx(files[ending][0], images)
        write_idx(files[ending][1], labels)
    return files


# --- 1. a folder given as the model --------------------------------------------------

def test_a_folder_given_as_the_model_is_called_a_folder(cli, tmp_path):
    folder = tmp_path / "some_folder.npz"
    folder.mkdir()
    line = error_line(cli("evaluate", "--model", folder))
    assert line == f"error: {folder}: is a folder, not a model file"
    # "." has no name of its own: the message shows where it is.
    assert error_line(cli("evaluate", "--model", ".")) == \
        f"error: {REPO}: is a folder, not a model file"
    with pytest.raises(ModelFileError, match="nope.npz: no such model file"):
        load_model(tmp_path / "nope.npz")


# --- 2. a folder given as data ----------------------------------------------------------

def test_a_folder_without_a_name_given_as_images_is_shown_by_its_path(cli, tmp_path):
    line = error_line(cli("evaluate", "--images", ".", "--labels", tmp_path / "lab"))
    assert line == f"error: {REPO}: is a folder, not a file"
    with pytest.raises(DataError, match=f"^{re.escape(str(tmp_path.parent))}: is a folder, not a file$"):
        load_images_and_labels(tmp_path / "..", SAMPLE_LABELS)


# --- 3. IDX files of the wrong kind -----------------------------------------------------

IMAGES_SAY = "expected uint8 images of shape (N, 28, 28); wrong magic number"
LABELS_SAY = "expected a uint8 list of labels; wrong magic number"
SWAPPED = "are the images and labels files swapped?"


@pytest.mark.parametrize("ending", ["", ".gz"])
@pytest.mark.parametrize("which, magic, says, theirs, other", [
    ("images", 0x00000801, IMAGES_SAY, "images have 0x00000803", "a labels file"),
    ("labels", 0x00000803, LABELS_SAY, "labels have 0x00000801", "an images file"),
])
def test_a_file_with_the_other_kinds_magic_number_says_so(cli, pair, ending, which, magic, says,
                                                          theirs, other):
    images, labels = pair[ending]
    # What the audit did: one file's header with the other kind's magic number.
    target = images if which == "images" else labels
    body = gzip.decompress(target.read_bytes()) if ending else target.read_bytes()
    _write(target, magic.to_bytes(4, "big") + body[4:])
    line = error_line(cli("evaluate", "--images", images, "--labels", labels))
    assert line == (f"error: {target.name}: {says} 0x{magic:08X} ({theirs}), "
                    f"that of {other}: {SWAPPED}")


@pytest.mark.parametrize("ending", ["", ".gz"])
def test_swapped_files_are_recognised(cli, pair, ending):
    images, labels = pair[ending]
    line = error_line(cli("evaluate", "--images", labels, "--labels", images), labels.name)
    assert "wrong magic number 0x00000801 (images have 0x00000803)" in line and SWAPPED in line
    with pytest.raises(DataError, match=f"{images.name}: .*0x00000803 .*swapped"):
        load_images_and_labels(images, images)


@pytest.mark.parametrize("ending", ["", ".gz"])
@pytest.mark.parametrize("which, magic, dims, says", [
    ("images", 0x00000C03, (10, 28, 28), "3-dimensional int32 values"),
    ("images", 0x00000802, (280, 28), "2-dimensional uint8 values"),
    ("labels", 0x00000802, (10, 1), "2-dimensional uint8 values"),
    ("labels", 0x00000901, (10,), "1-dimensional int8 values"),
])
def test_other_idx_magic_numbers_say_what_was_expected(pair, ending, which, magic, dims, says):
    images, labels = pair[ending]
    culprit = images if which == "images" else labels
    itemsize = 4 if magic >> 8 == 0x0C else 1
    _write(culprit, _header(magic, dims) + bytes(int(np.prod(dims)) * itemsize))
    with pytest.raises(DataError) as info:
        load_images_and_labels(images, labels)
    expected, wanted = (IMAGES_SAY, 0x803) if which == "images" else (LABELS_SAY, 0x801)
    assert str(info.value) == (f"{culprit.name}: {expected} 0x{magic:08X} "
                               f"({which} have 0x{wanted:08X}), {says}")


@pytest.mark.parametrize("ending", ["", ".gz"])
def test_not_idx_at_all_says_which_magic_number_was_expected(pair, ending):
    images, labels = pair[ending]
    _write(images, b"GIF89a" + bytes(100))
    with pytest.raises(DataError) as info:
        load_images_and_labels(images, labels)
    assert str(info.value) == (f"{images.name}: not an IDX file: bad magic number 0x47494638 "
                               f"(images have 0x00000803)")


def test_images_of_another_size_are_refused_from_the_header(pair):
    images, labels = pair[".gz"]
    # The header announces 32x32 images: refused before the body is read (here: none).
    _write(images, _header(0x803, (10, 32, 32)))
    with pytest.raises(DataError) as info:
        load_images_and_labels(images, labels)
    assert str(info.value) == (f"{images.name}: expected uint8 images of shape (N, 28, 28), "
                               f"found uint8 (10, 32, 32)")


# --- 4. more data than the header announces: a gzip bomb ----------------------------------

def gzip_bomb(header, zeros_mib):
    """A valid .gz of ``header`` then ``zeros_mib`` MiB of zeros, built in a fraction of a
    second: one deflate stream whose 1 MiB of zeros (about 1 KB, ending in a full flush,
    so it refers to nothing before it) is repeated, then the gzip trailer."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    mib = bytes(1 << 20)
    piece = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(header)
    for _ in range(zeros_mib):
        crc = zlib.crc32(mib, crc)
    size = len(header) + (zeros_mib << 20)
    return (b"\x1f\x8b\x08\x00\0\0\0\0\x02\xff" + start + piece * zeros_mib + b"\x03\x00"
            + struct.pack("<II", crc, size & 0xFFFFFFFF))


BOMB_MIB = 500
BOMB_SAYS = ("more data than the header announces: over 1048576 unexpected bytes after the "
             "7840 bytes of pixels (the rest was not read)")


@pytest.fixture
def bomb(tmp_path):
    """``bomb.gz``: a header announcing 10 images, then 500 MiB of zeros, in about 0.5 MB."""
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip_bomb(_header(0x803, (10, 28, 28)), BOMB_MIB))
    assert path.stat().st_size < 1 << 20
    return path


def test_the_bomb_is_a_valid_gzip_file(tmp_path):
    small = tmp_path / "small.gz"
    small.write_bytes(gzip_bomb(b"header", 3))
    with gzip.open(small) as stream:
        assert stream.read() == b"header" + bytes(3 << 20)


def test_a_gzip_bomb_is_refused_without_inflating_it(bomb):
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as info:
            read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == f"bomb.gz: {BOMB_SAYS}"
    # Inflating it all would take 500 MiB; the reader stops a little past the body.
    assert peak < 32 << 20, peak


def test_a_gzip_bomb_on_the_command_line_is_one_line_within_a_memory_limit(cli, bomb, pair):
    labels = pair[".gz"][1]
    result = cli("evaluate", "--images", bomb, "--labels", labels, limit_memory=True)
    assert error_line(result) == f"error: bomb.gz: {BOMB_SAYS}"


def test_a_plain_file_with_a_huge_tail_is_counted_without_reading_it(tmp_path):
    path = tmp_path / "tail-images"
    with open(path, "wb") as handle:
        handle.write(_header(0x803, (10, 28, 28)) + bytes(7840))
        handle.truncate(16 + 7840 + (200 << 20))        # 200 MiB more, sparse on disk
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as info:
            read_idx(path, expect="images")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == (f"tail-images: {200 << 20} unexpected bytes after the 7840 bytes "
                               f"of pixels that the header announces")
    assert peak < 32 << 20, peak


def test_running_out_of_memory_while_reading_is_one_line(pair, monkeypatch):
    class Exhausted:
        """A stream whose reads fail as a huge read does when memory runs out."""

        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, size=-1):
            raise MemoryError

    monkeypatch.setattr(gzip, "open", Exhausted)
    images, labels = pair[".gz"]
    with pytest.raises(DataError) as info:
        load_images_and_labels(images, labels)
    assert str(info.value) == f"{images.name}: too large: not enough memory to read it"


# --- 5. malformed architectures in a model file ---------------------------------------

def _layers(edit):
    layers = default_architecture()
    edit(layers)
    return layers


def _set(index, **fields):
    return lambda layers: layers[index].update(fields)


def _drop(index, key):
    return lambda layers: layers[index].pop(key)


def _replace(index, value):
    return lambda layers: layers.__setitem__(index, value)


MISSING = object()
WHERE = "layer 0 (conv1) of the architecture"
ARCHITECTURES = {  # name: (architecture, the message after "model.npz: ")
    "missing": (MISSING, "the metadata has no architecture (the list of layers)"),
    "null": (None, "the metadata has no architecture (the list of layers)"),
    "empty": ([], "the architecture lists no layers"),
    "a string": ("conv", 'the architecture is not a list of layers but the text "conv"'),
    "a table": ({"type": "conv"}, "the architecture is not a list of layers but a table of settings"),
    "a number": (3, "the architecture is not a list of layers but the number 3"),
    "entry a string": (_layers(_replace(0, "conv")),
                       'layer 0 of the architecture is not a table of settings but the text "conv"'),
    "entry a list": (_layers(_replace(0, [["type", "conv"]])),
                     "layer 0 of the architecture is not a table of settings but a list"),
    "entry null": (_layers(_replace(1, None)),
                   "layer 1 of the architecture is not a table of settings but null"),
    "unknown type": (_layers(_set(0, type="conv3d")),
                     'layer 0 of the architecture has type "conv3d", '
                     "not one of conv, dense, flatten, maxpool, relu"),
    "type a list": (_layers(_set(0, type=["conv"])),
                    'layer 0 of the architecture has type ["conv"], '
                    "not one of conv, dense, flatten, maxpool, relu"),
    "no type": (_layers(_drop(0, "type")),
                "layer 0 of the architecture has no type (one of conv, dense, flatten, maxpool, relu)"),
    "no name": (_layers(_drop(0, "name")),
                'layer 0 of the architecture (conv) has no name; it needs a name such as "conv1"'),
    "name a number": (_layers(_set(0, name=5)),
                      'layer 0 of the architecture (conv) has the name 5; '
                      'it needs a name such as "conv1"'),
    "two layers one name": (_layers(_set(3, name="relu1")),
                            "layer 3 (relu1) of the architecture has the same name as layer 1"),
    "missing size": (_layers(_drop(0, "in_channels")), f"{WHERE} is missing in_channels"),
    "missing sizes": (_layers(lambda layers: [layers[-1].pop(k) for k in ("in_features", "out_features")]),
                      "layer 13 (fc2) of the architecture is missing in_features and out_features"),
    "unknown setting": (_layers(_set(0, kernel=5)),
                        f"{WHERE} has unknown setting kernel "
                        f"(a conv layer takes in_channels and out_channels)"),
    "setting on a relu": (_layers(_set(1, size=3)),
                          "layer 1 (relu1) of the architecture has unknown setting size "
                          "(a relu layer takes only a type and a name)"),
    "size as text": (_layers(_set(0, out_channels="8")),
                     f'{WHERE}: out_channels must be a whole number of at least 1, not the text "8"'),
    "size a fraction": (_layers(_set(0, out_channels=8.5)),
                        f"{WHERE}: out_channels must be a whole number of at least 1, "
                        f"not the number 8.5"),
    "size true": (_layers(_set(0, in_channels=True)),
                  f"{WHERE}: in_channels must be a whole number of at least 1, "
                  f"not the truth value true"),
    "size negative": (_layers(_set(0, out_channels=-8)),
                      f"{WHERE}: out_channels must be a whole number of at least 1, "
                      f"not the number -8"),
    "size null": (_layers(_set(-1, in_features=None)),
                  "layer 13 (fc2) of the architecture: in_features must be a whole number "
                  "of at least 1, not null"),
}
#: Words of Python's own exceptions, which the person reading the message has no use for.
JARGON = ["dictionary update", "__init__", "object", "NoneType", "positional argument",
          "keyword argument", "unhashable", "iterable", "interpreted as an integer"]


def _model_with(path, architecture):
    with np.load(paths.SHIPPED_MODEL) as raw:
        arrays = {key: raw[key] for key in raw.files}
    meta = json.loads(str(arrays[METADATA_KEY]))
    if architecture is MISSING:
        del meta["architecture"]
    else:
        meta["architecture"] = architecture
    arrays[METADATA_KEY] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


@pytest.mark.parametrize("kind", ARCHITECTURES)
def test_a_malformed_architecture_is_described_plainly(kind, tmp_path):
    architecture, says = ARCHITECTURES[kind]
    path = _model_with(tmp_path / "model.npz", architecture)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message == f"model.npz: {says}"
    assert not any(word in message for word in JARGON), message


@pytest.mark.parametrize("kind", ["a string", "entry a string", "no name", "size as text"])
def test_a_malformed_architecture_on_the_command_line(kind, cli, tmp_path):
    architecture, says = ARCHITECTURES[kind]
    path = _model_with(tmp_path / "model.npz", architecture)
    assert error_line(cli("evaluate", "--model", path)) == f"error: model.npz: {says}"


def test_the_shipped_architecture_still_loads(tmp_path):
    network, _ = load_model(_model_with(tmp_path / "model.npz", default_architecture()))
    assert network.architecture == default_architecture()
