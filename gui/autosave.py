"""Autosave: the session at the end of every epoch and at close, and the offer to go on.

The model is ``user_data_dir()/autosave.npz``, written atomically by
:func:`cnn_core.model_files.save_model`, with the history and settings in its
metadata; the timeline's epoch snapshots go beside it in ``session/`` (one
``epoch-N.npz`` each, the latest :data:`MAX_KEPT_EPOCHS` and epoch 0).  A clean
exit stores its time in the settings; an autosave newer than that was left by a
run that did not end cleanly.  Closing the window after training keeps the
session too (its live weights, mid-epoch ones included) and says so in the
settings, so the next start offers to continue it either way.

That reasoning holds only for the one app that uses a data folder.  A second app
opened on the same folder sees the first one's autosaves, newer than the last
clean exit, while the first is still running; :class:`SessionLock` tells it so,
and it then leaves the offer and the clean-exit mark to the first.
"""
import os
import re
import time

import numpy as np
from PySide6.QtCore import QLockFile

from cnn_core import paths
from cnn_core.errors import ModelFileError
from cnn_core.model_files import save_model
from cnn_core.network import Network

CLEAN_EXIT_KEY = "session/clean_exit"
#: Set when a clean close kept a session to offer; cleared once the offer is answered.
KEPT_KEY = "session/kept"
#: Epoch snapshots kept with the session besides epoch 0 (about 1.7 MB each).
MAX_KEPT_EPOCHS = 20
_SNAPSHOT_NAME = re.compile(r"epoch-(\d+)\.npz")


def autosave_path():
    """Where the autosave goes (the data folder may change between tests)."""
    return paths.user_data_dir() / "autosave.npz"


def session_folder():
    """Where the kept session's epoch snapshots go."""
    return paths.user_data_dir() / "session"


def kept_snapshots():
    """``{epoch: path}`` of the snapshot files in the session folder."""
    try:
        names = os.listdir(session_folder())
    except OSError:
        return {}
    found = (_SNAPSHOT_NAME.fullmatch(name) for name in names)
    return {int(m.group(1)): session_folder() / m.group(0) for m in found if m}


def write_snapshot(epoch, state):
    """Write an epoch's ``state_dict`` into the session folder (atomically: a file is
    whole or absent); returns None, or a one-line reason it could not."""
    folder = session_folder()
    target = folder / f"epoch-{epoch}.npz"
    temporary = folder / f".epoch-{epoch}.npz.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            np.savez(handle, **state)
        os.replace(temporary, target)
    except OSError as exc:
        return f"cannot write {target}: {exc.strerror or exc}"
    return None


def forget_snapshots(keep):
    """Delete the session folder's snapshots whose epoch ``keep(epoch)`` rejects."""
    for epoch, path in kept_snapshots().items():
        if not keep(epoch):
            try:
                path.unlink()
            except OSError:
                pass        # gone already; the next save tries again


def read_snapshots(reference, up_to):
    """The kept snapshots of epochs ``<= up_to`` that fit ``reference`` (a ``state_dict``:
    the same names and shapes); unreadable or foreign files are skipped."""
    shapes = {name: np.shape(value) for name, value in reference.items()}
    states = {}
    for epoch, path in kept_snapshots().items():
        if epoch > up_to:
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                state = {name: np.array(data[name], np.float32) for name in data.files}
        except (OSError, ValueError, KeyError, EOFError):
            continue
        if {name: value.shape for name, value in state.items()} == shapes:
            states[epoch] = state
    return states


def autosave(state, architecture, metadata):
    """Save a ``state_dict`` as the autosave.

    Returns
    -------
    str or None
        None when saved, else a one-line reason it could not be.
    """
    network = Network(architecture)
    network.load_state_dict(state)
    try:
        save_model(autosave_path(), network, metadata)
    except ModelFileError as exc:
        return str(exc)
    return None


class SessionLock:
    """The data folder's ``session.lock``, held by the first running app for its life.

    Attributes
    ----------
    shared : bool
        True when another running app holds the lock: this one is a second
        window on the same data folder.  A lock left by an app that crashed is
        stale (its process is gone) and is taken over.
    """

    def __init__(self):
        path = paths.user_data_dir() / "session.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass        # an unwritable folder is reported where files are saved
        self._lock = QLockFile(str(path))
        self._lock.setStaleLockTime(0)      # stale only when its process is gone
        held = self._lock.tryLock(0)
        self.shared = not held and self._lock.error() == QLockFile.LockError.LockFailedError

    def release(self):
        if self._lock.isLocked():
            self._lock.unlock()


def mark_clean_exit(settings):
    """Remember that the app ended normally now."""
    settings.setValue(CLEAN_EXIT_KEY, time.time())
    settings.sync()


def restorable_autosave(settings):
    """The autosave path if one exists that is newer than the last clean exit, else None."""
    path = autosave_path()
    try:
        modified = path.stat().st_mtime
    except OSError:
        return None
    try:
        clean_exit = float(settings.value(CLEAN_EXIT_KEY, 0.0))
    except (TypeError, ValueError):
        clean_exit = 0.0
    return path if modified > clean_exit else None


class Autosaver:
    """Autosave at every epoch's end, and the offer to restore the last one after a crash.

    An object the main window holds (``window.autosaver``).

    Parameters
    ----------
    settings : QSettings
    controller : TrainingController
        The architecture and metadata of the model on show.
    add_notice : callable
        ``add_notice(text, buttons) -> NoticeBar`` puts a notice above the places.
    open_file : callable
        ``open_file(path, remember=False) -> bool`` opens a model file.
    status : callable
        ``status(text, milliseconds)`` shows a line in the status bar.

    Attributes
    ----------
    note : str or None
        What the last autosave did (or why it could not), until :meth:`take_note`.
    offer : NoticeBar or None
        The restore offer, when one was made.
    """

    def __init__(self, settings, controller, add_notice, open_file, status):
        self._settings, self._controller = settings, controller
        self._add_notice, self._open_file, self._status = add_notice, open_file, status
        self.note = self.offer = None
        self._new_session = True    # the session folder still holds another session's epochs

    def offer_restore(self):
        """Offer to continue the session kept at a clean close, or the autosave left by a
        session that did not end cleanly, if there is one."""
        crashed = restorable_autosave(self._settings) is not None
        kept = self._settings.value(KEPT_KEY, False, type=bool) and autosave_path().is_file()
        if not (crashed or kept):
            return
        path = autosave_path()
        why = ("did not end cleanly; it was autosaved at the end of its last epoch" if crashed
               else "was closed; its weights, curves and timeline were kept")
        self.offer = self._add_notice(
            f"The last training session {why}. Continue the previous session? ({path})",
            [("restore_autosave", "Continue", lambda: self._answer(self.restore, path)),
             ("discard_autosave", "Discard", lambda: self._answer(None, path))])

    def _answer(self, restore, path):
        self._settings.setValue(KEPT_KEY, False)    # asked once
        if restore is not None:
            restore(path)

    def restore(self, path):
        """Open the autosave with its history and kept snapshots (True when it could be read)."""
        if self._open_file(path, remember=False, snapshots=self._snapshots_for):
            self._status(f"Continuing the session kept in {path}", 10000)
            return True
        return False

    @staticmethod
    def _snapshots_for(network, latest):
        return read_snapshots(network.state_dict(), latest)

    def start_session(self, _description=None):
        """A new session began (Reset, Open): its first epoch replaces the kept snapshots."""
        self._new_session = True

    def save_epoch(self, summary):
        """Autosave the weights of a finished epoch (an EpochSummary) and its snapshot;
        a folder that cannot be written is only said."""
        problem = autosave(summary.state, self._controller.current_model().layer_specs(),
                           self._controller.metadata()) or self._keep_snapshots(
                                  summary.record.epoch, summary.state)
        self.note = (f"could not autosave: {problem}" if problem else
                     f"autosaved epoch {summary.record.epoch} to {autosave_path()}")
        self._status(f"Epoch {summary.record.epoch} done; {self.note}", 10000)

    def _keep_snapshots(self, latest, state=None):
        """Make the session folder hold this session's snapshots up to epoch ``latest``
        (``state``, when given, is its own): epoch 0 and the last :data:`MAX_KEPT_EPOCHS`."""
        snapshots = self._controller.snapshots
        oldest = latest - MAX_KEPT_EPOCHS + 1
        wanted = {e for e in snapshots if e <= latest and (e == 0 or e >= oldest)}
        # Another session's files must not mix with this one's; later ones are a
        # rewound run's, older ones beyond the bound.
        forget_snapshots(lambda e: not self._new_session and e in wanted)
        self._new_session = False
        present = kept_snapshots()
        for epoch in sorted(wanted):
            if epoch == latest or epoch not in present:     # latest: a rewind may redo it
                problem = write_snapshot(epoch, state if state is not None and epoch == latest
                                         else snapshots[epoch])
                if problem:
                    return problem
        return None

    def keep_at_close(self):
        """At a clean close after training: keep the live weights (mid-epoch ones too) with
        the history, and say in the settings that the next start offers them."""
        c = self._controller
        session = c.session
        if session.trainer is None:
            return      # nothing trained since the last start, Reset or Open: nothing new
        with session.holding():     # the training thread has ended
            state = session.network.state_dict()
            metadata = session.metadata()
        # Epochs may have ended after the last report the window took in.
        if (autosave(state, c.current_model().layer_specs(), metadata) is None
                and self._keep_snapshots(session.epoch) is None):
            self._settings.setValue(KEPT_KEY, True)

    def take_note(self):
        """The note of the last autosave, forgotten once taken (a run's end says it)."""
        note, self.note = self.note, None
        return note
