"""Digits from outside the canvas: image files, dropped or pasted data, validation images.

Every failure is an :class:`~cnn_core.errors.ImageError` with one line that
names the source, for a message box.
"""
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from digit_files import digit_from_image, load_image, load_image_bytes
from cnn_core.data import load_sample
from cnn_core.errors import ImageError


def digit_from_file(path):
    """Read an image file and preprocess it: ``(28, 28)`` float32 ink in [0, 1]."""
    return digit_from_image(load_image(path), Path(path).name)


def qimage_to_array(image):
    """A QImage as an ``(H, W, 4)`` uint8 RGBA array (a copy)."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    height, width = image.height(), image.width()
    if height == 0 or width == 0:
        raise ImageError("the image has no pixels")
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, :width * 4].reshape(height, width, 4).copy()


def digit_from_mime(mime, what):
    """The digit in dropped or pasted data: a local file, an image, or encoded image bytes.

    Parameters
    ----------
    mime : QMimeData
    what : str
        ``"pasted image"`` or ``"dropped image"``, for messages.
    """
    files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    if files:
        return digit_from_file(files[0])
    if mime.hasImage():
        return digit_from_image(qimage_to_array(mime.imageData()), what)
    for kind in mime.formats():
        if kind.startswith("image/"):
            return digit_from_image(load_image_bytes(bytes(mime.data(kind)), what), what)
    raise ImageError(f"{what}: not an image (no picture or image file in it)")


def can_read(mime):
    """Whether ``mime`` may hold a digit: files, an image or image bytes."""
    return mime.hasUrls() or mime.hasImage() or \
        any(kind.startswith("image/") for kind in mime.formats())


def validation_example(index):
    """Validation image ``index`` of the bundled sample: ``(digit (28, 28), label)``."""
    validation = load_sample()[1]
    return validation.images[index].astype(np.float32) / 255.0, int(validation.labels[index])


def validation_index_of(digit, label=None):
    """The index of the bundled validation image that ``digit`` is, pixel for pixel
    (and labelled ``label``, if given), or None when it is none of them.

    ``digit`` is ``(28, 28)`` in [0, 1], as :func:`validation_example` and Evaluate give it.
    """
    validation = load_sample()[1]
    pixels = np.rint(np.asarray(digit, np.float64) * 255.0)
    if pixels.shape != validation.images.shape[1:]:
        return None
    same = (validation.images == pixels).all(axis=(1, 2))
    if label is not None:
        same &= validation.labels == label
    matches = np.flatnonzero(same)
    return int(matches[0]) if len(matches) else None
