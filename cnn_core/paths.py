"""Where the engine finds its bundled resources and keeps the user's data.

The app asks Qt for its standard data location and hands it over with
:func:`set_user_data_dir`; the engine cannot import Qt, so the command line
follows the same per-platform conventions with the standard library.  Both
agree on Linux (``$XDG_DATA_HOME/explainable-cnn``), Windows (``%APPDATA%``)
and macOS (``~/Library/Application Support``).
"""
import os
import sys
from pathlib import Path

APP_DIR_NAME = "explainable-cnn"

#: Bundled files: the MNIST sample and the shipped model.
RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
SAMPLE_DIR = RESOURCES_DIR / "mnist_sample"
SHIPPED_MODEL = RESOURCES_DIR / "model.npz"

_chosen_dir = None      # set by the app from Qt's standard locations


def set_user_data_dir(folder):
    """Use ``folder`` (a path, or None for the platform default) as the user's data folder.

    ``EXPLAINABLE_CNN_DATA``, when set, still wins.
    """
    global _chosen_dir
    _chosen_dir = Path(folder) if folder else None


def user_data_dir() -> Path:
    """Return the folder for the user's models, MNIST cache and drawings.

    ``EXPLAINABLE_CNN_DATA`` overrides everything (tests use it to point at a
    temporary folder); then the folder given to :func:`set_user_data_dir`; then
    the platform default.  The folder is not created here.
    """
    override = os.environ.get("EXPLAINABLE_CNN_DATA")
    if override:
        return Path(override)
    if _chosen_dir is not None:
        return _chosen_dir
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / APP_DIR_NAME


def mnist_cache_dir() -> Path:
    """Return the folder where the full MNIST download is cached."""
    return user_data_dir() / "mnist"
