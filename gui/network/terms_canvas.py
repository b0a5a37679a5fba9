"""Rows of small number grids and words, painted: the arithmetic of one output value.

A conv value of conv4 has 32 input channels × 3 grids × 9 numbers; as QLabels
that would be close to a thousand widgets, rebuilt on every animation frame.
One widget paints them instead, and only the rows in sight.
"""
import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..images import lookup_table

CELL_WIDTH, CELL_HEIGHT = 46, 19
ROW_GAP = 10
MARK_COLOUR = QColor("#CC79A7")         # the app's cursor colour: the max-pool winner


class Grid:
    """A matrix of numbers on coloured cells.

    Parameters
    ----------
    values : ndarray, (rows, cols)
    colours : ndarray, uint8, (rows, cols, 3)
        Each cell's background.
    mark : (int, int) or None
        A cell to outline (the winner of a max-pool window).
    digits : int
        Decimals shown.
    """

    def __init__(self, values, colours, mark=None, digits=2):
        self.values, self.colours, self.mark, self.digits = values, colours, mark, digits

    def size(self):
        """``(width, height)`` in pixels."""
        rows, cols = self.values.shape
        return cols * CELL_WIDTH, rows * CELL_HEIGHT

    def paint(self, painter, left, top):
        """Draw the grid with its top-left corner at ``(left, top)``."""
        rows, cols = self.values.shape
        for row in range(rows):
            for col in range(cols):
                rect = QRectF(left + col * CELL_WIDTH, top + row * CELL_HEIGHT,
                              CELL_WIDTH - 1, CELL_HEIGHT - 1)
                red, green, blue = (int(c) for c in self.colours[row, col])
                painter.fillRect(rect, QColor(red, green, blue))
                # Dark text on light cells, light on dark (luma, ITU-R BT.601).
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 140
                painter.setPen(Qt.GlobalColor.black if light else Qt.GlobalColor.white)
                text = f"{self.values[row, col]:.{self.digits}f}".replace("-", "−")
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        if self.mark is not None:
            row, col = self.mark
            painter.setPen(QPen(MARK_COLOUR, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(left + col * CELL_WIDTH, top + row * CELL_HEIGHT,
                                    CELL_WIDTH - 1, CELL_HEIGHT - 1))


def colours_of(values, colour_map, low, high):
    """``(rows, cols, 3)`` uint8 colours of ``values`` on the colour map named ``colour_map``
    between the levels.

    Through a 256-entry lookup table: an animation frame colours hundreds of cells.
    """
    scaled = (np.asarray(values, float) - low) / ((high - low) or 1.0)
    return lookup_table(colour_map)[np.clip(scaled * 255, 0, 255).astype(np.uint8)]


class TermsCanvas(QWidget):
    """Paints rows of pieces: words (str) and :class:`Grid` objects, left to right."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows, self._widths, self._heights = [], [], []
        self._size = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_rows(self, rows):
        """Show ``rows`` (a list of lists of str and Grid) from now on."""
        self.rows = rows
        metrics = self.fontMetrics()
        self._widths = [[piece.size()[0] if isinstance(piece, Grid)
                         else metrics.horizontalAdvance(piece) + 12 for piece in row]
                        for row in rows]
        self._heights = [max([piece.size()[1] if isinstance(piece, Grid) else metrics.height()
                              for piece in row] or [0]) for row in rows]
        size = self.sizeHint()
        if size != self._size:          # the frames of an animation keep their size
            self._size = size
            self.updateGeometry()
            self.setMinimumSize(size)
        self.update()

    def sizeHint(self):
        width = max([sum(widths) for widths in self._widths] or [0])
        return QSize(width + 8, sum(self._heights) + ROW_GAP * len(self.rows))

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setFont(QFont(self.font()))
        visible, top = event.rect(), 0
        for row, widths, height in zip(self.rows, self._widths, self._heights):
            if top + height >= visible.top() and top <= visible.bottom():
                self._paint_row(painter, row, widths, top, height)
            top += height + ROW_GAP
        painter.end()

    def _paint_row(self, painter, row, widths, top, height):
        left = 4
        for piece, width in zip(row, widths):
            if isinstance(piece, Grid):
                piece.paint(painter, left, top + (height - piece.size()[1]) / 2)
            else:
                painter.setPen(self.palette().color(self.foregroundRole()))
                painter.drawText(QRectF(left, top, width, height),
                                 Qt.AlignmentFlag.AlignCenter, piece)
            left += width
