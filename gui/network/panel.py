"""The "Inside the network" panel: the network view, and the detail one click away.

Its input is a plain value per drawing, ``(architecture, weights, image,
outputs, probabilities)``, so whatever produces a pass can feed it.  While
the panel is hidden it only keeps the latest pass and draws it when shown,
so the canvas pays nothing for a view nobody looks at.
"""
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from .detail import DetailView
from .view import EMPTY_NOTE, NetworkView


class NetworkPanel(QWidget):
    """The whole network for the drawing (page 0) and one computation (page 1)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = NetworkView()
        self.detail = DetailView()
        self.weights = None
        self._pending = None
        self.step_button = QPushButton("Step by step ▸", enabled=False,
                                       toolTip="How the selected value is computed")
        self.step_button.clicked.connect(lambda: self.open_detail(*self.view.selection))
        self.view.selected.connect(lambda *_: self.step_button.setEnabled(True))
        self.view.opened.connect(self.open_detail)
        self.detail.back_requested.connect(self.close_detail)
        overview = QWidget()
        box = QVBoxLayout(overview)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.view.hover, 1)
        row.addWidget(self.step_button)
        box.addLayout(row)
        box.addWidget(self.view, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(overview)
        self.pages.addWidget(self.detail)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

    def show_pass(self, architecture, weights, image, outputs, probabilities):
        """Show one image's pass (see :meth:`NetworkView.show_pass`); ``weights`` is the
        network's ``state_dict``."""
        self._pending = (architecture, weights, image, outputs, probabilities)
        if self.isVisible():
            self._draw()

    @Slot()
    def show_empty(self):
        """Nothing drawn: the last drawing's pass stays on show, and the hover line says so."""
        self.view.hover.setText(EMPTY_NOTE)

    def _draw(self):
        architecture, self.weights, image, outputs, probabilities = self._pending
        self._pending = None
        self.view.show_pass(architecture, image, outputs, probabilities)
        if self.pages.currentWidget() is self.detail:
            self.detail.refresh(self.view.by_name, self.weights, self.view.values)

    def showEvent(self, event):
        if self._pending is not None:
            self._draw()
        super().showEvent(event)

    def hideEvent(self, event):
        self.detail.stop()
        super().hideEvent(event)

    def open_detail(self, name, element):
        """Show how ``element`` of column ``name`` is computed."""
        if self.view.values is None:
            return
        self.view.select(name, element)
        self._fill_detail(name, element)
        self.pages.setCurrentWidget(self.detail)

    def _fill_detail(self, name, element):
        self.detail.show_value(self.view.by_name, self.weights, self.view.values, name, element)

    def close_detail(self):
        """Back to the whole network."""
        self.detail.stop()
        self.pages.setCurrentIndex(0)
