"""Autosave: the model at the end of every epoch, and the offer to restore it after a crash.

The file is ``user_data_dir()/autosave.npz``, written atomically by
:func:`cnn_core.model_files.save_model`.  A clean exit stores its time in the
settings; an autosave newer than that was left by a run that did not end cleanly.

That reasoning holds only for the one app that uses a data folder.  A second app
opened on the same folder sees the first one's autosaves, newer than the last
clean exit, while the first is still running; :class:`SessionLock` tells it so,
and it then leaves the offer and the clean-exit mark to the first.
"""
import time

from PySide6.QtCore import QLockFile

from cnn_core import paths
from cnn_core.errors import ModelFileError
from cnn_core.model_files import save_model
from cnn_core.network import Network

CLEAN_EXIT_KEY = "session/clean_exit"


def autosave_path():
    """Where the autosave goes (the data folder may change between tests)."""
    return paths.user_data_dir() / "autosave.npz"


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

    def offer_restore(self):
        """Offer the autosave left by a session that did not end cleanly, if there is one."""
        path = restorable_autosave(self._settings)
        if path is not None:
            self.offer = self._add_notice(
                f"The last session did not end cleanly. Restore the model autosaved at the end "
                f"of its last epoch ({path})?",
                [("restore_autosave", "Restore", lambda: self.restore(path)),
                 ("discard_autosave", "Discard", lambda: None)])

    def restore(self, path):
        """Open the autosave as the current model (True when it could be read)."""
        if self._open_file(path, remember=False):
            self._status(f"Restored the autosave {path}", 10000)
            return True
        return False

    def save_epoch(self, summary):
        """Autosave the weights of a finished epoch (an EpochSummary); a folder that
        cannot be written is only said."""
        problem = autosave(summary.state, self._controller.current_model().layer_specs(),
                           self._controller.metadata())
        self.note = (f"could not autosave: {problem}" if problem else
                     f"autosaved epoch {summary.record.epoch} to {autosave_path()}")
        self._status(f"Epoch {summary.record.epoch} done; {self.note}", 10000)

    def take_note(self):
        """The note of the last autosave, forgotten once taken (a run's end says it)."""
        note, self.note = self.note, None
        return note
