"""Epoch snapshots: the weights at the end of every epoch, the older ones on disk.

The timeline, rewind and the kernels GIF may ask for any earlier epoch, but
most epochs are seldom looked at again, and at about 1.7 MB each a long run
would hold tens of megabytes for them.  :class:`SnapshotStore` keeps epoch 0
(every kernel picture measures its drift against it) and the latest few epochs
in memory, and writes the others to a private temporary folder as uncompressed
``.npz`` files, which hold the exact bytes, so a rewind restores bit-identical
weights.  The folder is removed when the store is closed or garbage-collected.
When it cannot be written, the store keeps everything in memory, as before.
"""
import logging
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Epochs after epoch 0 kept in memory: the live one and the one before it.
KEEP_RECENT = 2
#: Spill folders are named ``ecnn-snapshots-<pid>-<random>``, so an orphan can be told apart.
PREFIX = "ecnn-snapshots-"


def remove_orphans(parent=None):
    """Remove the spill folders of processes that no longer run (killed with ``kill -9``,
    or by a power cut), in ``parent`` (default: the system's temporary folder).

    Only on POSIX, where ``os.kill(pid, 0)`` asks whether a process exists
    (on Windows it would end it).  Folders of living processes, and anything
    not named like a spill folder, are left alone.
    """
    if os.name != "posix":
        return
    folder = Path(parent or tempfile.gettempdir())
    try:
        candidates = list(folder.glob(f"{PREFIX}*-*"))
    except OSError:
        return
    for candidate in candidates:
        pid = candidate.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and candidate.is_dir() and not _running(int(pid)):
            shutil.rmtree(candidate, ignore_errors=True)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True         # it exists but is not ours to signal
    return True


def read_only(state):
    """Mark a ``state_dict``'s arrays read-only (in place), so threads may share them."""
    for value in state.values():
        value.setflags(write=False)
    return state


class SnapshotStore(Mapping):
    """A mapping ``{epoch: state_dict}`` that spills older epochs to disk.

    Stored arrays are made read-only and shared, not copied.  A spilled epoch
    is read back from disk on every access, as a new dict of read-only arrays,
    so the caller decides how long it lives.  Every method holds the store's
    lock, so the training thread may add or truncate epochs while the GUI thread
    reads one (a :class:`~cnn_core.session.TrainingSession` has one store for both).

    Parameters
    ----------
    keep_recent : int
        How many of the latest epochs stay in memory besides epoch 0 (at least 1,
        so the epoch just added is always the caller's own arrays).
    directory : str or Path or None
        Where to make the private folder (default: the system's temporary folder).
    """

    def __init__(self, keep_recent=KEEP_RECENT, directory=None):
        if keep_recent < 1:
            raise ValueError(f"keep_recent must be at least 1, not {keep_recent}")
        self.keep_recent = keep_recent
        self._parent = directory
        self._memory = {}           # epoch -> state_dict
        self._on_disk = {}          # epoch -> parameter names, in state_dict order
        self._folder = None         # made on the first spill, so short runs never touch disk
        self._remove_folder = None
        self._disk_failed = False
        # Reentrant: truncate iterates the store under the lock it already holds.
        self._lock = threading.RLock()

    # --- the mapping ------------------------------------------------------------------

    def __getitem__(self, epoch):
        with self._lock:
            if epoch in self._memory:
                return self._memory[epoch]
            if epoch in self._on_disk:
                return self._load(epoch)
        raise KeyError(epoch)

    def __contains__(self, epoch):
        # Mapping's default would read a spilled epoch from disk just to answer.
        with self._lock:
            return epoch in self._memory or epoch in self._on_disk

    def __iter__(self):
        with self._lock:
            return iter(sorted([*self._memory, *self._on_disk]))

    def __len__(self):
        with self._lock:
            return len(self._memory) + len(self._on_disk)

    def __setitem__(self, epoch, state):
        """Keep ``state`` (a ``state_dict``; its arrays become read-only) as ``epoch``."""
        with self._lock:
            self._forget(epoch)
            self._memory[epoch] = read_only(dict(state))
            self._spill_old()

    # --- what a store adds to a dict -------------------------------------------------------

    @property
    def in_memory(self):
        """The epochs held in memory, sorted."""
        with self._lock:
            return sorted(self._memory)

    @property
    def on_disk(self):
        """The epochs spilled to disk, sorted."""
        with self._lock:
            return sorted(self._on_disk)

    @property
    def folder(self):
        """The private folder of spilled epochs (None before the first spill)."""
        return self._folder

    def truncate(self, epoch):
        """Forget the epochs after ``epoch`` (a rewind)."""
        with self._lock:
            for later in [e for e in self if e > epoch]:
                self._forget(later)

    def clear(self):
        """Forget every epoch and remove the folder (a new one is made when needed)."""
        with self._lock:
            self._memory.clear()
            self._on_disk.clear()
            if self._remove_folder is not None:
                self._remove_folder()
            self._folder = self._remove_folder = None

    # --- disk -------------------------------------------------------------------------

    def _path(self, epoch):
        return self._folder / f"epoch-{epoch}.npz"

    def _forget(self, epoch):
        self._memory.pop(epoch, None)
        if self._on_disk.pop(epoch, None) is not None:
            self._path(epoch).unlink(missing_ok=True)

    def _spill_old(self):
        keep = {0, *list(self)[-self.keep_recent:]}
        for epoch in [e for e in self._memory if e not in keep]:
            if not self._spill(epoch):
                return

    def _spill(self, epoch):
        """Write ``epoch`` to disk and drop it from memory; False (and keep it) on failure."""
        if self._disk_failed or not self._make_folder():
            return False
        state = self._memory[epoch]
        path = self._path(epoch)
        try:
            # Positional arrays: a parameter named like an argument of savez cannot clash.
            np.savez(path, *state.values())
        except OSError as exc:
            path.unlink(missing_ok=True)
            self._give_up_disk(f"cannot write {path}: {exc.strerror or exc}")
            return False
        self._on_disk[epoch] = list(state)
        del self._memory[epoch]
        return True

    def _make_folder(self):
        if self._folder is None:
            remove_orphans(self._parent)
            try:
                self._folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-",
                                                     dir=self._parent))
            except OSError as exc:
                self._give_up_disk(f"cannot make a temporary folder: {exc.strerror or exc}")
                return False
            # Not a method of self: the finalizer must not keep the store alive.
            self._remove_folder = weakref.finalize(self, shutil.rmtree, self._folder,
                                                   ignore_errors=True)
        return True

    def _give_up_disk(self, reason):
        self._disk_failed = True
        log.warning("epoch snapshots stay in memory: %s", reason)

    def _load(self, epoch):
        names = self._on_disk[epoch]
        with np.load(self._path(epoch), allow_pickle=False) as arrays:
            return read_only({name: arrays[f"arr_{i}"] for i, name in enumerate(names)})
