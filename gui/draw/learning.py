"""Watch it learn: a pinned drawing's Grad-CAM and prediction, epoch by epoch."""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..images import heat_over_digit, image_view
from ..style import muted, plot_colours
from .cams import colour_bar

#: The strip keeps the most recent epochs, four to a row; older ones scroll off the top.
MAX_FRAMES = 16
COLUMNS = 4
#: Image pixels from one tile to the next: (rows, columns); the extra rows hold the caption.
TILE_PITCH = (46, 32)
#: The longest name under the first tile (the width of "epoch 10" at 8 pt).
ORIGIN_CHARS = 9
FRAME_GREY = 185           # around each tile, so white (no evidence) keeps its edges
TIP = ("<p>Pin a drawing, then train on the Train tab: after every epoch its Grad-CAM "
       "(at the layer chosen when pinned) and the network's answer are added here. "
       "The first tile is the model the session started from{origin}.</p>")


def origin_caption(description):
    """A tile-wide name for the weights a session started from, by its description.

    "shipped model.npz (validation accuracy 98.8%)" -> "shipped", "random weights
    (seed 0)" -> "random", "epoch4.npz (...)" -> "epoch4.npz" (cut to fit): the
    shipped model is trained, so "epoch 0" under it said the opposite.
    """
    if not description:
        return "start"
    first = description.split(" (")[0]
    if first.startswith("shipped"):
        return "shipped"
    if first.startswith("random"):
        return "random"
    return first if len(first) <= ORIGIN_CHARS else first[:ORIGIN_CHARS - 1] + "…"


class LearningStrip(QWidget):
    """A pin button and one mosaic of the pinned drawing's CAM per epoch, captioned.

    Signals
    -------
    pin_toggled(bool) : the person pinned (True) or unpinned the drawing.
    """

    pin_toggled = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._shown = None          # (digit, frames) on show
        self._origin = ""           # the description of the session's first weights
        self.pin = QPushButton("Pin this drawing", objectName="pin", checkable=True)
        self.pin.setToolTip(TIP.format(origin=""))
        self.pin.toggled.connect(self._toggled)
        self.note = QLabel("Pin a drawing, then train: its Grad-CAM is added after every epoch.",
                           wordWrap=True)
        muted(self.note)
        self.frames = []        # (epoch, predicted, probability), as shown
        view = self.view = pg.GraphicsLayoutWidget()
        view.setToolTip(TIP.format(origin=""))
        self.box, self.image = image_view(view, 0, 0)
        colour_bar(view, 0, 1)
        # Captions are made once and reused: one per place in the grid.
        self.captions = []
        for index in range(MAX_FRAMES):
            caption = pg.TextItem("", color="#333", anchor=(0.5, 0))
            font = caption.textItem.font()
            font.setPointSizeF(8)
            caption.setFont(font)
            caption.setPos(*self._caption_position(index))
            self.box.addItem(caption)
            self.captions.append(caption)
        row = QHBoxLayout()
        row.addWidget(self.pin)
        row.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(view, 1)

    @staticmethod
    def _caption_position(index):
        row, col = divmod(index, COLUMNS)
        return col * TILE_PITCH[1] + 15, row * TILE_PITCH[0] + 30.5

    def _toggled(self, pinned):
        self.pin.setText("Unpin" if pinned else "Pin this drawing")
        self.pin_toggled.emit(pinned)

    def changeEvent(self, event):
        """A new theme: the frames again, on its paper and background."""
        if event.type() == QEvent.Type.PaletteChange and self._shown is not None:
            self.show_frames(*self._shown)
        super().changeEvent(event)

    @Slot(str)
    def set_origin(self, description):
        """Name the first tile after the weights the session started from."""
        self._origin = description
        tip = TIP.format(origin=f": {description}" if description else "")
        self.pin.setToolTip(tip)
        self.view.setToolTip(tip)
        if self._shown is not None:
            self.show_frames(*self._shown)

    @Slot(object, object)
    def show_frames(self, digit, frames):
        """Show ``frames``: a list of ``(epoch, heatmap (28, 28), predicted, probability)``.

        An empty list clears the strip.
        """
        frames = list(frames)[-MAX_FRAMES:]
        self._shown = (digit, frames)
        background, text = plot_colours()
        self.frames = [(epoch, predicted, p) for epoch, _, predicted, p in frames]
        for index, caption in enumerate(self.captions):
            if index < len(frames):
                epoch, predicted, p = self.frames[index]
                name = origin_caption(self._origin) if epoch == 0 else f"epoch {epoch}"
                caption.setText(f"{name}\n{predicted} ({p:.0%})")
                caption.setColor(text)
            else:
                caption.setText("")
        if not frames:
            self.image.clear()
            return
        rows = -(-len(frames) // COLUMNS)
        # The plot's own background between tiles, so the strip follows the theme.
        grid = np.full((rows * TILE_PITCH[0], min(len(frames), COLUMNS) * TILE_PITCH[1], 3),
                       QColor(background).getRgb()[:3], np.uint8)
        for index, (_, heat, _, _) in enumerate(frames):
            row, col = divmod(index, COLUMNS)
            top, left = row * TILE_PITCH[0], col * TILE_PITCH[1]
            grid[top:top + 30, left:left + 30] = FRAME_GREY
            grid[top + 1:top + 29, left + 1:left + 29] = heat_over_digit(digit, heat)
        self.image.setImage(grid, autoLevels=False, levels=(0, 255))
        self.box.setRange(xRange=(0, COLUMNS * TILE_PITCH[1]),
                          yRange=(0, max(rows, 2) * TILE_PITCH[0]), padding=0.02)
