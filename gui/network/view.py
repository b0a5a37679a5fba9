"""The network view: every layer's output for the drawing, a column each, left to right.

One ViewBox holds the whole flow.  Every column is one item made once (a
mosaic ImageItem for maps, a strip ImageItem for many units, a BarGraphItem
for ten), and each drawing only updates them (``setImage(...,
autoLevels=False)``, ``setOpts``).  Hovering names the value under the
pointer; a click selects a value and draws what it is computed from; a double
click asks for the computation step by step.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Signal
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsPathItem, QGraphicsSimpleTextItem, QLabel,
                               QSizePolicy, QVBoxLayout, QWidget)

from ..images import mosaic
from ..style import CURSOR_COLOUR, muted, plot_colours
from . import layout
from .columns import MEANINGS, column_values, network_columns
from .scales import colour_map, levels, scale_text

TEXT_UNITS = 10          # label height in view units: labels scale with the maps
HOVER_HINT = ("Hover over a value to read it; click one to see what it is computed from, "
              "double-click (or Step by step) to see the computation.")
EMPTY_NOTE = "Draw a digit: the network view follows the canvas."


class ViewText(QGraphicsSimpleTextItem):
    """Words that scale with the view (pyqtgraph's TextItem keeps its screen size, so
    labels would overlap in a small window), placed by an anchor point.

    Cached as a pixmap: labels rarely change and text is dear to paint.
    """

    def __init__(self, words, x, y, anchor):
        super().__init__(words)
        self.point, self.anchor = (x, y), anchor
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._place()

    def setText(self, words):
        super().setText(words)
        self._place()

    def setFont(self, font):
        super().setFont(font)
        self._place()

    def _place(self):
        rect = self.boundingRect()
        self.setPos(self.point[0] - self.anchor[0] * rect.width(),
                    self.point[1] - self.anchor[1] * rect.height())


def describe(column, element, value):
    """One line naming a value: ``"conv2 channel 3, row 5, column 7: pre-activation -0.532"``."""
    return f"{column.name} {column.where(element)}: {MEANINGS[column.kind]} {value:.4g}"


class ColumnItems:
    """The graphics items of one column: its values, its colour bar and the bar's words."""

    def __init__(self, box, column, place, text):
        self.column, self.place = column, place
        self.colour_map = colour_map(column)
        self.levels = None
        self.outline = pg.mkPen(plot_colours()[1], width=1, cosmetic=True)
        if column.is_maps or column.shape[0] > layout.MAX_ROWS:
            self.values = pg.ImageItem(axisOrder="row-major")
            self.values.setColorMap(self.colour_map)
            self._show_image(self._arranged(np.zeros(column.shape, np.float32)), (0, 1))
            self.values.setRect(QRectF(place.left, place.top, place.width, place.height))
        else:
            self.values = pg.BarGraphItem(x0=[0], y0=[0], width=[0], height=[0])
            for unit in range(column.shape[0]):
                text(str(unit), place.left, place.top + (unit + 0.5) * place.scale, (0, 0.5))
        box.addItem(self.values)
        self._add_scale(box)
        self.scale_label = text("", place.centre, layout.SCALE_TOP + layout.SCALE_HEIGHT,
                                (0.5, 0))

    def _add_scale(self, box):
        bar = pg.ImageItem(np.linspace(0, 1, 64)[None, :], axisOrder="row-major",
                           levels=(0, 1))
        bar.setColorMap(self.colour_map)
        left = self.place.centre - layout.MIN_SLOT / 2
        bar.setRect(QRectF(left, layout.SCALE_TOP, layout.MIN_SLOT, layout.SCALE_HEIGHT))
        bar.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)     # never changes
        box.addItem(bar)

    def _arranged(self, values):
        """Maps as one mosaic, many units as a one-pixel-wide strip."""
        if self.column.is_maps:
            return mosaic(values, self.place.grid[0])
        return values.reshape(-1, 1)

    def _show_image(self, image, pair):
        self.values.setImage(image, autoLevels=False, levels=pair)

    def show(self, values):
        """Show ``values`` (the column's shape) on the column's scale."""
        pair = levels(self.column, values)
        if isinstance(self.values, pg.ImageItem):
            self._show_image(self._arranged(values), pair)
        else:
            self._show_bars(values, pair)
        if pair != self.levels:
            self.levels = pair
            self.scale_label.setText(scale_text(*pair))

    def _show_bars(self, values, pair):
        low, high = pair
        origin = self.place.left + layout.LABEL_SPACE
        if low < 0:     # signed: bars grow both ways from the middle
            origin += layout.BAR_WIDTH / 2
        lengths = values / high * (layout.BAR_WIDTH / 2 if low < 0 else layout.BAR_WIDTH)
        colours = self.colour_map.map((np.asarray(values) - low) / (high - low), mode="qcolor")
        tops = self.place.top + np.arange(len(values)) * self.place.scale + 3
        self.values.setOpts(x0=origin + np.minimum(lengths, 0), width=np.abs(lengths), y0=tops,
                            height=self.place.scale - 6, brushes=colours,
                            pen=self.outline)


class NetworkView(QWidget):
    """Every column of the network for one image, with hover, selection and its sources.

    Signals
    -------
    selected(str, object) : a value was clicked: column name and element
        (``(channel, row, col)`` or ``(unit,)``).
    opened(str, object) : a value was double-clicked.
    """

    selected = Signal(str, object)
    opened = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.columns, self.items, self.values = [], {}, None
        self.architecture = None
        self.selection = None               # (column name, element)
        self.hover = muted(QLabel(HOVER_HINT))
        # Long lines are cut rather than widening the window.
        self.hover.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.graphics = pg.GraphicsView()
        self.box = pg.ViewBox(lockAspect=True, enableMouse=False, invertY=True,
                              defaultPadding=0.01)
        self.box.setMenuEnabled(False)
        self.graphics.setCentralItem(self.box)
        self.graphics.scene().sigMouseMoved.connect(self._hovered)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        box_layout = QVBoxLayout(self)     # the hover line goes where the panel puts it
        box_layout.setContentsMargins(0, 0, 0, 0)
        box_layout.addWidget(self.graphics, 1)

    # --- building -----------------------------------------------------------------------

    def set_architecture(self, architecture):
        """Build the columns for ``architecture`` (nothing happens if it is the one shown)."""
        if architecture == self.architecture:
            return
        self.architecture = [dict(spec) for spec in architecture]
        self.box.clear()
        self.columns = self.make_columns(architecture)
        self.by_name = {column.name: column for column in self.columns}
        self.places, width = layout.column_places(self.columns)
        self._texts = []
        self.items = {column.name: ColumnItems(self.box, column, self.places[column.name],
                                               self._text)
                      for column in self.columns}
        self._add_headers()
        self.links = QGraphicsPathItem()
        self.links.setPen(pg.mkPen(CURSOR_COLOUR, width=1.5, cosmetic=True))
        self.links.setZValue(5)
        self.box.addItem(self.links)
        self.selection = self.values = None
        self.box.setRange(QRectF(0, layout.HEADER_TOP, width,
                                 layout.SCALE_TOP + 24 - layout.HEADER_TOP), padding=0.01)

    def make_columns(self, architecture):
        """The columns to draw for ``architecture`` (the backward view draws others)."""
        return network_columns(architecture)

    def _text(self, words, x, y, anchor, bold=False):
        """A label at view point ``(x, y)``, ``anchor`` a fraction of its size as in
        pyqtgraph's TextItem, in the palette's text colour (see :meth:`changeEvent`)."""
        item = ViewText(words, x, y, anchor)
        font = item.font()
        font.setPixelSize(TEXT_UNITS)
        font.setBold(bold)
        item.setFont(font)
        item.setBrush(QColor(plot_colours()[1]))
        self.box.addItem(item)
        self._texts.append(item)
        return item

    def _add_headers(self):
        for group in layout.header_groups(self.columns):
            centre = sum(self.places[column.name].centre for column in group) / len(group)
            self._text(" + ".join(column.name for column in group), centre,
                       layout.HEADER_TOP, (0.5, 0), bold=True)
            self._text(group[0].shape_text, centre, layout.HEADER_TOP + 13, (0.5, 0))
            for column in group:
                self._text(column.operation, self.places[column.name].centre,
                           layout.DATA_TOP - 1, (0.5, 1))

    def changeEvent(self, event):
        """Labels follow the theme (a graphics item keeps the colour it was given)."""
        if event.type() == QEvent.Type.PaletteChange:
            text = QColor(plot_colours()[1])
            for item in getattr(self, "_texts", ()):
                item.setBrush(text)
            for items in self.items.values():       # bar outlines, from the next pass on
                items.outline.setColor(text)
        super().changeEvent(event)

    # --- showing ------------------------------------------------------------------------

    def show_pass(self, architecture, image, outputs, probabilities):
        """Show one image's pass.

        Parameters
        ----------
        architecture : list of dict
            The network's layer specs.
        image : ndarray, (28, 28)
        outputs : dict of str to ndarray
            Every layer's output, ``(C, H, W)`` or ``(F,)``, by layer name.
        probabilities : ndarray, (K,)
        """
        self.set_architecture(architecture)
        self.values = column_values(self.columns, image, outputs, probabilities)
        if self.hover.text() == EMPTY_NOTE:
            self.hover.setText(HOVER_HINT)
        for name, items in self.items.items():
            items.show(np.asarray(self.values[name], np.float32))
        self._draw_links()

    # --- pointing -----------------------------------------------------------------------

    def element_at(self, scene_pos):
        """``(column name, element)`` under a scene position, or None."""
        point = self.box.mapSceneToView(scene_pos)
        for column in self.columns:
            element = layout.element_at(column, self.places[column.name], point.x(), point.y())
            if element is not None:
                return column.name, element
        return None

    def _hovered(self, scene_pos):
        hit = self.element_at(scene_pos) if self.values is not None else None
        if hit is None:
            self.hover.setText(HOVER_HINT)
            return
        name, element = hit
        self.hover.setText(describe(self.by_name[name], element,
                                    float(self.values[name][element])))

    def _clicked(self, event):
        hit = self.element_at(event.scenePos()) if self.values is not None else None
        if hit is None:
            return
        self.select(*hit)
        if event.double():
            self.opened.emit(*hit)

    def select(self, name, element):
        """Select ``element`` of column ``name`` and draw the values it is computed from."""
        self.selection = (name, tuple(element))
        self._draw_links()
        self.selected.emit(name, self.selection[1])

    def _draw_links(self):
        path = QPainterPath()
        if self.selection is not None:
            name, element = self.selection
            column = self.by_name[name]
            left, top, width, height = layout.element_rect(column, self.places[name], element)
            path.addRect(QRectF(left - 1, top - 1, width + 2, height + 2))
            if column.source is not None:
                source = self.by_name[column.source]
                for rect in layout.source_rects(column, element, source,
                                                self.places[source.name]):
                    x, y, w, h = rect
                    path.addRect(QRectF(x, y, w, h))
                    path.moveTo(x + w, y + h / 2)
                    path.lineTo(left, top + height / 2)
        self.links.setPath(path)
