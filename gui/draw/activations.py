"""The activation maps of every layer, one mosaic image per layer; click one to enlarge it.

The layers read in network order, left to right and then down, as text does.
Each layer is shown after its ReLU (or pooling), where the values are
non-negative, on levels from 0 to the layer's largest value, so the
brightest tile of a layer is the channel that fires most; a colour bar beside
each mosaic gives that scale.
"""
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..images import ACTIVATION_COLOUR_MAP, GAP_BACKGROUND, image_view, mosaic, tile_at
from ..style import level_bar, nice_top, set_bar_levels

#: The clicked channel's outline: Okabe-Ito vermillion, clear on viridis' blues and yellows.
OUTLINE_COLOUR = "#D55E00"

TIP = ("<p>Every channel of every layer for the current drawing, brighter is stronger. "
       "Click a channel to enlarge it (and to choose it for feature visualisation).</p>")
MAX_COLUMNS = 16
ZOOM_TITLE_WIDTH = 110      # pixels


def unit_rows(units):
    """A dense layer's ``units (F,)`` as one small image ``(1, rows, columns)``,
    :data:`MAX_COLUMNS` to a row (fewer if there are fewer units), the rest of
    the last row NaN: a gap, as between a mosaic's tiles."""
    columns = min(MAX_COLUMNS, units.size)
    padded = np.full(-(-units.size // columns) * columns, np.nan, np.float32)
    padded[:units.size] = units
    return padded.reshape(1, -1, columns)


def shown_layers(network):
    """The layers whose outputs are shown: every ReLU and pooling layer, in order.

    Returns
    -------
    list of (str, str)
        ``(layer name, caption)``; a ReLU is captioned with the layer it rectifies.
    """
    shown, previous = [], None
    for layer in network.layers:
        kind = type(layer).__name__
        if kind == "ReLU":
            shown.append((layer.name, f"{previous} + ReLU"))
        elif kind == "MaxPool2D":
            shown.append((layer.name, f"{layer.name} (max-pool)"))
        previous = layer.name
    return shown


class ActivationGrids(QWidget):
    """A mosaic per layer, stacked, and one channel enlarged.

    Parameters
    ----------
    layers : list of (str, str)
        ``(layer name, caption)`` from :func:`shown_layers`.

    Signals
    -------
    channel_clicked(str, int) : a map layer's channel was clicked.
    """

    channel_clicked = Signal(str, int)

    def __init__(self, layers, parent=None):
        super().__init__(parent)
        self.layers = list(layers)
        self._captions = dict(self.layers)
        self.images, self.colour_bars, self._titles, self._shapes = {}, {}, {}, {}
        self.outlines = {}
        self.enlarged = None              # (layer, channel)
        self._outputs = None
        colour_map = pg.colormap.get(ACTIVATION_COLOUR_MAP)
        view = pg.GraphicsLayoutWidget()
        view.setToolTip(TIP)
        # Two columns of layers in network order, row by row, each mosaic with its
        # colour bar to the right, and the enlarged channel in the last slot.
        for index, (name, caption) in enumerate(self.layers):
            row, col = divmod(index, 2)
            self._titles[name] = view.addLabel(caption, row=2 * row, col=2 * col, colspan=2,
                                               size="8pt")
            image = image_view(view, 2 * row + 1, 2 * col, background=GAP_BACKGROUND)[1]
            image.setColorMap(colour_map)
            image.clicked.connect(lambda x, y, name=name: self._clicked(name, x, y))
            self.images[name] = image
            self.colour_bars[name] = level_bar(view, 2 * row + 1, 2 * col + 1, colour_map)
            self.outlines[name] = self._outline(image)
        row, col = divmod(len(self.layers), 2)
        self.zoom_title = view.addLabel("", row=2 * row, col=2 * col, colspan=2, size="8pt")
        # Wrapped, so its long caption does not make its column wider than the other.
        self.zoom_title.item.setTextWidth(ZOOM_TITLE_WIDTH)
        self.zoom_title.setText("click a channel to enlarge it", size="8pt")
        self.zoom_box, self.zoom = image_view(view, 2 * row + 1, 2 * col,
                                              background=GAP_BACKGROUND)
        self.zoom.setColorMap(colour_map)
        self.zoom_bar = level_bar(view, 2 * row + 1, 2 * col + 1, colour_map)
        # Both columns of mosaics equally wide, whatever their titles and bars need.
        for column in (0, 2):
            view.ci.layout.setColumnStretchFactor(column, 1)
        self.zoom_bar.setVisible(False)         # no scale until a channel is enlarged
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)

    @staticmethod
    def _outline(image):
        """A frame, hidden until a channel of ``image``'s mosaic is enlarged."""
        outline = pg.QtWidgets.QGraphicsRectItem()
        outline.setPen(pg.mkPen(OUTLINE_COLOUR, width=2, cosmetic=True))
        outline.setZValue(1)
        outline.setVisible(False)
        image.getViewBox().addItem(outline)
        return outline

    @staticmethod
    def _columns(count):
        """Tiles per row: the power of two at or above sqrt(count), so a mosaic is
        square or 2:1 (16 and 64 channels 4×4 and 8×8; 8 and 32 channels 4×2 and
        8×4), which fills the square boxes the layers get."""
        return min(MAX_COLUMNS, 2 ** math.ceil(math.log2(math.sqrt(count))))

    @Slot(object)
    def show_outputs(self, outputs):
        """Show ``{layer: (C, H, W) or (F,)}`` (an Analysis's ``activations``)."""
        self._outputs = outputs
        for name, _ in self.layers:
            value = outputs[name]
            maps = value if value.ndim == 3 else unit_rows(value)
            levels = (0, nice_top(np.nanmax(maps)))
            tiles = mosaic(maps, self._columns(len(maps)))
            resized = self._shapes.get(name) != tiles.shape
            self.images[name].setImage(tiles, autoLevels=False, levels=levels)
            set_bar_levels(self.colour_bars[name], levels)
            self._shapes[name] = tiles.shape
            if resized:
                self.images[name].getViewBox().autoRange(padding=0.01)
        self._show_zoom()

    @Slot()
    def show_empty(self):
        """Nothing drawn: every map dark."""
        if self._outputs is not None:
            self.show_outputs({name: np.zeros_like(value)
                               for name, value in self._outputs.items()})

    def enlarge(self, layer, channel):
        """Show one channel of a map layer large, from now on."""
        self.enlarged = (layer, channel)
        self._show_zoom()

    def _clicked(self, name, x, y):
        if self._outputs is None or self._outputs[name].ndim != 3:
            return          # dense units have no map to enlarge
        maps = self._outputs[name]
        channel = tile_at(x, y, maps.shape[1:], self._columns(len(maps)), len(maps))
        if channel is not None:
            self.enlarge(name, channel)
            self.channel_clicked.emit(name, channel)

    def _show_zoom(self):
        if self.enlarged is None or self._outputs is None:
            return
        name, channel = self.enlarged
        maps = self._outputs[name]
        self._mark(name, channel, maps.shape)
        resized = self.zoom.image is None or self.zoom.image.shape != maps.shape[1:]
        # The layer's levels, so an enlarged channel is as bright as its tile.
        levels = (0, nice_top(maps.max()))
        self.zoom.setImage(maps[channel], autoLevels=False, levels=levels)
        set_bar_levels(self.zoom_bar, levels)
        self.zoom_bar.setVisible(True)
        # Named as its tile's mosaic is ("<conv layer> + ReLU", not the ReLU's own name).
        self.zoom_title.setText(f"{self._captions[name]} · channel {channel}: "
                                f"max {maps[channel].max():.2f}", size="8pt")
        if resized:
            self.zoom.getViewBox().autoRange(padding=0.01)

    def _mark(self, name, channel, shape):
        """Outline tile ``channel`` of layer ``name``'s mosaic (maps ``shape (C, H, W)``)."""
        count, height, width = shape
        row, col = divmod(channel, self._columns(count))
        # Drawn in the one-pixel gap around the tile, so it covers none of the map.
        self.outlines[name].setRect(col * (width + 1) - 0.5, row * (height + 1) - 0.5,
                                    width + 1, height + 1)
        for layer, outline in self.outlines.items():
            outline.setVisible(layer == name)
