"""The IDX parser, the bundled sample and its split, on real files."""
import gzip

import numpy as np
import pytest

from cnn_core import data
from cnn_core.data import (Split, load_dataset, load_images_and_labels, load_mnist, load_sample,
                           read_idx, stratified_split, write_idx)
from cnn_core.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
LABELS = (np.arange(12) % 10).astype(np.uint8)


def idx_bytes(array, dims=None):
    """Raw IDX bytes of a uint8 array; ``dims`` overrides the header's sizes."""
    dims = array.shape if dims is None else dims
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(n.to_bytes(4, "big") for n in dims)
    return header + array.tobytes()


def write_gz(path, payload):
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


# --- IDX round trip -------------------------------------------------------

@pytest.mark.parametrize("name", ["images.idx", "images.gz"])
def test_write_then_read_gives_the_same_array(tmp_path, name):
    write_idx(tmp_path / name, IMAGES)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.uint8 and back.shape == (12, 28, 28)
    assert np.array_equal(back, IMAGES)
    assert back.flags.writeable
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_gzip_output_is_reproducible_and_really_gzip(tmp_path):
    for folder in "ab":
        (tmp_path / folder).mkdir()
        write_idx(tmp_path / folder / "labels.gz", LABELS)
    raw = (tmp_path / "a" / "labels.gz").read_bytes()
    assert raw == (tmp_path / "b" / "labels.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip magic, mtime 0
    assert gzip.decompress(raw) == idx_bytes(LABELS)


def test_read_idx_reads_other_types_in_native_byte_order(tmp_path):
    values = np.array([[1, -2, 70000]], dtype=">i4")
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + (1).to_bytes(4, "big") + (3).to_bytes(4, "big")
                     + values.tobytes())
    back = read_idx(path)
    assert back.dtype == np.int32 and back.dtype.isnative
    assert back.tolist() == [[1, -2, 70000]]


def test_write_idx_refuses_other_dtypes(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "x.gz", IMAGES.astype(np.float32))
    assert list(tmp_path.iterdir()) == []


# --- IDX faults: each a DataError naming the file and the problem --------

def test_wrong_magic_number(tmp_path):
    path = tmp_path / "bad-magic.idx"
    path.write_bytes(b"\x12\x34\x08\x01" + idx_bytes(LABELS)[4:])
    with pytest.raises(DataError, match=r"bad-magic\.idx: not an IDX file: bad magic number 0x12340801"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = tmp_path / "code.idx"
    path.write_bytes(b"\x00\x00\x07\x01" + idx_bytes(LABELS)[4:])
    with pytest.raises(DataError, match="bad magic number 0x00000701"):
        read_idx(path)


def test_header_announcing_more_than_the_body_holds(tmp_path):
    path = write_gz(tmp_path / "train-images.gz", idx_bytes(IMAGES[:5], dims=(10, 28, 28)))
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(info.value) == "train-images.gz: truncated: expected 7840 bytes of pixels, found 3920"


def test_header_cut_short(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match="short.idx: truncated: the header announces 3 dimensions"):
        read_idx(path)


def test_tiny_file(tmp_path):
    path = tmp_path / "tiny.idx"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="tiny.idx: not an IDX file: only 2 bytes long"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path):
    whole = gzip.compress(idx_bytes(IMAGES), mtime=0)
    path = tmp_path / "cut.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="cut.gz: truncated: the gzip stream ends early"):
        read_idx(path)


def test_corrupt_gzip_checksum(tmp_path):
    whole = bytearray(gzip.compress(idx_bytes(LABELS), mtime=0))
    whole[-8] ^= 0xFF  # the CRC-32 of the contents
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(whole))
    with pytest.raises(DataError, match="crc.gz: corrupt gzip data .*CRC"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = write_gz(tmp_path / "labels.gz", idx_bytes(LABELS) + b"\0\0\0")
    with pytest.raises(DataError, match="labels.gz: 3 unexpected bytes after the 12 bytes of labels"):
        read_idx(path)


def test_garbage_with_a_gz_name(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(idx_bytes(IMAGES))  # raw IDX, not compressed
    with pytest.raises(DataError, match="images.gz: not a gzip file"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nothing.gz: file not found"):
        read_idx(tmp_path / "nothing.gz")


def test_folder_instead_of_file(tmp_path):
    (tmp_path / "dir.gz").mkdir()
    with pytest.raises(DataError, match="dir.gz: is a folder"):
        read_idx(tmp_path / "dir.gz")


# --- images and labels together --------------------------------------------

def test_load_images_and_labels_accepts_a_good_pair(tmp_path):
    write_idx(tmp_path / "i.gz", IMAGES)
    write_idx(tmp_path / "l.gz", LABELS)
    images, labels = load_images_and_labels(tmp_path / "i.gz", tmp_path / "l.gz")
    assert np.array_equal(images, IMAGES) and np.array_equal(labels, LABELS)


def test_labels_above_nine(tmp_path):
    write_idx(tmp_path / "i.gz", IMAGES)
    bad = LABELS.copy()
    bad[7] = 12
    write_idx(tmp_path / "l.gz", bad)
    with pytest.raises(DataError, match="l.gz: label 12 at position 7 is not a digit 0-9"):
        load_images_and_labels(tmp_path / "i.gz", tmp_path / "l.gz")


def test_image_and_label_counts_differ(tmp_path):
    write_idx(tmp_path / "i.gz", IMAGES)
    write_idx(tmp_path / "l.gz", LABELS[:10])
    with pytest.raises(DataError, match="i.gz holds 12 images but l.gz holds 10 labels"):
        load_images_and_labels(tmp_path / "i.gz", tmp_path / "l.gz")


@pytest.mark.parametrize("images, labels, culprit", [
    (IMAGES[:, :27], LABELS, "i.gz: expected uint8 images of shape"),
    (IMAGES[0], LABELS, "i.gz: expected uint8 images of shape"),
    (IMAGES, LABELS.reshape(3, 4), "l.gz: expected a uint8 list of labels"),
])
def test_wrong_shapes(tmp_path, images, labels, culprit):
    write_idx(tmp_path / "i.gz", np.ascontiguousarray(images))
    write_idx(tmp_path / "l.gz", labels)
    with pytest.raises(DataError, match=culprit):
        load_images_and_labels(tmp_path / "i.gz", tmp_path / "l.gz")


# --- splits -----------------------------------------------------------------

def test_split_converts_to_network_input():
    split = Split(IMAGES, LABELS, "train")
    x = split.as_float()
    assert len(split) == 12 and x.shape == (12, 1, 28, 28) and x.dtype == np.float32
    assert np.allclose(x[:, 0] * 255, IMAGES)
    with pytest.raises(ValueError, match="12 images but 11 labels"):
        Split(IMAGES, LABELS[:11], "broken")


def test_stratified_split_is_proportional_exact_and_deterministic():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    first, second = stratified_split(labels, 25, seed=3)
    assert len(second) == 25 and len(first) == 75
    # 12.5, 7.5 and 5 rounded by largest remainder (ties to the first class).
    assert np.bincount(labels[second]).tolist() == [13, 7, 5]
    assert np.array_equal(np.sort(np.concatenate([first, second])), np.arange(100))
    again = stratified_split(labels, 25, seed=3)
    assert np.array_equal(first, again[0]) and np.array_equal(second, again[1])
    other = stratified_split(labels, 25, seed=4)
    assert not np.array_equal(second, other[1])
    with pytest.raises(ValueError):
        stratified_split(labels, 101, seed=0)


# --- the bundled sample -------------------------------------------------------

def test_sample_is_4000_train_1000_validation_100_per_digit():
    train, val = load_sample()
    assert (len(train), len(val)) == (4000, 1000)
    assert (train.name, val.name) == ("train", "validation")
    assert train.images.shape == (4000, 28, 28) and train.images.dtype == np.uint8
    assert np.bincount(val.labels, minlength=10).tolist() == [100] * 10
    assert np.bincount(train.labels, minlength=10).tolist() == [400] * 10
    # The 5,000 images are all different, so disjoint splits share no image.
    train_rows = {row.tobytes() for row in train.images}
    val_rows = {row.tobytes() for row in val.images}
    assert len(train_rows) == 4000 and len(val_rows) == 1000 and not train_rows & val_rows


def test_sample_split_is_deterministic_not_just_cached():
    train, val = load_sample()
    data._sample_splits.cache_clear()
    train2, val2 = load_sample()
    assert train2 is not train
    assert np.array_equal(train.images, train2.images) and np.array_equal(val.labels, val2.labels)
    assert not np.array_equal(load_sample(seed=1)[1].labels, val.labels)


def test_sample_arrays_are_read_only_so_the_cache_is_safe():
    train, _ = load_sample()
    with pytest.raises(ValueError):
        train.images[0, 0, 0] = 1
    assert train.as_float().flags.writeable


def test_sample_order_is_mixed_so_any_prefix_has_every_digit():
    train, val = load_sample()
    assert len(np.unique(train.labels[:100])) == 10
    assert len(np.unique(val.labels[:100])) == 10


def test_sample_pixels_look_like_mnist():
    train, val = load_sample()
    pixels = np.concatenate([train.images, val.images])
    assert 30 < pixels.mean() < 37  # MNIST's mean is about 33.3 of 255
    assert pixels.min() == 0 and pixels.max() == 255
    assert (pixels[:, :, 0] == 0).mean() > 0.99  # the digits are centred with blank borders
    x = val.as_float()
    assert x.min() == 0.0 and x.max() == 1.0


# --- full MNIST and load_dataset ---------------------------------------------

def test_load_mnist_before_download_says_so(tmp_path):
    with pytest.raises(DataError, match="full MNIST is not downloaded yet"):
        load_mnist(tmp_path)


def test_load_mnist_and_load_dataset_read_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "data" / "mnist"
    cache.mkdir(parents=True)
    monkeypatch.setenv("EXPLAINABLE_CNN_DATA", str(tmp_path / "data"))
    with pytest.raises(DataError, match="not downloaded"):
        load_dataset("mnist")
    for images_name, labels_name in (data.MNIST_TRAIN_FILES, data.MNIST_TEST_FILES):
        write_idx(cache / images_name, IMAGES)
        write_idx(cache / labels_name, LABELS)
    train, test = load_mnist(cache)
    assert (train.name, test.name, len(train), len(test)) == ("train", "test", 12, 12)
    train, val = load_dataset("mnist")  # the default cache folder, under EXPLAINABLE_CNN_DATA
    assert np.array_equal(train.images, IMAGES) and val.name == "test"


def test_load_dataset_sample_and_unknown_name():
    train, val = load_dataset("sample")
    assert len(train) == 4000 and len(val) == 1000
    with pytest.raises(ConfigError, match="unknown data set 'cifar'"):
        load_dataset("cifar")
