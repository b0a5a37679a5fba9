"""Places that other issues fill: Draw & Explain, and Evaluate.

They already receive everything through slots, wired in
:meth:`gui.main_window.MainWindow._wire`: ``show_model(network, description)``
with a frozen copy of the model on show (live, throttled to about once a
second while training, or the timeline's epoch), and ``set_training_state``.
A panel that replaces one of these keeps the same slot names.
"""
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class _ModelPlace(QWidget):
    """A place that shows which model it would work on."""

    intro = ""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.network = None
        self.description = ""
        self.training_state = "idle"
        self._label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self._label.setStyleSheet("color: #555; font-size: 12pt;")
        layout = QVBoxLayout(self)
        layout.addWidget(self._label)
        self._refresh()

    @Slot(object, str)
    def show_model(self, network, description):
        """Take a frozen copy of the model on show; never train or change it."""
        self.network, self.description = network, description
        self._refresh()

    @Slot(str)
    def set_training_state(self, state):
        """``idle``, ``running``, ``paused`` or ``stopping``; heavy work can wait for idle."""
        self.training_state = state

    def _refresh(self):
        self._label.setText(f"{self.intro}\n\nModel on show: {self.description or 'none yet'}")


class DrawExplainPlace(_ModelPlace):
    """Placeholder for the canvas, prediction bars, activations and Grad-CAM."""

    intro = "Draw & Explain: draw a digit and see what the network makes of it (coming soon)."


class EvaluatePlace(_ModelPlace):
    """Placeholder for the confusion matrix, per-class metrics and misclassified gallery."""

    intro = "Evaluate: confusion matrix, per-class metrics and mistakes (coming soon)."
