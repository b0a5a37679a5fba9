"""The pictures of the weight-path view: the loss landscape with the path over it, and
the loss along the straight line from the first weights to the model on show.

Items are made once and given new data; only the epoch labels are remade (a
handful of text items).
"""
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from ..style import CURSOR_COLOUR, TRAIN_COLOUR, VALIDATION_COLOUR, style_plot

COLOUR_MAP = "viridis"
#: Contour lines between the lowest and the highest loss of the grid (log spaced).
CONTOURS = 12
PATH_COLOUR = "#ffffff"
POINT_SIZE, VIEWED_SIZE = 9, 15
#: The least distance between two labelled points, as a share of the path's span.
LABEL_GAP = 0.04


def axis_labels(plane):
    """``(x label, y label)`` of a plane: the variance share of each principal direction,
    or that the directions are random."""
    if plane.explained is None:
        return ("random direction 1 (filter-normalised)",
                "random direction 2 (filter-normalised)")
    return tuple(f"PC{i + 1}: {share:.0%} of the path's variance"
                 for i, share in enumerate(plane.explained))


def labelled(points, share=LABEL_GAP):
    """Which points get an epoch label: from the last (the model) back, each at least
    ``share`` of the path's span away from those already labelled, so that names
    never pile up where the steps get short.

    Parameters
    ----------
    points : ndarray (E, 2)

    Returns
    -------
    list of int, increasing
    """
    points = np.asarray(points, float).reshape(-1, 2)
    gap = share * float(np.ptp(points, axis=0).max()) if len(points) else 0.0
    kept = []
    for index in range(len(points) - 1, -1, -1):
        if all(np.hypot(*(points[index] - points[other])) >= gap for other in kept):
            kept.append(index)
    return sorted(kept)


def loss_ticks(low, high):
    """Ticks for a colour bar in log10(loss): ``[(log10 v, "v"), ...]`` at 1, 2, 5 × 10^k
    between ``low`` and ``high`` (log10), the two ends included."""
    ticks = [(low, f"{10 ** low:.3g}"), (high, f"{10 ** high:.3g}")]
    for decade in range(math.floor(low), math.ceil(high) + 1):
        for step in (1, 2, 5):
            value = math.log10(step) + decade
            # Not so close to an end that the labels overlap.
            if low + 0.08 * (high - low) < value < high - 0.08 * (high - low):
                ticks.append((value, f"{10 ** value:.3g}"))
    return [sorted(ticks)]


class LandscapePlot(pg.GraphicsLayoutWidget):
    """Filled contours of the loss over a plane, contour lines, the path and its epochs.

    Signals
    -------
    point_clicked(int) : the epoch of a clicked point of the path.
    """

    point_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = style_plot(self.addPlot(row=0, col=0), "Loss over the plane")
        self.plot.showGrid(x=False, y=False)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get(COLOUR_MAP))
        self.plot.addItem(self.image)
        self.contours = []
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=COLOUR_MAP, interactive=False,
                                   width=10, colorMapMenu=False, label="loss")
        self.addItem(self.bar, row=0, col=1)
        self.line = self.plot.plot(pen=pg.mkPen(PATH_COLOUR, width=2))
        self.points = pg.ScatterPlotItem(size=POINT_SIZE, pen=pg.mkPen("k"),
                                         brush=pg.mkBrush(PATH_COLOUR), hoverable=True,
                                         tip=lambda x, y, data: f"epoch {data}: click to view it")
        self.points.setZValue(10)
        self.plot.addItem(self.points)
        self.points.sigClicked.connect(self._clicked)
        self.centre = pg.ScatterPlotItem(symbol="star", size=18, pen=pg.mkPen("k"),
                                         brush=pg.mkBrush(CURSOR_COLOUR),
                                         tip=lambda x, y, data: "the model on show")
        self.centre.setZValue(10)
        self.plot.addItem(self.centre)
        self.labels = []
        self.epochs, self.xy = (), np.zeros((0, 2))
        self.viewed = None

    def show_path(self, plane, epochs, points, centre=None):
        """Draw the path: ``points (E, 2)`` on ``plane``, one per epoch of ``epochs``;
        ``centre`` ``(x, y)`` marks the model on show (random directions), if given."""
        self.centre.setData(*([[c] for c in centre] if centre is not None else ([], [])))
        x_label, y_label = axis_labels(plane)
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.epochs, self.xy = tuple(epochs), np.asarray(points, float).reshape(-1, 2)
        self.line.setData(self.xy[:, 0], self.xy[:, 1])
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        for index in labelled(self.xy):
            epoch, (x, y) = self.epochs[index], self.xy[index]
            label = pg.TextItem(str(epoch), color=PATH_COLOUR, anchor=(-0.3, 1.1))
            label.setPos(x, y)
            label.setZValue(11)
            self.plot.addItem(label)
            self.labels.append(label)
        self._draw_points()

    def mark(self, epoch):
        """Enlarge the point of ``epoch`` (the model on show), if it is on the path."""
        self.viewed = epoch
        self._draw_points()

    def show_grid(self, grid):
        """Colour the plane by ``grid.loss (ny, nx)`` (log scale) and draw its contours."""
        xs, ys = np.asarray(grid.xs, float), np.asarray(grid.ys, float)
        loss = np.asarray(grid.loss, float)
        finite = np.isfinite(loss)
        # An overflowed point (inf) takes the grid's highest colour, not the scale's end.
        capped = np.where(finite, loss, loss[finite].max() if finite.any() else 1.0)
        logged = np.log10(np.maximum(capped, 1e-6))
        low, high = float(logged.min()), float(logged.max())
        high = max(high, low + 1e-6)
        dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
        dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
        # Each cell is centred on its grid point.
        self.image.setImage(logged, levels=(low, high))
        self.image.setRect(xs[0] - dx / 2, ys[0] - dy / 2, dx * len(xs), dy * len(ys))
        self.bar.setLevels((low, high))
        self.bar.axis.setTicks(loss_ticks(low, high))
        for item in self.contours:
            item.setParentItem(None)
            self.plot.scene().removeItem(item)
        # Children of the image: they share its pixel coordinates.
        self.contours = [pg.IsocurveItem(logged, level, pen=pg.mkPen((255, 255, 255, 110)))
                         for level in np.linspace(low, high, CONTOURS + 2)[1:-1]]
        for item in self.contours:
            item.setParentItem(self.image)
        self.plot.setRange(xRange=(xs[0] - dx / 2, xs[-1] + dx / 2),
                           yRange=(ys[0] - dy / 2, ys[-1] + dy / 2), padding=0)

    def clear_pictures(self):
        """No landscape and no path (a new session, or nothing to show yet)."""
        self.image.clear()
        for item in self.contours:
            item.setParentItem(None)
            self.plot.scene().removeItem(item)
        self.contours = []
        self.centre.setData([], [])
        self.epochs, self.xy = (), np.zeros((0, 2))
        self.line.setData([], [])
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        self._draw_points()

    def _draw_points(self):
        sizes = [VIEWED_SIZE if e == self.viewed else POINT_SIZE for e in self.epochs]
        brushes = [pg.mkBrush(CURSOR_COLOUR if e == self.viewed else PATH_COLOUR)
                   for e in self.epochs]
        self.points.setData(x=self.xy[:, 0], y=self.xy[:, 1], data=list(self.epochs),
                            size=sizes, brush=brushes)

    def _clicked(self, _item, points, _event=None):
        if len(points):
            self.point_clicked.emit(int(points[0].data()))


class LinePlot(pg.GraphicsLayoutWidget):
    """Loss and accuracy along θ(t) = (1 − t)·θ0 + t·θ, training and validation images."""

    def __init__(self, parent=None):
        super().__init__(parent)
        legend = (f'<span style="color:{TRAIN_COLOUR}">━ training</span>&nbsp;&nbsp;'
                  f'<span style="color:{VALIDATION_COLOUR}">━ validation</span>')
        self.loss_plot = style_plot(
            self.addPlot(row=0, col=0),
            "Loss on the straight line from epoch 0 (t = 0) to the model on show (t = 1)",
            "t", "loss")
        # Log: beyond epoch 0 (t < 0) the loss shoots up and would flatten the rest.
        self.loss_plot.setLogMode(y=True)
        self.accuracy_plot = style_plot(self.addPlot(row=0, col=1), f"Accuracy {legend}",
                                        "t", "accuracy")
        self.ci.layout.setColumnStretchFactor(0, 3)
        self.ci.layout.setColumnStretchFactor(1, 2)
        self.curves = {}
        for plot, key in ((self.loss_plot, "loss"), (self.accuracy_plot, "accuracy")):
            for name, colour in (("train", TRAIN_COLOUR), ("val", VALIDATION_COLOUR)):
                self.curves[f"{name}_{key}"] = plot.plot(pen=pg.mkPen(colour, width=2))
            for t in (0.0, 1.0):
                plot.addItem(pg.InfiniteLine(t, pen=pg.mkPen("#888888",
                                                             style=Qt.PenStyle.DashLine)))
        self.accuracy_plot.setYRange(0, 1)

    def show_line(self, line):
        """Draw a :class:`~gui.train.landscape_jobs.LinePicture`."""
        for key, curve in self.curves.items():
            values = np.asarray(getattr(line, key), float)
            # An overflowed loss (inf) is a gap, not a point at the log axis's end.
            curve.setData(line.ts, np.where(np.isfinite(values), values, np.nan))

    def clear_line(self):
        """Nothing to show."""
        for curve in self.curves.values():
            curve.setData([], [])
