"""The main window's memory and looks: settings, theme, size, recent files, autosave and
the notices above the places.

A mixin of :class:`gui.main_window.MainWindow`, kept apart so the window stays short.
"""
from pathlib import Path

from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QApplication, QMessageBox

from . import settings_store
from .autosave import autosave, autosave_path, restorable_autosave
from .style import plot_colours, restyle
from .theme import THEMES, apply_theme, is_dark
from .tour import NoticeBar


class WindowState:
    """Settings, Open recent, autosave and notices for the main window."""

    _look = None        # (plot colours, dark) the window was last styled with

    @property
    def theme_choice(self):
        """``"system"``, ``"light"`` or ``"dark"``, as stored."""
        choice = self.settings.value("view/theme", "system")
        return choice if choice in THEMES else "system"

    def apply_theme(self):
        """Give the app the stored theme, and the window's plots and labels its colours."""
        apply_theme(QApplication.instance(), self.theme_choice)
        self._follow_palette()

    def set_theme(self, choice):
        """Switch to a theme now, and remember it."""
        self.settings.setValue("view/theme", choice)
        self.apply_theme()
        self.statusBar().showMessage(f"Theme: {THEMES[choice]}", 5000)

    def changeEvent(self, event):
        """Follow the palette when it changes: the system may switch between light and dark."""
        if event.type() == QEvent.Type.PaletteChange:
            self._follow_palette()
        super().changeEvent(event)

    def _follow_palette(self):
        # Restyling walks every plot: only when the colours really changed.
        look = (plot_colours(), is_dark())
        if look != self._look:
            self._look = look
            restyle(self)

    def _build_theme_menu(self, menu):
        group = QActionGroup(self)
        self.theme_actions = {}
        for choice, label in THEMES.items():
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(choice == self.theme_choice)
            action.triggered.connect(lambda _=False, c=choice: self.set_theme(c))
            group.addAction(action)
            self.theme_actions[choice] = action

    def fitted_size(self, width, height):
        """``width`` × ``height``, or less where the screen has less room (in points, so
        a laptop at 150 % offers 1280 × 720 of them); the layouts shrink that far."""
        room = self.screen().availableGeometry()
        # A tenth is left for the window frame and title bar, which Qt does not count.
        return QSize(min(width, room.width() * 9 // 10), min(height, room.height() * 9 // 10))

    def open_recent(self, path):
        """Open a file of the recent list, or say it is gone and drop it from the list."""
        if not Path(path).is_file():
            settings_store.prune_recent_files(self.settings)
            self._fill_recent_menu()
            self.show_message(QMessageBox.Icon.Warning, "File not found",
                              f"{path} no longer exists; it was removed from Open recent.")
            return False
        return self.open_model_file(path)

    def _remember(self, path):
        settings_store.add_recent_file(self.settings, path)
        self._fill_recent_menu()

    def _fill_recent_menu(self):
        missing = settings_store.prune_recent_files(self.settings)
        if missing:
            self.statusBar().showMessage(
                f"Removed {len(missing)} missing file(s) from Open recent: "
                + ", ".join(Path(p).name for p in missing), 10000)
        self.recent_menu.clear()
        files = settings_store.recent_files(self.settings)
        for path in files:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        self.recent_menu.menuAction().setEnabled(bool(files) and self.controller.state == "idle")

    def _add_notice(self, text, buttons):
        notice = NoticeBar(text, buttons)
        self._notices.insertWidget(0, notice)
        return notice

    def _tour_done(self):
        self.settings.setValue("tour/done", True)

    def _offer_autosave(self):
        path = restorable_autosave(self.settings)
        if path is not None:
            self.restore_offer = self._add_notice(
                f"The last session did not end cleanly. Restore the model autosaved at the end "
                f"of its last epoch ({path})?",
                [("restore_autosave", "Restore", lambda: self.restore_autosave(path)),
                 ("discard_autosave", "Discard", lambda: None)])

    def restore_autosave(self, path):
        """Open the autosave as the current model (True when it could be read)."""
        if self.open_model_file(path, remember=False):
            self.statusBar().showMessage(f"Restored the autosave {path}", 10000)
            return True
        return False

    def _restore_settings(self):
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        # The place last used; at the very first start the canvas, where the shipped
        # model can be tried at once.
        place = s.value("window/place", 1, type=int)
        self.tabs.setCurrentIndex(place if 0 <= place < self.tabs.count() else 1)
        settings_store.restore_fields(s, "train", self.train_page.settings.fields)
        panel = self.draw_place.method_panel
        settings_store.restore_fields(s, "explain", {"method": panel.method,
                                                     "layer": panel.layer})

    def _save_settings(self):
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/place", self.tabs.currentIndex())
        settings_store.save_fields(s, "train", self.train_page.settings.fields)
        panel = self.draw_place.method_panel
        settings_store.save_fields(s, "explain", {"method": panel.method, "layer": panel.layer})

    def _on_epoch(self, summary):
        """Autosave the model at the end of every epoch; an unwritable folder is only said."""
        problem = autosave(summary.state, self.controller.current_model().layer_specs(),
                           self.controller.metadata())
        self._autosave_note = (f"could not autosave: {problem}" if problem else
                               f"autosaved epoch {summary.record.epoch} to {autosave_path()}")
        self.statusBar().showMessage(f"Epoch {summary.record.epoch} done; {self._autosave_note}",
                                     10000)
