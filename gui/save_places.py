"""Where the app proposes to save, and the extension a typed name is missing.

A student who types ``epoch4`` in the save dialog must find ``epoch4.npz``
afterwards, in a folder they know: models go to the user's Documents folder and
pictures to Pictures (Qt's standard locations), or to the folder of that kind
used last, remembered in the settings.  Never the app's hidden data folder.
"""
from pathlib import Path

from PySide6.QtCore import QStandardPaths

#: Kind of file -> the standard location proposed until the user picks a folder.
STANDARD_PLACES = {"models": QStandardPaths.StandardLocation.DocumentsLocation,
                   "images": QStandardPaths.StandardLocation.PicturesLocation,
                   "tables": QStandardPaths.StandardLocation.DocumentsLocation}


def with_extension(path, extension):
    """``path`` ending in ``extension`` (``".npz"``): added when missing, case ignored.

    ``epoch4`` -> ``epoch4.npz``; ``run.v2`` -> ``run.v2.npz``; ``a.NPZ`` stays.
    """
    path = str(path)
    return path if path.lower().endswith(extension.lower()) else path + extension


def start_folder(settings, kind):
    """The folder a save dialog for ``kind`` (a key of :data:`STANDARD_PLACES`) opens in:
    the last one used for that kind if it still exists, else the standard location,
    else the home folder."""
    last = settings.value(f"folders/{kind}")
    if last and Path(str(last)).is_dir():
        return Path(str(last))
    standard = QStandardPaths.writableLocation(STANDARD_PLACES[kind])
    if standard:
        folder = Path(standard)
        try:
            folder.mkdir(parents=True, exist_ok=True)   # a fresh account may lack it
            return folder
        except OSError:
            pass
    return Path.home()


def remember_folder(settings, kind, path):
    """Remember the folder of a file just written, for the next dialog of ``kind``."""
    settings.setValue(f"folders/{kind}", str(Path(path).resolve().parent))
