"""The main window's memory and looks: the theme, its size, and the settings it restores.

:class:`WindowTheme` is an object the window holds (``window.theme``); the
functions save and restore what the window looked like when it was closed.
"""
from PySide6.QtCore import QSize
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QApplication

from . import settings_store
from .style import plot_colours, restyle
from .theme import THEMES, apply_theme, is_dark


class WindowTheme:
    """The stored theme (system, light or dark), applied to the app and to a window's plots.

    Parameters
    ----------
    window : QWidget
        The window whose plots and labels take the theme's colours.
    settings : QSettings
    status : callable
        ``status(text, milliseconds)`` shows a line in the status bar.
    """

    def __init__(self, window, settings, status):
        self._window, self._settings, self._status = window, settings, status
        self._look = None       # (plot colours, dark) the window was last styled with
        self.actions = {}

    @property
    def choice(self):
        """``"system"``, ``"light"`` or ``"dark"``, as stored."""
        choice = self._settings.value("view/theme", "system")
        return choice if choice in THEMES else "system"

    def apply(self):
        """Give the app the stored theme, and the window's plots and labels its colours."""
        apply_theme(QApplication.instance(), self.choice)
        self.follow_palette()

    def set(self, choice):
        """Switch to a theme now, and remember it."""
        self._settings.setValue("view/theme", choice)
        self.apply()
        self._status(f"Theme: {THEMES[choice]}", 5000)

    def follow_palette(self):
        """Restyle the window if the palette's colours changed (the system may switch
        between light and dark); restyling walks every plot, so only then."""
        look = (plot_colours(), is_dark())
        if look != self._look:
            self._look = look
            restyle(self._window)

    def build_menu(self, menu):
        """One checkable action per theme in ``menu``."""
        group = QActionGroup(menu)
        for choice, label in THEMES.items():
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(choice == self.choice)
            action.triggered.connect(lambda _=False, c=choice: self.set(c))
            group.addAction(action)
            self.actions[choice] = action


def fitted_size(widget, width, height):
    """``width`` × ``height``, or less where ``widget``'s screen has less room (in points,
    so a laptop at 150 % offers 1280 × 720 of them); the layouts shrink that far."""
    room = widget.screen().availableGeometry()
    # A tenth is left for the window frame and title bar, which Qt does not count.
    return QSize(min(width, room.width() * 9 // 10), min(height, room.height() * 9 // 10))


def restore_window(window, settings):
    """Geometry, the place last used, the training and explanation settings."""
    geometry = settings.value("window/geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    # The place last used; at the very first start the canvas, where the shipped
    # model can be tried at once.
    place = settings.value("window/place", 1, type=int)
    window.tabs.setCurrentIndex(place if 0 <= place < window.tabs.count() else 1)
    settings_store.restore_fields(settings, "train", window.train_page.settings.fields)
    panel = window.draw_place.method_panel
    settings_store.restore_fields(settings, "explain", {"method": panel.method,
                                                        "layer": panel.layer})


def save_window(window, settings):
    """What :func:`restore_window` restores."""
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/place", window.tabs.currentIndex())
    settings_store.save_fields(settings, "train", window.train_page.settings.fields)
    panel = window.draw_place.method_panel
    settings_store.save_fields(settings, "explain", {"method": panel.method,
                                                     "layer": panel.layer})
