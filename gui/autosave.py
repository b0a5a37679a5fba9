"""Autosave: the model at the end of every epoch, and the offer to restore it after a crash.

The file is ``user_data_dir()/autosave.npz``, written atomically by
:func:`cnn_core.model_files.save_model`.  A clean exit stores its time in the
settings; an autosave newer than that was left by a run that did not end cleanly.
"""
import time

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
