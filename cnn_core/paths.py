"""Where the engine finds its bundled resources and keeps the user's data.

The GUI prefers Qt's standard locations; the engine cannot import Qt, so it
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


def user_data_dir() -> Path:
    """Return the folder for the user's models, MNIST cache and drawings.

    ``EXPLAINABLE_CNN_DATA`` overrides the platform default (tests use it to
    point at a temporary folder).  The folder is not created here.
    """
    override = os.environ.get("EXPLAINABLE_CNN_DATA")
    if override:
        return Path(override)
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
