"""One conv output value step by step, and the kernel sliding to make the whole map.

Above: one input channel with the 3×3 window on it, and the output map as
far as the kernel has got.  Below: for every input channel, its patch ×
the kernel = the products, summed; then all channels, plus the bias, the
ReLU, and the result, which is the value the network view shows.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import (QGraphicsRectItem, QHBoxLayout, QLabel, QPushButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from ..images import FRAME_COLOUR
from ..style import CURSOR_COLOUR, KERNEL_COLOUR_MAP
from .animation import SlidingKernel
from .arithmetic import conv_terms
from .scales import colour_map, colour_map_name, levels, signed_text
from .terms_canvas import Grid, TermsCanvas, colours_of


def conv_rows(terms, source_name, source_map, diverging):
    """The canvas rows of :class:`~.arithmetic.ConvTerms`: one per input channel.

    ``source_map`` is ``(colour map name, low, high)`` for the patches; the kernel
    and the products are on the colour map named ``diverging``, each centred at zero and
    scaled to its largest magnitude (shared by all channels).
    """
    products_top = max(float(np.abs(terms.products).max()), 1e-6)
    kernel_top = max(float(np.abs(terms.kernel).max()), 1e-6)
    rows = []
    for channel, (patch, kernel, products, share) in enumerate(zip(
            terms.patches, terms.kernel, terms.products, terms.channel_sums)):
        rows.append([f"{source_name} ch {channel}",
                     Grid(patch, colours_of(patch, *source_map)), "×",
                     Grid(kernel, colours_of(kernel, diverging, -kernel_top, kernel_top)), "=",
                     Grid(products, colours_of(products, diverging, -products_top,
                                               products_top)),
                     f"sum {signed_text(share)}"])
    return rows


def conv_summary(terms, column, shown_value):
    """The last line of the sum, as rich text: channels, + bias, ReLU, and the map's value."""
    relu = (f" → ReLU: max(0, {signed_text(terms.pre_activation)}) = "
            f"{terms.rectified:.3f}")
    return (f"Σ over {len(terms.channel_sums)} channel(s) {signed_text(terms.total)} "
            f"+ bias {signed_text(terms.bias)} = <b>{signed_text(terms.pre_activation)}</b>"
            f"{relu}<br>The {column.name} map shows <b>{signed_text(shown_value)}</b> here "
            f"(before its ReLU; the next column shows it after).")


class ConvDetail(QWidget):
    """The computation of one conv value, with play / pause / step.

    Signals
    -------
    moved(int, int) : the kernel moved to output row, column.
    """

    moved = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.terms, self.column = None, None
        self.slider = SlidingKernel(self)
        self.slider.moved.connect(self._moved)
        self.play_button = QPushButton("Play", checkable=True,
                                       toolTip="Slide the kernel over the input, a pixel at "
                                               "a time")
        self.step_button = QPushButton("Step", toolTip="Move the kernel one output pixel on")
        self.play_button.toggled.connect(self.slider.set_playing)
        self.slider.playing_changed.connect(
            lambda on: self.play_button.setText("Pause" if on else "Play"))
        self.step_button.clicked.connect(self.slider.step)
        self.channel_box = QSpinBox(prefix="input channel ", toolTip="The input channel drawn "
                                    "on the left (every channel is in the sum below)")
        self.channel_box.valueChanged.connect(lambda _: self._draw_maps())
        self.pictures = pg.GraphicsLayoutWidget()
        self.pictures.setFixedHeight(170)
        self.input_title = self.pictures.addLabel("", row=0, col=0, size="8pt")
        self.output_title = self.pictures.addLabel("", row=0, col=1, size="8pt")
        self.input_image = self._map_box(1, 0)
        self.output_image = self._map_box(1, 1)
        self.window = QGraphicsRectItem()
        self.window.setPen(pg.mkPen(CURSOR_COLOUR, width=2, cosmetic=True))
        self.window.setZValue(2)
        self.input_image.getViewBox().addItem(self.window)
        # The output map's extent, while the kernel has filled only part of it.
        self.output_frame = QGraphicsRectItem()
        self.output_frame.setPen(pg.mkPen(FRAME_COLOUR, width=1, cosmetic=True))
        self.output_pixel = QGraphicsRectItem()       # where the window's sum goes
        self.output_pixel.setPen(self.window.pen())
        for item in (self.output_frame, self.output_pixel):
            self.output_image.getViewBox().addItem(item)
        self.canvas = TermsCanvas()
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.canvas)
        self.summary = QLabel(wordWrap=True)
        controls = QHBoxLayout()
        for widget in (self.play_button, self.step_button, self.channel_box):
            controls.addWidget(widget)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.pictures)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.summary)

    def _map_box(self, row, col):
        box = self.pictures.addViewBox(row=row, col=col, lockAspect=True, enableMouse=False,
                                       invertY=True)
        box.setMenuEnabled(False)
        image = pg.ImageItem(axisOrder="row-major")
        box.addItem(image)
        return image

    def show_value(self, column, source, values, weights, element):
        """Explain ``element (channel, row, col)`` of conv ``column``.

        Parameters
        ----------
        column, source : Column
            The conv column and the one it reads.
        values : dict of str to ndarray
            Every column's values for the image.
        weights : dict of str to ndarray
            ``"<name>.weight" (F, C, 3, 3)`` and ``"<name>.bias" (F,)``.
        """
        self.column, self.source, self.channel = column, source, element[0]
        height, width = column.shape[1:]
        self.slider.reset((height, width), element[1:])
        self.output_frame.setRect(QRectF(0, 0, width, height))
        self._take(values, weights)
        terms = self._terms(*element[1:])
        self.channel_box.blockSignals(True)
        self.channel_box.setRange(0, source.shape[0] - 1)
        self.channel_box.setValue(int(np.argmax(np.abs(terms.channel_sums))))
        self.channel_box.blockSignals(False)
        self.output_image.setColorMap(pg.colormap.get(KERNEL_COLOUR_MAP))
        self.input_image.setColorMap(colour_map(source))
        self._show(terms)
        self.output_image.getViewBox().autoRange(padding=0.02)
        self.input_image.getViewBox().autoRange(padding=0.02)

    def refresh(self, values, weights):
        """A new pass (a stroke, another model): the same value, and the kernel where it is,
        playing on if it plays."""
        self._take(values, weights)
        self._show(self._terms(*self.slider.position))

    def _take(self, values, weights):
        self.values = values
        self.weight = weights[f"{self.column.name}.weight"]
        self.bias = weights[f"{self.column.name}.bias"]
        # As if the kernel had slid here: the map is filled up to this pixel.
        height, width = self.column.shape[1:]
        upto = self.slider.position[0] * width + self.slider.position[1]
        self.filled = np.full((height, width), np.nan, np.float32)
        self.filled.flat[:upto] = values[self.column.name][self.channel].flat[:upto]

    def _terms(self, row, col):
        source_maps = self.values[self.source.name]
        return conv_terms(source_maps, self.weight, self.bias, self.channel, row, col)

    def _moved(self, row, col, wrapped):
        if wrapped:
            self.filled[...] = np.nan
        self._show(self._terms(row, col))
        self.moved.emit(row, col)

    def _show(self, terms):
        self.terms = terms
        row, col = self.slider.position
        self.filled[row, col] = terms.pre_activation
        source_levels = levels(self.source, self.values[self.source.name])
        map_levels = levels(self.column, self.values[self.column.name])
        self.canvas.set_rows(conv_rows(terms, self.source.name,
                                       (colour_map_name(self.source),) + source_levels,
                                       KERNEL_COLOUR_MAP))
        shown = float(self.values[self.column.name][self.channel, row, col])
        self.summary.setText(conv_summary(terms, self.column, shown))
        self.output_image.setImage(self.filled, autoLevels=False, levels=map_levels)
        self.output_title.setText(f"{self.column.name} channel {self.channel}: row {row}, "
                                  f"column {col}", size="8pt")
        self.output_pixel.setRect(QRectF(col, row, 1, 1))
        self._draw_maps()

    def _draw_maps(self):
        channel = self.channel_box.value()
        source_values = self.values[self.source.name]
        self.input_image.setImage(source_values[channel], autoLevels=False,
                                  levels=levels(self.source, source_values))
        row, col = self.slider.position
        self.window.setRect(QRectF(col - 1, row - 1, 3, 3))
        self.input_title.setText(f"{self.source.name} channel {channel} (zero outside)",
                                 size="8pt")

    def stop(self):
        """Stop the animation (the detail is hidden)."""
        self.play_button.setChecked(False)
