"""The "Backward pass" tab: the drawing's backward pass for a label the person chooses.

"What if this were a 4?": the loss is taken for the chosen class, or for
the network's own prediction until a class is chosen.  Like the network
panel, the tab only keeps the latest drawing while it is hidden and draws it
when shown, so the pen pays nothing for a view nobody looks at.
"""
import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from ..network.backward_view import BackwardView

#: The selector's first entry: the loss for whatever the network predicts.
PREDICTED = "its prediction"


class BackwardTab(QWidget):
    """A 0-9 label selector over a :class:`~gui.network.backward_view.BackwardView`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = BackwardView()
        self.label_choice = QComboBox(toolTip="The class the loss is taken for: the network's "
                                              "prediction, or a digit of your choosing")
        self.label_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.label_choice.addItems([PREDICTED] + [str(digit) for digit in range(10)])
        self.label_choice.currentIndexChanged.connect(lambda _: self._draw_if_shown())
        self._drawing = None        # (model, digit (28, 28), probabilities (10,))
        self._pending = False
        self.view.top_row.insertWidget(0, QLabel("Loss as if this were:"))
        self.view.top_row.insertWidget(1, self.label_choice)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 4, 0, 0)
        box.addWidget(self.view, 1)

    def label(self):
        """The class the loss is taken for, or None before any drawing."""
        if self.label_choice.currentIndex() > 0:
            return self.label_choice.currentIndex() - 1
        if self._drawing is None:
            return None
        return int(np.argmax(self._drawing[2]))

    def choose_label(self, label):
        """Take the loss for ``label`` (0-9), or for the prediction when None."""
        self.label_choice.setCurrentIndex(0 if label is None else label + 1)

    def show_drawing(self, model, digit, probabilities):
        """The drawing changed: ``digit (28, 28)`` through ``model`` (a ModelRecord),
        whose prediction is ``probabilities (10,)``."""
        self._drawing = (model, digit, probabilities)
        self.label_choice.setItemText(0, f"{PREDICTED} ({int(np.argmax(probabilities))})")
        self._draw_if_shown()

    @Slot()
    def show_empty(self):
        """Nothing drawn: the last backward pass stays on show, and says so."""
        self.view.show_empty()

    def _draw_if_shown(self):
        if self._drawing is None or not self.isVisible():
            self._pending = self._drawing is not None
            return
        self._pending = False
        model, digit, _ = self._drawing
        self.view.show_pass(model, digit, self.label())

    def showEvent(self, event):
        if self._pending:
            self._draw_if_shown()
        super().showEvent(event)
