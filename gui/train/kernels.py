"""The conv kernels, large enough to read, and how far each layer's weights have moved.

One conv layer at a time.  A layer with one input channel (conv1) shows all
its kernels as large 3×3 tiles.  A deeper layer shows an overview, one column
per output channel (how strongly it listens to each input channel), and the
chosen output channel's kernels over every input channel, large.  Weights are
on a diverging map centred at zero; a toggle shows the change since the
previous epoch on the same kind of scale.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QHBoxLayout, QLabel, QToolButton,
                               QVBoxLayout, QWidget)

from ..images import ACTIVATION_COLOUR_MAP, image_view
from ..style import (KERNEL_BACKGROUND, KERNEL_COLOUR_MAP, LAYER_COLOURS, level_bar, muted,
                     nice_top, set_bar_levels, style_plot)
from .kernel_data import EpochWeights, kernels_from_mosaic, stack_norms
from .kernel_tiles import KernelTiles

KERNEL_TIP = ("The 3×3 filters of the chosen layer. Blue is negative, red positive, white "
              "zero; hover a cell for its number. For a deeper layer, click a column of the "
              "overview to see that output channel's filters, one per input channel.")
CHANGE_TIP = ("Show each weight now minus the same weight at the end of the previous epoch: "
              "what the last epoch of training did to the kernels.")
DRIFT_TIP = ("How far each layer's weights have moved since epoch 0, in per cent of their "
             "size at epoch 0 (100 × ‖W − W₀‖ / ‖W₀‖).")
OVERVIEW_TIP = ("One column per output channel of the layer, one row per input channel: how "
                "large each 3×3 kernel is (its L2 norm), dark small, bright large. A bright "
                "row in a column is an input that channel listens to. Click a column to see "
                "its kernels.")
HOVER_HINT = "hover a kernel for its numbers"
OUTLINE_COLOUR = "#D55E00"      # Okabe-Ito vermillion: stands out on viridis
TITLE_SIZE = "9pt"
DRIFT_MINIMUM_WIDTH = 210


class KernelGrids(QWidget):
    """The chosen conv layer's kernels, its colour bar, and a bar chart of weight drift.

    Parameters
    ----------
    conv_names : list of str
        The conv layers, in order (one button each).
    param_names : list of str
        Every layer with parameters, in order (one drift bar each).

    Attributes
    ----------
    weights : dict of str to ndarray (F, C, k, k)
        The weights of the last frame shown.
    tiles : KernelTiles
        The large kernels; ``tiles.kernels`` is what they show.
    overview : pg.ImageItem
        A deeper layer's ``(C, F)`` kernel norms.
    """

    def __init__(self, conv_names, param_names, parent=None):
        super().__init__(parent)
        self.conv_names = list(conv_names)
        self.param_names = list(param_names)
        self.layer, self.channel, self.difference = self.conv_names[0], 0, False
        self.weights, self._limits = {}, {}
        self.history = EpochWeights()
        self.reference_epoch = None     # the epoch the difference subtracts
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self._build_toolbar())
        row = QHBoxLayout()
        row.addWidget(self._build_overview(), 3)
        row.addWidget(self._build_detail(), 8)
        row.addWidget(self._build_drift_plot(), 3)
        layout.addLayout(row, 1)

    # --- construction -----------------------------------------------------------------

    def _build_toolbar(self):
        bar = QHBoxLayout()
        # The tip sits on the labels, not the tiles, where it would cover what it explains.
        bar.addWidget(QLabel("Kernels of", toolTip=KERNEL_TIP))
        self.layer_buttons = QButtonGroup(self)
        for name in self.conv_names:
            button = QToolButton(text=name, checkable=True, checked=name == self.layer)
            self.layer_buttons.addButton(button)
            button.clicked.connect(lambda _, name=name: self.select_layer(name))
            bar.addWidget(button)
        self.difference_box = QCheckBox("Change since the previous epoch", toolTip=CHANGE_TIP)
        self.difference_box.toggled.connect(self.set_difference)
        bar.addSpacing(12)
        bar.addWidget(self.difference_box)
        # Wraps rather than widening the place (a readout can be a long line).
        self.readout = muted(QLabel(HOVER_HINT, wordWrap=True))
        bar.addWidget(self.readout, 1)
        return bar

    def _build_overview(self):
        self.overview_view = view = pg.GraphicsLayoutWidget()
        view.setToolTip(OVERVIEW_TIP)
        self.overview_title = view.addLabel("", row=0, col=0, size=TITLE_SIZE)
        self.overview_box, self.overview = image_view(view, 1, 0, background=KERNEL_BACKGROUND)
        self.overview.setColorMap(pg.colormap.get(ACTIVATION_COLOUR_MAP))
        self.overview.clicked.connect(lambda x, _: self.select_channel(int(x)))
        self.outline = pg.QtWidgets.QGraphicsRectItem()
        self.outline.setPen(pg.mkPen(OUTLINE_COLOUR, width=2, cosmetic=True))
        self.outline.setZValue(1)
        self.overview_box.addItem(self.outline)
        view.scene().sigMouseMoved.connect(self._hover_overview)
        return view

    def _build_detail(self):
        self.detail_view = view = pg.GraphicsLayoutWidget()
        self.detail_title = view.addLabel("", row=0, col=0, colspan=2, size=TITLE_SIZE)
        box, image = image_view(view, 1, 0, background=KERNEL_BACKGROUND)
        colour_map = pg.colormap.get(KERNEL_COLOUR_MAP)
        image.setColorMap(colour_map)
        self.tiles = KernelTiles(box, image)
        # One bar for the layer on show: its weights, or their change, centred at zero.
        self.colour_bar = level_bar(view, 1, 1, colour_map)
        view.scene().sigMouseMoved.connect(self._hover_detail)
        return view

    def _build_drift_plot(self):
        # Horizontal bars: the layer names read along the left axis without crowding.
        widget = pg.PlotWidget(toolTip=DRIFT_TIP)
        # The title on two lines: on one it would set the narrowest the Train place can be.
        plot = self.drift_plot = style_plot(widget.getPlotItem(),
                                            "Weights moved<br>since epoch 0",
                                            x_label="% of their size at epoch 0")
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.getViewBox().invertY(True)
        plot.getAxis("left").setTicks([list(enumerate(self.param_names))])
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        plot.setYRange(-0.6, len(self.param_names) - 0.4, padding=0)
        self.drift_bars = pg.BarGraphItem(
            x0=0, y=np.arange(len(self.param_names)), height=0.7,
            width=np.zeros(len(self.param_names)),
            brushes=[LAYER_COLOURS[i % len(LAYER_COLOURS)] for i in range(len(self.param_names))],
            pen=None)
        plot.addItem(self.drift_bars)
        # Wide enough for its axis label, which the plot's own minimum does not count.
        widget.setMinimumWidth(DRIFT_MINIMUM_WIDTH)
        return widget

    # --- what the controller sends ----------------------------------------------------

    @Slot(object)
    def start_session(self, state):
        """A new session: ``state`` (a ``state_dict``) is its epoch 0."""
        self.history.start(state)
        self.weights = {}

    @Slot(object)
    def add_epoch(self, summary):
        """Keep the weights at the end of an epoch (an :class:`gui.records.EpochSummary`)."""
        self.history.add(summary.record.epoch, summary.state)

    @Slot(int)
    def truncate(self, epoch):
        """History after ``epoch`` is gone (a rewind)."""
        self.history.truncate(epoch)

    @Slot(object)
    def show_frame(self, frame):
        """Show a :class:`gui.records.KernelFrame`.

        Ignored before :meth:`start_session`: the weights' shapes come from it.
        """
        shapes = self.history.shapes()
        if not shapes:
            return
        self.weights = {name: kernels_from_mosaic(frame.mosaics[name][0], shapes[name])
                        for name in self.conv_names}
        self._limits = {name: frame.mosaics[name][1] for name in self.conv_names}
        self._redraw()
        percent = np.array([100 * frame.drift.get(n, 0.0) for n in self.param_names])
        self.drift_bars.setOpts(width=percent)
        self.drift_plot.setXRange(0, max(float(percent.max()) * 1.1, 1.0), padding=0)

    # --- what the person chooses ------------------------------------------------------

    def select_layer(self, name):
        """Show conv layer ``name`` (its first output channel, for a deeper layer)."""
        self.layer, self.channel = name, 0
        for button in self.layer_buttons.buttons():
            button.setChecked(button.text() == name)
        self.readout.setText(HOVER_HINT)      # the last number read was another layer's
        self._redraw()

    def select_channel(self, channel):
        """Show output channel ``channel`` of a deeper layer large."""
        weight = self.weights.get(self.layer)
        if weight is not None and 0 <= channel < len(weight):
            self.channel = channel
            self._redraw()

    @Slot(bool)
    def set_difference(self, on):
        """Show the weights (False) or their change since the previous epoch (True)."""
        self.difference = bool(on)
        self.difference_box.setChecked(self.difference)
        self._redraw()

    def shown_values(self):
        """What the tiles' scale means, per layer: the weights or their change.

        Returns
        -------
        values : ndarray (F, C, k, k)
        limit : float
            The symmetric level limit.
        """
        weight = self.weights[self.layer]
        if not self.difference:
            return weight, self._limits[self.layer]
        self.reference_epoch, before = self.history.previous(self.weights)
        change = weight - before[self.layer] if before else np.zeros_like(weight)
        # Rounded up (1, 2, 5 × 10ⁿ): the change grows all epoch long, its scale in steps.
        return change, nice_top(np.abs(change).max())

    # --- drawing ----------------------------------------------------------------------

    def _redraw(self):
        if self.layer not in self.weights:
            return
        values, limit = self.shown_values()
        levels = (-limit, limit)
        single = values.shape[1] == 1
        self.overview_view.setVisible(not single)
        self.tiles.show(values[:, 0] if single else values[self.channel], levels)
        set_bar_levels(self.colour_bar, levels)
        if not single:
            self._draw_overview(values)
        self.detail_title.setText(self._detail_caption(values.shape, limit), size=TITLE_SIZE)

    def _draw_overview(self, values):
        norms = stack_norms(values)
        top = float(norms.max()) or 1.0
        resized = self.overview.image is None or self.overview.image.shape != norms.shape
        self.overview.setImage(norms, autoLevels=False, levels=(0, top))
        self.outline.setRect(self.channel, 0, 1, norms.shape[0])
        if resized:
            self.overview_box.autoRange(padding=0.02)
        what = "change" if self.difference else "size"
        # Two lines: one would set the narrowest the Train place can be.
        self.overview_title.setText(f"Kernel {what} ‖w‖, 0 to {top:.2g}:<br>click a column",
                                    size=TITLE_SIZE)

    def _detail_caption(self, shape, limit):
        count, inputs = shape[0], shape[1]
        if inputs == 1:
            text = f"{self.layer}: a kernel per output channel ({count})"
        else:
            text = f"{self.layer} output {self.channel}: a kernel per input channel ({inputs})"
        # The scale on a line of its own: on one line the caption would set the
        # narrowest the Train place can be.
        if not self.difference:
            return f"{text}<br>±{limit:.2f}"
        if self.reference_epoch is None:
            return f"{text}<br>no earlier epoch yet"
        return f"{text}<br>change since epoch {self.reference_epoch}, ±{limit:g}"

    def _hover_detail(self, scene_pos):
        if self.layer not in self.weights or self.tiles.kernels is None:
            return
        point = self.tiles.box.mapSceneToView(scene_pos)
        cell = self.tiles.cell_at(point.x(), point.y())
        if cell is not None:
            self.readout.setText(self.describe_cell(*cell))

    def describe_cell(self, tile, row, col):
        """The hover text of cell ``(row, col)`` of tile ``tile`` of the tiles on show."""
        weight = self.weights[self.layer]
        if weight.shape[1] == 1:
            where, value = f"{self.layer} kernel {tile}", weight[tile, 0, row, col]
        else:
            where = f"{self.layer} output {self.channel} ← input {tile}"
            value = weight[self.channel, tile, row, col]
        text = f"{where}, row {row} col {col}: w = {value:+.4f}"
        if self.difference:
            text += f", change {self.tiles.kernels[tile, row, col]:+.4f}"
        return text

    def _hover_overview(self, scene_pos):
        if self.overview.image is None or not self.overview_view.isVisible():
            return
        point = self.overview_box.mapSceneToView(scene_pos)
        inputs, outputs = self.overview.image.shape
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        if 0 <= x < outputs and 0 <= y < inputs:
            what = "change" if self.difference else "size"
            self.readout.setText(f"{self.layer} output {x} ← input {y}: kernel {what} "
                                 f"‖w‖ = {self.overview.image[y, x]:.3f} (click to show)")
