"""MNIST data: the IDX file format, the bundled sample and the full download.

One IDX parser reads both the bundled 5,000-image sample and the full MNIST
files.  Every fault in a data file (missing, not gzip, wrong magic number,
truncated, trailing bytes, labels out of range) becomes a
:class:`~cnn_core.errors.DataError` whose one-line message names the file and
the problem; no raw ``OSError`` or ``EOFError`` escapes.

IDX layout (big-endian): two zero bytes, a type code, the number of
dimensions ``ndim``, then ``ndim`` 32-bit sizes, then the values in C order.
"""
import contextlib
import functools
import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core import paths
from cnn_core.atomic import atomic_write
from cnn_core.errors import ConfigError, DataError

#: IDX type code -> big-endian dtype of the stored values.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGE_SIZE = 28
NUM_CLASSES = 10
#: Most dimensions read_idx accepts: NumPy 1.x arrays cannot have more (IDX allows 255).
MAX_IDX_DIMS = 32

SAMPLE_IMAGES = "images-idx3-ubyte.gz"
SAMPLE_LABELS = "labels-idx1-ubyte.gz"
#: The bundled sample keeps this many images (100 per digit) for validation.
SAMPLE_VALIDATION_SIZE = 1000

#: File names of the full MNIST download, as (images, labels) pairs.
MNIST_TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
MNIST_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
MNIST_FILES = MNIST_TRAIN_FILES + MNIST_TEST_FILES


# ---------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------

#: What :func:`load_images_and_labels` expects of each file: the magic number
#: (uint8, 3 or 1 dimensions) and what messages call such a file's contents.
IDX_KINDS = {
    "images": (0x00000803, "uint8 images of shape (N, 28, 28)"),
    "labels": (0x00000801, "a uint8 list of labels"),
}
#: Bytes read past the body the header announces, to count trailing garbage.  A
#: gzip file holding more is refused without inflating the rest (a "gzip bomb"
#: of a few MB can inflate to gigabytes).
TRAILING_PROBE = 1 << 20
#: Bytes read at a time: the body grows as data really arrives, so a header
#: announcing terabytes costs nothing until the file delivers them.
_CHUNK = 1 << 22


def _display_name(path):
    """``path``'s name for messages; the absolute path when it has none (``.``, ``..``, ``/``)."""
    return path.name if path.name not in ("", "..") else os.path.abspath(path)


@contextlib.contextmanager
def _file_errors(path, name):
    """Turn what opening, reading and inflating ``path`` can raise into a DataError."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(f"{name}: file not found ({path})") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a folder, not a file") from None
    # BadGzipFile derives from OSError, so it must be caught first.
    except gzip.BadGzipFile as exc:
        if str(exc).startswith("Not a gzipped file"):
            raise DataError(f"{name}: not a gzip file, although its name ends in .gz") from None
        raise DataError(f"{name}: corrupt gzip data ({exc})") from None
    except EOFError:
        raise DataError(f"{name}: truncated: the gzip stream ends early") from None
    except zlib.error as exc:
        raise DataError(f"{name}: corrupt gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
    except MemoryError:
        raise DataError(f"{name}: too large: not enough memory to read it") from None


def _read_up_to(stream, size):
    """At most ``size`` bytes from ``stream``, fewer only at its end; read in chunks."""
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(min(size - len(data), _CHUNK))
        if not chunk:
            break
        data += chunk
    return data


def _what(dims, dtype):
    """Name the body of an IDX file for messages: pixels, labels or values."""
    if dtype == np.uint8 and len(dims) == 3:
        return "pixels"
    if dtype == np.uint8 and len(dims) == 1:
        return "labels"
    return "values"


def _check_magic(name, head, expect):
    """Raise DataError unless the first four bytes ``head`` are an IDX magic number,
    and the one of ``expect`` ("images" or "labels") when it is given."""
    magic = int.from_bytes(head, "big")
    zero1, zero2, code, ndim = head
    wanted = f" ({expect} have 0x{IDX_KINDS[expect][0]:08X})" if expect else ""
    if zero1 or zero2 or code not in IDX_DTYPES or ndim == 0:
        raise DataError(f"{name}: not an IDX file: bad magic number 0x{magic:08X}{wanted}")
    if expect is None or magic == IDX_KINDS[expect][0]:
        return
    swapped = {IDX_KINDS["images"][0]: "an images", IDX_KINDS["labels"][0]: "a labels"}
    if magic in swapped:
        found = f"that of {swapped[magic]} file: are the images and labels files swapped?"
    else:
        found = f"{ndim}-dimensional {IDX_DTYPES[code].name} values"
    raise DataError(f"{name}: expected {IDX_KINDS[expect][1]}; wrong magic number "
                    f"0x{magic:08X}{wanted}, {found}")


def read_idx(path, name=None, expect=None):
    """Read an IDX file, raw or gzip-compressed (when the name ends in ``.gz``).

    The header is read first; the body is read only as far as the header
    announces (plus a little, to notice trailing bytes), so a small gzip file
    that would inflate to gigabytes is refused without inflating it.

    Parameters
    ----------
    path : str or Path
        The file, e.g. ``train-images-idx3-ubyte.gz``.
    name : str or None
        The file's name in messages, whose ending says whether it is gzip
        (default: ``path``'s; a download checks its temporary file by the
        name it will have).
    expect : {None, "images", "labels"}
        What the file must hold: MNIST images (magic number 0x00000803, 28x28)
        or labels (0x00000801).  ``None`` accepts any IDX file.

    Returns
    -------
    np.ndarray
        A writable array in native byte order with the shape stored in the
        header: uint8 ``(N, 28, 28)`` for MNIST images, uint8 ``(N,)`` for
        labels.

    Raises
    ------
    DataError
        If the file is missing or unreadable, not gzip despite a ``.gz`` name,
        has a bad magic number (or not the one ``expect`` asks for), or holds
        fewer or more bytes than its header announces.
    """
    path = Path(path)
    name = name or _display_name(path)
    with _file_errors(path, name):
        with gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb") as stream:
            return _parse_idx(stream, name, expect)


def _parse_idx(stream, name, expect):
    head = _read_up_to(stream, 4)
    if len(head) < 4:
        raise DataError(f"{name}: not an IDX file: only {len(head)} bytes long")
    _check_magic(name, head, expect)
    code, ndim = head[2], head[3]
    header_size = 4 + 4 * ndim
    sizes = _read_up_to(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(f"{name}: truncated: the header announces {ndim} dimensions "
                        f"but the file ends after {4 + len(sizes)} bytes")
    if ndim > MAX_IDX_DIMS:
        raise DataError(f"{name}: unsupported IDX file: {ndim} dimensions (at most {MAX_IDX_DIMS})")
    dims = tuple(int.from_bytes(sizes[4 * i: 4 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    if expect == "images" and dims[1:] != (IMAGE_SIZE,) * 2:
        raise DataError(f"{name}: expected {IDX_KINDS[expect][1]}, found {dtype.name} {dims}")
    # Python integers: np.prod in int64 wraps around for sizes like 65536**4.
    expected = math.prod(dims) * dtype.itemsize
    what = _what(dims, dtype)
    body = _read_up_to(stream, expected)
    found = len(body)
    if found < expected:
        raise DataError(f"{name}: truncated: expected {expected} bytes of {what}, found {found}")
    extra = len(_read_up_to(stream, TRAILING_PROBE + 1))
    if extra > TRAILING_PROBE:
        size = None if isinstance(stream, gzip.GzipFile) else os.fstat(stream.fileno()).st_size
        if size is None or size < header_size + expected + extra:   # gzip, or not a plain file
            raise DataError(f"{name}: more data than the header announces: over {TRAILING_PROBE} "
                            f"unexpected bytes after the {expected} bytes of {what} "
                            f"(the rest was not read)")
        extra = size - header_size - expected   # a plain file tells its size
    if extra:
        raise DataError(f"{name}: {extra} unexpected bytes after the {expected} "
                        f"bytes of {what} that the header announces")
    try:
        values = np.frombuffer(body, dtype=dtype).reshape(dims)
    except ValueError:
        # An empty array whose other sizes multiply beyond what NumPy can index.
        raise DataError(f"{name}: unsupported IDX file: shape {dims} is too large") from None
    # astype copies: the result is writable and in native byte order.
    return values.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write a uint8 array as an IDX file, atomically.

    The file is gzip-compressed when ``path`` ends in ``.gz``, with a zero
    timestamp so the same array always gives the same bytes.  It is written to
    a temporary file in the same folder and renamed into place, so a crash
    never leaves a half-written file under the final name.

    Parameters
    ----------
    path : str or Path
        Destination file.
    array : np.ndarray
        uint8 array with 1 to 255 dimensions, e.g. images ``(N, 28, 28)`` or
        labels ``(N,)``.

    Raises
    ------
    TypeError
        If ``array`` is not uint8.
    ValueError
        If ``array`` has no dimensions or a dimension too large for IDX.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_idx writes uint8 arrays, not {array.dtype}")
    if not 1 <= array.ndim <= 255 or max(array.shape) >= 2 ** 32:
        raise ValueError(f"an IDX file cannot hold an array of shape {array.shape}")
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    body = np.ascontiguousarray(array).tobytes()
    with atomic_write(path) as raw:
        if path.suffix == ".gz":
            # filename is given so the temporary name never lands in the header.
            with gzip.GzipFile(filename=path.name, fileobj=raw, mode="wb", mtime=0) as gz:
                gz.write(header + body)
        else:
            raw.write(header + body)


def load_images_and_labels(images_path, labels_path):
    """Read a pair of MNIST-style IDX files and check that they belong together.

    Parameters
    ----------
    images_path, labels_path : str or Path
        IDX files of images and of labels.

    Returns
    -------
    images : np.ndarray
        uint8 ``(N, 28, 28)``, values 0 (background) to 255 (ink).
    labels : np.ndarray
        uint8 ``(N,)``, digits 0 to 9.

    Raises
    ------
    DataError
        If either file is unreadable, the images are not 28x28 uint8 (IDX magic
        number 0x00000803), the labels not a 1-D uint8 list (0x00000801) of
        digits, or the counts differ.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    images_name, labels_name = _display_name(images_path), _display_name(labels_path)
    # read_idx checks the magic numbers (0x803, 0x801) and the 28x28 size.
    images = read_idx(images_path, images_name, expect="images")
    labels = read_idx(labels_path, labels_name, expect="labels")
    if len(images) != len(labels):
        raise DataError(f"{images_name} holds {len(images)} images but "
                        f"{labels_name} holds {len(labels)} labels")
    if len(labels) and labels.max() >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise DataError(f"{labels_name}: label {labels[bad]} at position {bad} "
                        f"is not a digit 0-9")
    return images, labels


# ---------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Split:
    """A named set of images and their labels.

    Attributes
    ----------
    images : np.ndarray
        uint8 ``(N, 28, 28)``, 0 (background) to 255 (ink).
    labels : np.ndarray
        uint8 ``(N,)``, digits 0 to 9.
    name : str
        What the split is for: ``"train"``, ``"validation"`` or ``"test"``.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str

    def __post_init__(self):
        if len(self.images) != len(self.labels):
            raise ValueError(f"split {self.name!r}: {len(self.images)} images "
                             f"but {len(self.labels)} labels")

    def __len__(self):
        return len(self.labels)

    def as_float(self):
        """Return the images as network input.

        Returns
        -------
        np.ndarray
            float32 ``(N, 1, 28, 28)`` in [0, 1]; a new array on every call.
        """
        return self.images[:, None].astype(np.float32) / np.float32(255)


def stratified_split(labels, n_second, seed):
    """Split indices in two, keeping each class's share the same in both parts.

    Each class gives the second part ``n_second * count / N`` of its members,
    rounded by largest remainder so the parts have exactly the sizes asked for.

    Parameters
    ----------
    labels : np.ndarray
        Integer ``(N,)`` class labels.
    n_second : int
        Size of the second part, 0 to N.
    seed : int
        Seed of the random choice; the same seed gives the same split.

    Returns
    -------
    idx_first, idx_second : np.ndarray
        int64 ``(N - n_second,)`` and ``(n_second,)``, disjoint, together every
        index once.  Each is in random order, so any prefix of it is a fair
        sample of every class.

    Raises
    ------
    ValueError
        If ``n_second`` is outside 0..N.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if not 0 <= n_second <= n:
        raise ValueError(f"cannot take {n_second} of {n} items")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n_second / max(n, 1)
    quota = np.floor(exact).astype(np.int64)
    # Largest remainder: the classes closest to rounding up get the leftovers.
    leftover = n_second - quota.sum()
    quota[np.argsort(-(exact - quota), kind="stable")[:leftover]] += 1
    first, second = [], []
    for cls, take in zip(classes, quota):
        members = rng.permutation(np.flatnonzero(labels == cls))
        second.append(members[:take])
        first.append(members[take:])
    idx_first = rng.permutation(np.concatenate(first)) if first else np.zeros(0, np.int64)
    idx_second = rng.permutation(np.concatenate(second)) if second else np.zeros(0, np.int64)
    return idx_first.astype(np.int64), idx_second.astype(np.int64)


def _read_only(array):
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=4)
def _sample_splits(seed):
    # Cached because the GUI and the tests ask for the sample often; the
    # arrays are read-only so no caller can change what the next one gets.
    images, labels = load_images_and_labels(paths.SAMPLE_DIR / SAMPLE_IMAGES,
                                            paths.SAMPLE_DIR / SAMPLE_LABELS)
    idx_train, idx_val = stratified_split(labels, SAMPLE_VALIDATION_SIZE, seed)
    return (Split(_read_only(images[idx_train]), _read_only(labels[idx_train]), "train"),
            Split(_read_only(images[idx_val]), _read_only(labels[idx_val]), "validation"))


def load_sample(seed=0):
    """Return the bundled MNIST sample, split 4,000 train / 1,000 validation.

    The 5,000 images (500 per digit, from the MNIST training set) are split
    stratified, so validation holds exactly 100 of each digit.

    Parameters
    ----------
    seed : int
        Seed of the split; the default is the one the app always uses.

    Returns
    -------
    train, validation : Split
        Read-only uint8 arrays, ``(4000, 28, 28)`` and ``(1000, 28, 28)``,
        each in random order.

    Raises
    ------
    DataError
        If the bundled files are missing or damaged.
    """
    return _sample_splits(seed)


def load_mnist(cache_dir=None):
    """Return the full MNIST training and test sets from the download cache.

    Parameters
    ----------
    cache_dir : str or Path, optional
        Folder holding the four ``*-ubyte.gz`` files; default
        :func:`cnn_core.paths.mnist_cache_dir`.

    Returns
    -------
    train, test : Split
        uint8 images ``(60000, 28, 28)`` and ``(10000, 28, 28)`` with labels.

    Raises
    ------
    DataError
        If the files are not downloaded yet, or are damaged.
    """
    cache_dir = _mnist_cache(cache_dir)
    train = load_images_and_labels(*(cache_dir / name for name in MNIST_TRAIN_FILES))
    return Split(*train, "train"), load_mnist_test(cache_dir)


def load_mnist_test(cache_dir=None):
    """Only the 10,000 test images of full MNIST (a :class:`Split`); see :func:`load_mnist`."""
    cache_dir = _mnist_cache(cache_dir)
    return Split(*load_images_and_labels(*(cache_dir / name for name in MNIST_TEST_FILES)), "test")


def _mnist_cache(cache_dir):
    """The download cache folder, or DataError when full MNIST is not all there."""
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.mnist_cache_dir()
    if not all((cache_dir / name).is_file() for name in MNIST_FILES):
        raise DataError("full MNIST is not downloaded yet; download it from the app, or run "
                        "`python main.py download` (the bundled sample works without it)")
    return cache_dir


def load_dataset(name, seed=0):
    """Return the (train, validation) pair of a data set by name.

    Parameters
    ----------
    name : {"sample", "mnist"}
        ``"sample"``: the bundled 4,000 / 1,000 split (see :func:`load_sample`).
        ``"mnist"``: the full 60,000 training images, validated on the 10,000
        test images (see :func:`load_mnist`).
    seed : int
        Seed of the sample's split; full MNIST has a fixed split.

    Returns
    -------
    train, validation : Split

    Raises
    ------
    ConfigError
        If ``name`` is not a known data set.
    DataError
        If its files are missing or damaged.
    """
    if name == "sample":
        return load_sample(seed)
    if name == "mnist":
        return load_mnist()
    raise ConfigError(f"unknown data set {name!r}; choose 'sample' or 'mnist'")


def load_validation(name, seed=0):
    """The images a data set is judged on, without loading its training part.

    ``"sample"``: the bundled 1,000 validation images; ``"mnist"``: the 10,000
    MNIST test images.  Raises as :func:`load_dataset`.
    """
    if name == "mnist":
        return load_mnist_test()
    if name == "sample":
        return load_sample(seed)[1]
    raise ConfigError(f"unknown data set {name!r}; choose 'sample' or 'mnist'")
