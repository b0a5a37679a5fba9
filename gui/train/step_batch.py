"""The batch of one training step: each image with its label, prediction and loss before and
after the step, coloured by whether the step helped it.

A list of thumbnails (sorted by the change of loss, most helped first); a click says which
image of the batch was chosen.
"""
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

from ..images import digit_pixmap

#: Colour-blind-safe pair, as the backward view: blue lowered the loss, vermillion raised it.
BETTER_COLOUR = "#0072B2"
WORSE_COLOUR = "#D55E00"
SAME_COLOUR = "#9e9e9e"
THUMB_SCALE = 2         # 28 px -> 56 px
BORDER = 3


def change_colour(change):
    """The frame colour of an image whose loss changed by ``change``."""
    return BETTER_COLOUR if change < 0 else WORSE_COLOUR if change > 0 else SAME_COLOUR


def framed_thumbnail(digit, colour):
    """A QPixmap of a 28×28 digit inside a frame of ``colour``."""
    inner = digit_pixmap(digit, THUMB_SCALE)
    side = 28 * THUMB_SCALE + 2 * BORDER
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor(colour))
    painter = QPainter(pixmap)
    painter.drawPixmap(BORDER, BORDER, 28 * THUMB_SCALE, 28 * THUMB_SCALE, inner)
    painter.end()
    return pixmap


def item_text(result, i):
    """Two lines under a thumbnail: ``label: before → after`` predictions, loss before → after."""
    return (f"{result.labels[i]}: {result.pred_before[i]}→{result.pred_after[i]}\n"
            f"{result.loss_before[i]:.2f}→{result.loss_after[i]:.2f}")


def item_tooltip(result, i):
    label = int(result.labels[i])
    return (f"label {label}; predicted {result.pred_before[i]} before the step "
            f"(p({label}) = {result.probs_before[i, label]:.3f}), {result.pred_after[i]} after "
            f"(p({label}) = {result.probs_after[i, label]:.3f}); loss "
            f"{result.loss_before[i]:.4f} → {result.loss_after[i]:.4f}. "
            f"Click: this image's backward pass.")


class StepBatchGrid(QListWidget):
    """Thumbnails of a step's batch.

    Signals
    -------
    image_clicked(int) : the position in the batch of the image clicked.
    """

    image_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        side = 28 * THUMB_SCALE + 2 * BORDER
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 22, side + 40))
        self.setSpacing(2)
        self.itemClicked.connect(lambda item: self.image_clicked.emit(
            item.data(Qt.ItemDataRole.UserRole)))

    def show_batch(self, images, result):
        """Fill with ``images (N, 1, 28, 28)`` and their :class:`BeforeAfter` ``result``."""
        self.clear()
        for i in np.argsort(result.change, kind="stable"):
            i = int(i)
            item = QListWidgetItem(QIcon(framed_thumbnail(images[i, 0],
                                                          change_colour(result.change[i]))),
                                   item_text(result, i))
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(item_tooltip(result, i))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.addItem(item)

    def batch_index(self, row):
        """The position in the batch of the thumbnail at ``row`` (they are sorted)."""
        return self.item(row).data(Qt.ItemDataRole.UserRole)
