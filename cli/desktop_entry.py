"""``install-desktop``: put the app into the Linux applications menu.

Writes a ``.desktop`` launcher and the icons into the user's data folder
(``$XDG_DATA_HOME``, usually ``~/.local/share``), as the freedesktop.org
specifications ask, so the app is a double-click away.  Windows and macOS use
a shortcut to the installed command instead (see README).
"""
import os
import shutil
import sys
from pathlib import Path

from cnn_core.errors import UserError
from cnn_core.paths import RESOURCES_DIR

APP_ID = "explainable-cnn"
ICONS = RESOURCES_DIR / "icons"
TEMPLATE = RESOURCES_DIR / f"{APP_ID}.desktop"


def launch_command():
    """The command line that starts the app the way it is installed right now.

    The installed ``explainable-cnn`` script when it is on PATH; otherwise this
    Python running this checkout's ``main.py``.
    """
    installed = shutil.which(APP_ID)
    if installed:
        return [installed]
    return [sys.executable, str(Path(__file__).resolve().parents[1] / "main.py")]


def desktop_entry_text(command):
    """The launcher's text: the template with ``Exec`` set to ``command`` (a list)."""
    # The desktop-entry spec quotes arguments with double quotes, much like a shell.
    exec_line = " ".join(f'"{part}"' if set(part) & set(' "\'\\') else part for part in command)
    lines = []
    for line in TEMPLATE.read_text().splitlines():
        lines.append(f"Exec={exec_line}" if line.startswith("Exec=") else line)
    return "\n".join(lines) + "\n"


def install_desktop_entry(data_home=None, command=None):
    """Write the launcher and icons under ``data_home``; return the launcher's path.

    Raises
    ------
    UserError
        If the folders cannot be written.
    """
    base = Path(data_home or os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    launcher = base / "applications" / f"{APP_ID}.desktop"
    try:
        launcher.parent.mkdir(parents=True, exist_ok=True)
        launcher.write_text(desktop_entry_text(command or launch_command()))
        for png in ICONS.glob(f"{APP_ID}-*.png"):
            size = png.stem.rsplit("-", 1)[1]
            target = base / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, target)
        scalable = base / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
        scalable.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ICONS / f"{APP_ID}.svg", scalable)
    except OSError as exc:
        raise UserError(f"cannot install the launcher into {base}: {exc.strerror or exc}") from None
    return launcher

