"""Presentation mode, for a projector: larger type, and the drawing, its answer and its
main map enlarged while the secondary panels step aside.

Not remembered between runs: a projector is a moment's setting, and an app that
starts in large type on a laptop would look broken. Toggling back restores
exactly what was on show before (the font, the place, the splitters, the tabs).
"""
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from .style import others_give_way, restore_policies

#: How much larger the app's type is in presentation mode.
FONT_SCALE = 1.4
SHORTCUT = "F5"


class PresentationMode:
    """The View menu's "Presentation mode" toggle of a window.

    Parameters
    ----------
    window : QMainWindow
        Has ``tabs`` (its places) and ``draw_place``, whose ``set_presentation(on)``
        enlarges and restores the place's own panels.
    """

    def __init__(self, window):
        self._window = window
        self._before = None         # (app font, place index) while presenting
        self.action = QAction("&Presentation mode", window, checkable=True,
                              shortcut=QKeySequence(SHORTCUT))
        self.action.setToolTip(f"Larger type, with the drawing, the answer and the map "
                               f"enlarged, for a projector ({SHORTCUT})")
        self.action.toggled.connect(self.set_on)

    @property
    def on(self):
        """Whether the window is presenting."""
        return self._before is not None

    def set_on(self, on):
        """Present (``on``) or restore the layout from before."""
        if on == self.on:
            return
        app, window = QApplication.instance(), self._window
        if on:
            # The other places, in larger type, would make the window wider than a
            # 1024-pixel projector: while presenting they take the room they are given.
            self._before = (app.font(), window.tabs.currentIndex(),
                            others_give_way(window.tabs, window.draw_place))
            font = app.font()
            font.setPointSizeF(font.pointSizeF() * FONT_SCALE)
            app.setFont(font)
            window.tabs.setCurrentWidget(window.draw_place)
            window.draw_place.set_presentation(True)
        else:
            font, place, others = self._before
            self._before = None
            restore_policies(others)
            # The type first, so the splitters are restored with the sizes the panels
            # take at that type; on show while its panels come back, so its splitters
            # can size them.
            app.setFont(font)
            window.tabs.setCurrentWidget(window.draw_place)
            window.draw_place.set_presentation(False)
            window.tabs.setCurrentIndex(place)
        self.action.setChecked(on)

