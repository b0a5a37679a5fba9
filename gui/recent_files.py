"""File → Open recent: the menu of model files saved or opened lately, pruned of missing ones.

An object the main window holds (``window.recent``); the list itself lives in
the settings (:mod:`gui.settings_store`).
"""
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from . import settings_store


class RecentFiles:
    """Keep the Open recent menu in step with the settings.

    Parameters
    ----------
    settings : QSettings
    menu : QMenu
        The Open recent submenu, filled again each time it is about to show.
    open_file : callable
        ``open_file(path) -> bool`` opens a model file (the window's command).
    can_open : callable
        ``can_open() -> bool``: whether a model may be opened now (no run under way).
    status, warn : callable
        ``status(text, milliseconds)`` and ``warn(icon, title, text)``, as the window's.
    """

    def __init__(self, settings, menu, open_file, can_open, status, warn):
        self._settings, self.menu = settings, menu
        self._open_file, self._can_open = open_file, can_open
        self._status, self._warn = status, warn
        menu.aboutToShow.connect(self.fill)
        self.fill()

    def open(self, path):
        """Open a file of the list, or say it is gone and drop it from the list."""
        if not Path(path).is_file():
            settings_store.prune_recent_files(self._settings)
            self.fill()
            self._warn(QMessageBox.Icon.Warning, "File not found",
                       f"{path} no longer exists; it was removed from Open recent.")
            return False
        return self._open_file(path)

    def remember(self, path):
        """Put ``path`` at the top of the list."""
        settings_store.add_recent_file(self._settings, path)
        self.fill()

    def fill(self):
        """Rebuild the menu from the settings, saying which missing files were dropped."""
        missing = settings_store.prune_recent_files(self._settings)
        if missing:
            self._status(f"Removed {len(missing)} missing file(s) from Open recent: "
                         + ", ".join(Path(p).name for p in missing), 10000)
        self.menu.clear()
        files = settings_store.recent_files(self._settings)
        for path in files:
            action = self.menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(lambda _=False, p=path: self.open(p))
        self.set_enabled(self._can_open())

    def set_enabled(self, can_open):
        """Enable the menu when a model may be opened and the list is not empty."""
        self.menu.menuAction().setEnabled(can_open and bool(self.menu.actions()))
