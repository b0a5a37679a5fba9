"""Training health: gradient norms per layer, dead ReLUs, and the divergence banner."""
import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from ..style import (CURSOR_COLOUR, LAYER_COLOURS, decade_range, legend_html, set_decade_ticks,
                     set_tone, style_plot)

GRAD_TIP = ("Size of each layer's gradient at every batch (log scale). Curves that shoot up "
            "warn of an exploding run; curves that sink towards zero mean a layer has stopped "
            "learning.")
DEAD_TIP = ("Share of each ReLU's units that output zero for every image of the last batch. "
            "Such units pass no gradient, so a high bar means part of the layer has died. "
            "When the timeline shows an earlier epoch, the bars are that epoch's last batch.")
DEAD_TITLE = "Dead ReLUs (last batch)"
DIVERGED_EXPLANATION = (
    "<b>Training diverged.</b> The steps were so large that the loss shot up to infinity "
    "instead of going down, so the weights became useless. The app put back the weights "
    "from the end of the last finished epoch (or from the start, in the first epoch). Lower "
    "the learning rate (for example by a factor of 3) and press Start to go on.")


class HealthView(QWidget):
    """Gradient norm per layer over the run, and the dead fraction of each ReLU now.

    The dead fractions of each epoch's last batch are kept, so an earlier epoch on
    the timeline (or the epoch the run went back to) shows its own bars, not the
    live run's.

    Parameters
    ----------
    param_names : list of str
        Layers with parameters, in order (one gradient curve and colour each).
    relu_names : list of str
        ReLU layers, in order (one bar each).
    """

    def __init__(self, param_names, relu_names, parent=None):
        super().__init__(parent)
        grads = pg.PlotWidget(toolTip=GRAD_TIP)
        self.grad_plot = style_plot(grads.getPlotItem(), "Gradient norm per layer", "epoch")
        self.grad_plot.setLogMode(y=True)
        self.grad_plot.getAxis("left").enableAutoSIPrefix(False)   # no "(x0.001)" on a log axis
        self.grad_plot.disableAutoRange()   # see TrainingCurves._fit: ranges by hand
        self._range = None
        self.grad_curves, self._norms = {}, {}
        for index, name in enumerate(param_names):
            pen = pg.mkPen(LAYER_COLOURS[index % len(LAYER_COLOURS)], width=1.5)
            curve = self.grad_plot.plot(pen=pen, antialias=False)   # six noisy curves: cheap
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.grad_curves[name] = curve
            self._norms[name] = np.zeros(0)
        legend = QLabel(legend_html([("■", LAYER_COLOURS[i % len(LAYER_COLOURS)], name)
                                     for i, name in enumerate(param_names)]),
                        alignment=Qt.AlignmentFlag.AlignCenter, toolTip=GRAD_TIP,
                        wordWrap=True)      # wraps on a narrow screen instead of widening it
        dead = pg.PlotWidget(toolTip=DEAD_TIP)
        self.dead_plot = style_plot(dead.getPlotItem(), DEAD_TITLE, y_label="share")
        self.dead_plot.setYRange(0, 1, padding=0)
        self.dead_plot.getViewBox().setMouseEnabled(x=False, y=False)
        self.dead_plot.getAxis("bottom").setTicks([list(enumerate(relu_names))])
        self.dead_plot.setXRange(-0.6, len(relu_names) - 0.4, padding=0)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#888888", pen=None)
        self.dead_plot.addItem(self.dead_bars)
        self._relu_names = list(relu_names)
        self._dead_by_epoch = {}    # epoch -> dead fractions of its last batch
        self._live_dead = None      # (fractions or None, the epoch they belong to or None)
        self._viewed = None         # the timeline's epoch when it is not the live end
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen(CURSOR_COLOUR, width=2))
        self.cursor.setZValue(10)
        self.cursor.setVisible(False)
        self.grad_plot.addItem(self.cursor, ignoreBounds=True)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(legend, 0, 0)
        layout.addWidget(grads, 1, 0)
        layout.addWidget(dead, 0, 1, 2, 1)
        layout.setColumnStretch(0, 3)
        layout.setColumnStretch(1, 2)
        layout.setRowStretch(1, 1)
        self._x = np.zeros(0)
        self._fit(1)

    @Slot()
    def clear(self):
        """Empty the curves and bars for a new session."""
        self._x = np.zeros(0)
        self._norms = {name: np.zeros(0) for name in self._norms}
        for curve in self.grad_curves.values():
            curve.setData([], [])
        self._dead_by_epoch = {}
        self._live_dead = None
        self._viewed = None
        self.cursor.setVisible(False)
        self._show_dead()
        self._range = None
        self._fit(1)

    @Slot(object)
    def add_batches(self, chunk):
        """Append a :class:`gui.records.BatchChunk`'s gradient norms; show its dead ReLUs."""
        self._x = np.concatenate([self._x, chunk.position])
        for name, curve in self.grad_curves.items():
            values = chunk.grad_norms[name]
            # A zero norm cannot be drawn on a log axis; NaN leaves a gap instead.
            safe = np.where(values > 0, values, np.nan)
            self._norms[name] = np.concatenate([self._norms[name], safe])
            curve.setData(self._x, self._norms[name], connect="finite")
        self._fit(chunk.total_epochs)
        if chunk.dead_relu:
            if chunk.batch == chunk.batches_per_epoch:
                self._dead_by_epoch[chunk.epoch] = dict(chunk.dead_relu)
            self._live_dead = (dict(chunk.dead_relu), None)
            self._show_dead()

    @Slot(int, int)
    def show_viewed(self, viewed, latest):
        """Follow the timeline: an earlier epoch shows its own dead ReLUs and a cursor."""
        self._viewed = viewed if viewed < latest else None
        self.cursor.setPos(viewed)
        self.cursor.setVisible(self._viewed is not None)
        self._show_dead()

    def _show_dead(self):
        if self._viewed is None:
            dead, epoch = self._live_dead or (None, None)
        else:
            dead, epoch = self._dead_by_epoch.get(self._viewed), self._viewed
        if epoch is None:
            title = DEAD_TITLE
        elif dead is None:
            title = f"Dead ReLUs: not measured for epoch {epoch}"
        else:
            title = f"Dead ReLUs (last batch of epoch {epoch})"
        self.dead_plot.setTitle(title, size="10pt")
        if dead:
            self.dead_bars.setOpts(x=np.arange(len(self._relu_names)),
                                   height=[dead[n] for n in self._relu_names])
        else:
            self.dead_bars.setOpts(x=[], height=[])

    @property
    def dead_shown(self):
        """The dead fractions the bars show, by ReLU layer (empty when there are none)."""
        heights = self.dead_bars.opts.get("height")
        return ({} if heights is None or len(heights) == 0 else
                dict(zip(self._relu_names, (float(h) for h in heights))))

    def _fit(self, total_epochs):
        norms = np.concatenate(list(self._norms.values())) if self._norms else np.zeros(0)
        # Before any batch: a band where gradient norms usually fall.
        decades = decade_range(norms) if norms.size else (-3.0, 1.0)
        wanted = (float(max(total_epochs, 1)), decades)
        if wanted != self._range:
            self._range = wanted
            self.grad_plot.setXRange(0, wanted[0], padding=0.02)
            self.grad_plot.setYRange(*wanted[1], padding=0.02)
            set_decade_ticks(self.grad_plot.getAxis("left"), *wanted[1])

    @Slot(int)
    def truncate(self, epoch):
        """Forget the batches after the end of ``epoch`` (the run was rewound)."""
        keep = self._x <= epoch + 1e-9
        self._x = self._x[keep]
        for name, curve in self.grad_curves.items():
            self._norms[name] = self._norms[name][keep]
            curve.setData(self._x, self._norms[name], connect="finite")
        self._dead_by_epoch = {e: d for e, d in self._dead_by_epoch.items() if e <= epoch}
        self._live_dead = (self._dead_by_epoch.get(epoch), epoch)
        self._show_dead()


class DivergenceBanner(QFrame):
    """A yellow warning across the Train place, shown when a run diverges."""

    def __init__(self, parent=None):
        super().__init__(parent, objectName="banner", visible=False)
        set_tone(self, "warning")
        self.label = QLabel(wordWrap=True)
        close = QPushButton("Dismiss", toolTip="Hide this warning.")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)

    @Slot(str)
    def show_divergence(self, engine_message):
        """Show the plain explanation and, smaller, what the engine said exactly."""
        sentence = engine_message[:1].upper() + engine_message[1:]
        self.label.setText(f"{DIVERGED_EXPLANATION}<br><small>{html.escape(sentence)}</small>")
        self.show()
