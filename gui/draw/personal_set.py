"""The person's own labelled drawings ("Teach it"), kept in the user's data folder.

One ``drawings.npz`` file holds ``images`` uint8 ``(N, 28, 28)`` (ink 255 on
paper 0, as MNIST) and ``labels`` uint8 ``(N,)``.  It is written to a
temporary file and renamed, so a crash mid-save never leaves half a set.
No Qt here: the set is plain data the trainer can take.
"""
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core import paths
from cnn_core.errors import DataError

FILE_NAME = "drawings.npz"


@dataclass(frozen=True, eq=False)
class ExtraTraining:
    """Images and labels to add to the training set.

    Compared by identity (``eq=False``): a trainer built with one set is
    rebuilt only when it is handed a different one.
    """

    images: np.ndarray      # float32 (N, 1, 28, 28) in [0, 1]
    labels: np.ndarray      # int64 (N,)


def drawings_dir():
    """``<user data>/drawings``, where the personal set lives."""
    return paths.user_data_dir() / "drawings"


class PersonalSet:
    """Labelled 28×28 drawings on disk.

    Parameters
    ----------
    folder : path-like, optional
        Default :func:`drawings_dir`.

    Raises
    ------
    DataError
        When an existing file cannot be read (it is left untouched).
    """

    def __init__(self, folder=None):
        self.path = Path(drawings_dir() if folder is None else folder) / FILE_NAME
        self.images = np.zeros((0, 28, 28), np.uint8)
        self.labels = np.zeros(0, np.uint8)
        if self.path.is_file():
            self._load()

    def __len__(self):
        return len(self.labels)

    def _load(self):
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                images, labels = archive["images"], archive["labels"]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise DataError(f"{self.path}: cannot read the saved drawings ({exc})") from None
        if images.shape[1:] != (28, 28) or len(images) != len(labels) or \
                images.dtype != np.uint8 or labels.dtype != np.uint8 or np.any(labels > 9):
            raise DataError(f"{self.path}: the saved drawings are damaged")
        self.images, self.labels = images, labels

    def add(self, digit, label):
        """Append a drawing and save the set.

        Parameters
        ----------
        digit : ndarray, (28, 28)
            Ink in [0, 1], as preprocessing returns it.
        label : int
            The digit it shows, 0 to 9.
        """
        if not 0 <= int(label) <= 9:
            raise ValueError(f"a label is a digit 0-9, not {label}")
        image = np.round(np.clip(digit, 0, 1) * 255).astype(np.uint8)
        self._save(np.concatenate([self.images, image[None]]),
                   np.append(self.labels, np.uint8(label)))

    def clear(self):
        """Forget every drawing (the file is removed)."""
        self.path.unlink(missing_ok=True)
        self.images = self.images[:0]
        self.labels = self.labels[:0]

    def counts(self):
        """How many drawings of each digit, ``(10,)`` int."""
        return np.bincount(self.labels, minlength=10)

    def training_arrays(self):
        """The set as an :class:`ExtraTraining` for the trainer, or None when empty."""
        if not len(self):
            return None
        images = self.images[:, None].astype(np.float32) / np.float32(255)
        return ExtraTraining(images, self.labels.astype(np.int64))

    def _save(self, images, labels):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp.npz")
        np.savez_compressed(temporary, images=images, labels=labels)
        os.replace(temporary, self.path)
        self.images, self.labels = images, labels
