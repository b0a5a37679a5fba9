"""A window with the backward pass of one training image, opened from the One step tab.

The Train place shows what a step did to its batch; clicking an image there opens
this window on the weights before the step, with the image's own label, so the
gradients shown are the ones that image added to the batch's mean gradient.
"""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QVBoxLayout

from .backward_view import BackwardView


class BackwardWindow(QDialog):
    """A non-modal window around a :class:`BackwardView`; one is reused for every image."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)
        self.view = BackwardView()
        box = QVBoxLayout(self)
        box.addWidget(self.view)
        self.resize(1100, 560)

    def show_image(self, image, label, model):
        """Show ``image (28, 28)``'s backward pass for ``label`` through ``model``
        (a ModelRecord: the weights the step started from), and bring the window up."""
        self.setWindowTitle(f"Backward pass of a training image (label {label}; "
                            f"weights {model.description})")
        self.view.show_pass(model, image, label)
        self.show()
        self.raise_()
        self.activateWindow()
