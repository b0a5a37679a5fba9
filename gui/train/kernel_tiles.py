"""A stack of small kernels drawn as large tiles in one image, numbers in the cells.

Each cell is drawn as a block of image pixels, so the gaps between tiles (one
pixel) are thin next to the tiles.  The tiles are re-arranged (rows × columns) whenever the box changes size, so
they are as large as the box allows; the cells carry their numbers once they
are big enough to hold them.
"""
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont

from ..images import mosaic
from .kernel_data import cell_at, fit_grid

#: A cell this many screen pixels wide shows its number ("-0.12" at 7 pt).
NUMBER_MIN_PIXELS = 32
#: Image pixels per kernel cell (the gap between tiles is one pixel).
CELL = 8
#: Above this share of the level limit a cell is dark on the diverging map: white text.
DARK_CELL = 0.55
TEXT_COLOURS = ("#000000", "#ffffff")
NUMBER_POINTS = 7


class KernelTiles:
    """Kernels ``(n, k, k)`` in a locked-aspect box, tiled to fill it.

    Parameters
    ----------
    box : pg.ViewBox
        Locked aspect, y pointing down.
    image : pg.ImageItem
        In ``box``, with the colour map already set.
    """

    def __init__(self, box, image):
        self.box, self.image = box, image
        self.kernels = None        # (n, k, k)
        self.levels = (-1.0, 1.0)
        self.columns = 1
        self._texts = []
        # The box fits the tiles itself, on every new image and resize.
        box.setDefaultPadding(0.02)
        box.enableAutoRange()
        box.sigResized.connect(self._relayout)
        # Whether the numbers fit depends on the cells' size on the screen.
        box.sigRangeChanged.connect(self._write_numbers)

    def show(self, kernels, levels):
        """Draw ``kernels (n, k, k)`` on ``levels`` (low, high)."""
        kernels = np.asarray(kernels, np.float32)
        reshaped = self.kernels is None or self.kernels.shape != kernels.shape
        self.kernels, self.levels = kernels, levels
        if reshaped:
            self._relayout(force=True)
        else:
            self.image.setImage(self._mosaic(), autoLevels=False, levels=levels)
            self._write_numbers()

    def cell_at(self, x, y):
        """``(tile, row, col)`` under image pixel ``(x, y)``, or None."""
        if self.kernels is None:
            return None
        found = cell_at(x, y, self.kernels.shape[1] * CELL, self.columns, len(self.kernels))
        return None if found is None else (found[0], found[1] // CELL, found[2] // CELL)

    def cell_pixels(self):
        """How wide one kernel cell is on the screen, in pixels."""
        width, _ = self.box.viewPixelSize()
        return CELL / width if width > 0 else 0.0

    def _mosaic(self):
        blocks = np.repeat(np.repeat(self.kernels, CELL, axis=1), CELL, axis=2)
        return mosaic(blocks, self.columns)

    def _relayout(self, *_, force=False):
        if self.kernels is None:
            return
        size = self.box.size()
        _, columns = fit_grid(len(self.kernels), size.width(), size.height(),
                              gap_fraction=1 / (self.kernels.shape[1] * CELL))
        if columns != self.columns or force:
            self.columns = columns
            self.image.setImage(self._mosaic(), autoLevels=False, levels=self.levels)
        self._place_numbers()

    def _place_numbers(self):
        """One text item per cell, re-used; extra ones hidden."""
        count, side, _ = self.kernels.shape
        while len(self._texts) < count * side * side:
            text = pg.TextItem(anchor=(0.5, 0.5))
            text.setFont(QFont(text.textItem.font().family(), NUMBER_POINTS))
            text.setZValue(2)
            self.box.addItem(text, ignoreBounds=True)
            self._texts.append(text)
        for index, text in enumerate(self._texts):
            tile, cell = divmod(index, side * side)
            if tile < count:
                tile_row, tile_col = divmod(tile, self.columns)
                row, col = divmod(cell, side)
                text.setPos(tile_col * (side * CELL + 1) + (col + 0.5) * CELL,
                            tile_row * (side * CELL + 1) + (row + 0.5) * CELL)
        self._write_numbers()

    def _write_numbers(self, *_):
        if self.kernels is None:
            return
        visible = self.cell_pixels() >= NUMBER_MIN_PIXELS
        limit = max(abs(self.levels[0]), abs(self.levels[1])) or 1.0
        # Two significant digits of the layer's largest value: small changes still read.
        digits = max(2, 1 - math.floor(math.log10(limit)))
        values = np.round(self.kernels.reshape(-1), digits)
        for index, text in enumerate(self._texts):
            shown = visible and index < values.size
            text.setVisible(shown)
            if shown:
                value = float(values[index])
                text.setText(f"{value:.{digits}f}" if value else "0",
                             color=TEXT_COLOURS[abs(value) > DARK_CELL * limit])
