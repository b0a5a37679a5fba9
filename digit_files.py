"""Read image files (and pasted or dropped image bytes) for the CLI and the GUI.

Both the command line and the app import this module, and it imports neither
(only the engine and Pillow), so neither depends on the other.  Pillow does
the decoding; the engine never imports it.  What comes back is a
float array that :func:`cnn_core.preprocessing.preprocess` accepts as is.

Files from the outside world can be hostile or just huge, so the size is
read from the header (``Image.open`` is lazy) and checked before a single
pixel is decoded.  A JPEG is decoded straight at a fraction of its size
(``draft``), which makes even a 100-megapixel photo cheap; other formats are
refused above :data:`MAX_PIXELS`.  Every failure becomes one
:class:`~cnn_core.errors.ImageError` line naming the file.
"""
import contextlib
import io
import math
import os
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnn_core.errors import EmptyImageError, ImageError
from cnn_core.preprocessing import preprocess

#: Largest image decoded in full: 40 megapixels is about 160 MB as RGBA.
MAX_PIXELS = 40_000_000
#: Decoded images are box-reduced so the longer side is at most this.  The
#: network sees 20 pixels of digit; 2048 leaves room for a small digit in a
#: large photo while the float copy of an RGBA image stays under 70 MB.
WORK_SIDE = 2048

# What Pillow's decoders raise on corrupt or unsupported input besides
# OSError: plugins parse headers with struct and index into tables, and a
# malformed file surfaces as whichever of these the parser hit first.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error,
                  IndexError, KeyError, TypeError, ZeroDivisionError)

# Modes that carry transparency: kept as RGBA so the engine can tell
# transparent background from strokes.
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}


def load_image(path):
    """Read an image file as brightness (and alpha) in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike
        Any format Pillow reads: PNG (gray, RGB, RGBA, palette, 1-bit,
        16-bit), JPEG, BMP, GIF (first frame), TIFF, WebP...

    Returns
    -------
    image : ndarray, float32, (H, W) or (H, W, 4)
        Gray brightness, or RGBA when the file has transparency.  EXIF
        orientation is applied; images larger than :data:`WORK_SIDE` on a
        side are reduced by whole-pixel box averaging.

    Raises
    ------
    ImageError
        Missing or unreadable file, not an image, corrupt or truncated
        data, or more than :data:`MAX_PIXELS` pixels.
    """
    name = str(path)
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except OSError as error:
        raise ImageError(f"{name}: cannot read the file ({_first_line(error)})") from None
    if path.is_dir():
        raise ImageError(f"{name}: is a folder, not an image file")
    if size == 0:
        raise ImageError(f"{name}: the file is empty")
    return _read(path, name)


def load_digit(path):
    """Read an image file and turn it into the network's input.

    Parameters
    ----------
    path : str or os.PathLike
        As :func:`load_image`.

    Returns
    -------
    digit : ndarray, float32, (28, 28)
        As :func:`cnn_core.preprocessing.preprocess` returns it.

    Raises
    ------
    ImageError
        As :func:`load_image`, or :class:`EmptyImageError` for an image with
        no ink; every message names the file.
    """
    return digit_from_image(load_image(path), path)


def digit_from_image(image, name):
    """Preprocess a decoded ``image`` into the network's ``(28, 28)`` input.

    The errors of :func:`cnn_core.preprocessing.preprocess`, with ``name``
    (a file, "pasted image", ...) at the front of their message.
    """
    try:
        return preprocess(image)
    except EmptyImageError:
        raise EmptyImageError(f"{name}: the image is empty (blank): no digit found in it") from None
    except ImageError as error:
        raise ImageError(f"{name}: {error}") from None


@contextlib.contextmanager
def native_stderr_silenced():
    """Discard what C libraries write straight to file descriptor 2 meanwhile.

    libtiff reports corrupt data on stderr itself, besides the exception
    Pillow raises, and the command line promises a single line of error.
    The descriptor is process-wide, so this is for the command line only,
    never for a GUI with other threads writing.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:         # no stderr at all: nothing to protect
        saved = None
    if saved is not None:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)


def load_image_bytes(data, name="pasted image"):
    """Read an image held in memory (pasted, dragged in, downloaded).

    Parameters
    ----------
    data : bytes
        The encoded file, in any format :func:`load_image` reads.
    name : str
        How to refer to the image in error messages.

    Returns
    -------
    image : ndarray, float32, (H, W) or (H, W, 4)
        As :func:`load_image`.
    """
    if not data:
        raise ImageError(f"{name}: the image is empty (no data)")
    return _read(io.BytesIO(bytes(data)), name)


def _read(source, name):
    """Open, check, decode and convert ``source`` (a path or a file object)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above 89 megapixels; the size check below refuses
            # those images anyway, with a message meant for a person.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                return _decode(image, name)
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image (unrecognised file format)") from None
    except Image.DecompressionBombError:
        # Pillow refuses before our own check could give the exact size.
        raise ImageError(
            f"{name}: image too large (far beyond {MAX_PIXELS // 1_000_000} megapixels)"
        ) from None
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode the image") from None
    except _DECODE_ERRORS as error:
        raise ImageError(f"{name}: not an image ({_first_line(error)})") from None


def _decode(image, name):
    """Decode an opened image within the size limits; return the float array."""
    width, height = image.size
    if max(width, height) > WORK_SIDE:
        # JPEG only (other formats ignore it): decode at 1/2, 1/4 or 1/8 size,
        # never below the requested size, at a fraction of the memory.
        ratio = WORK_SIDE / max(width, height)
        image.draft(None, (max(1, int(width * ratio)), max(1, int(height * ratio))))
        width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name}: image too large ({width}×{height} pixels; "
            f"at most {MAX_PIXELS // 1_000_000} megapixels)")
    if width * height == 0:
        raise ImageError(f"{name}: the image has no pixels")
    image.load()
    image = _normalise_mode(ImageOps.exif_transpose(image))
    factor = math.ceil(max(image.size) / WORK_SIDE)
    if factor > 1:
        image = image.reduce(factor)
    return _to_unit_array(image)


def _normalise_mode(image):
    """Convert to one of: ``L`` (8-bit gray), ``RGBA``, ``I`` or ``F``.

    Colour becomes gray with Pillow's ITU-R 601 weights (the same the engine
    uses), which also halves the memory of what follows.
    """
    mode = image.mode
    if mode in ("I", "F", "L", "RGBA"):
        return image
    if mode.startswith("I;"):
        # 16-bit modes cannot be reduced; "I" holds the same values.
        return image.convert("I")
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if mode in ("1", "P", "RGB"):
        return image.convert("L")
    # CMYK, YCbCr, LAB, HSV...: through RGB, which every mode converts to.
    return image.convert("RGB").convert("L")


def _to_unit_array(image):
    """Pixels of an ``L``, ``RGBA``, ``I`` or ``F`` image as float32 in [0, 1]."""
    values = np.asarray(image, dtype=np.float32)
    if image.mode in ("L", "RGBA"):
        return values * np.float32(1 / 255)
    # "I" comes from 16-bit files (0–65535); "F" is usually already 0–1.
    # Either way a larger maximum sets the scale rather than saturating.
    full_scale = 65535.0 if image.mode == "I" else 1.0
    values = np.clip(values, 0.0, None)
    return values / np.float32(max(full_scale, float(values.max())))


def _first_line(error):
    """The first line of an exception's message, or its type if it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
