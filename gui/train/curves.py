"""Live loss and accuracy curves: every batch (raw and smoothed) and every epoch.

Both plots share one x axis in epochs: a batch sits at ``epoch - 1 + batch /
batches_per_epoch`` and an epoch's summary at its end, so the per-batch and
per-epoch curves line up and the epoch boundaries are whole numbers.

A change of learning rate or momentum made mid-run is marked on both plots where
it took effect, with its new value; it is read from the batches themselves (the
rate each was trained with), so the marks say what the engine did, not what a
form once held.

A divergence stays on the curves: the batches the run abandoned when it went back
to its last epoch are kept in red, and the batch that blew up is a spike to the
top of the loss axis (clipped there: its loss is infinite or huge) with a marker
and the learning rate that caused it.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..style import (CURSOR_COLOUR, RAW_COLOUR, TRAIN_COLOUR, VALIDATION_COLOUR, decade_range,
                     legend_html, muted, set_decade_ticks, style_plot)

SMOOTHING = 0.9   # weight of the past in the moving average of the batch curves
CHANGE_COLOUR = "#D55E00"   # vermilion: a setting a person changed (Okabe-Ito)
DIVERGED_COLOUR = "#CC0000"  # the abandoned batches and the blow-up
#: Relative difference under which two rates are the same: dividing the scheduled
#: rate by the schedule's factor gives the set rate back only up to rounding.
SAME_RATE = 1e-6
LEGEND = legend_html([("━", "rgba(0,114,178,0.35)", "each batch"),
                      ("━", TRAIN_COLOUR, "batches, smoothed"),
                      ("●", TRAIN_COLOUR, "epoch, training set"),
                      ("■", VALIDATION_COLOUR, "epoch, validation set"),
                      ("┆", "#888888", "end of an epoch"),
                      ("│", CHANGE_COLOUR, "setting changed"),
                      ("▲", DIVERGED_COLOUR, "diverged")])

#: Why the validation accuracy can sit above the training accuracy (early in a run
#: it usually does), on the legend and, while it does, under it.
ACCURACY_GAP_TIP = (
    "<p><b>Validation above training?</b> The training accuracy of an epoch is the "
    "average over its batches, measured while the weights were still improving, so "
    "it trails the weights at the epoch's end, which the validation set is measured "
    "with. With augmentation on, the training images are also shifted, turned and "
    "scaled, so they are harder than the validation digits. (The network uses no "
    "dropout.)</p>")
ACCURACY_GAP_NOTE = ("Validation above training: the training figure is averaged over the "
                     "epoch while the weights improved, on harder (augmented) images.")


def smooth(values, beta=SMOOTHING, state=(0.0, 0)):
    """Bias-corrected exponential moving average (as TensorBoard draws it).

    Parameters
    ----------
    values : ndarray (k,)
    state : (float, int)
        The running average and the count of values before ``values``.

    Returns
    -------
    smoothed : ndarray (k,)
    state : (float, int)
        To pass with the next values.
    """
    average, count = state
    out = np.empty(len(values))
    for i, value in enumerate(values):
        average = beta * average + (1 - beta) * value
        count += 1
        out[i] = average / (1 - beta ** count)
    return out, (average, count)


def setting_changes(position, peak_lr, momentum, previous=None):
    """Where the learning rate (as set) or the momentum changed between batches.

    Parameters
    ----------
    position, peak_lr, momentum : ndarray (k,)
        Each batch's end on the epoch axis, the rate set and the momentum it used.
    previous : (float, float, float) or None
        ``(position, peak_lr, momentum)`` of the batch before these (None: the first).

    Returns
    -------
    changes : list of (float, str)
        Where each change took effect (the end of the batch before it) and its label,
        such as ``"lr 0.2"`` or ``"lr 0.2, momentum 0.5"``.
    last : (float, float, float) or None
        ``previous`` for the next batches.
    """
    changes = []
    for x, lr, mu in zip(position, peak_lr, momentum):
        if previous is not None:
            before_x, before_lr, before_mu = previous
            parts = []
            if abs(lr - before_lr) > SAME_RATE * max(abs(lr), abs(before_lr)):
                parts.append(f"lr {lr:.3g}")
            if abs(mu - before_mu) > SAME_RATE:
                parts.append(f"momentum {mu:.3g}")
            if parts:
                changes.append((float(before_x), ", ".join(parts)))
        previous = (float(x), float(lr), float(mu))
    return changes, previous


class _Series:
    """A growing (x, y) series shown by one PlotDataItem, optionally smoothed."""

    def __init__(self, item, smoothed=False):
        self.item = item
        self.smoothed = smoothed
        self.clear()

    def clear(self):
        """Forget every point."""
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self._state = (0.0, 0)
        self.item.setData(self.x, self.y)

    def extend(self, x, y):
        """Append points ``x, y : ndarray (k,)`` (smoothing ``y`` when the series does)."""
        if self.smoothed:
            y, self._state = smooth(y, state=self._state)
        self.x = np.concatenate([self.x, x])
        self.y = np.concatenate([self.y, y])
        self.item.setData(self.x, self.y)

    def truncate(self, x_max, raw_y=None):
        """Keep the points up to ``x_max``; a smoothed series needs the kept ``raw_y``."""
        keep = self.x <= x_max + 1e-9
        self.x = self.x[keep]
        if self.smoothed:
            # The moving average depends on every earlier point: recompute it
            # from the raw values kept (``raw_y`` is already cut to ``x_max``).
            self.y, self._state = smooth(raw_y)
        else:
            self.y = self.y[keep]
        self.item.setData(self.x, self.y)


class TrainingCurves(QWidget):
    """Loss (log scale) and accuracy against epochs, with epoch lines and a timeline cursor."""

    def __init__(self, parent=None):
        super().__init__(parent)
        view = pg.GraphicsLayoutWidget()
        # Wrapped: one line of seven entries would set the window's minimum width.
        legend = QLabel(LEGEND, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True,
                        toolTip=ACCURACY_GAP_TIP)
        self.gap_note = muted(QLabel(ACCURACY_GAP_NOTE, alignment=Qt.AlignmentFlag.AlignCenter,
                                     wordWrap=True, toolTip=ACCURACY_GAP_TIP,
                                     objectName="accuracy_gap_note"))
        self.gap_note.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(legend)
        layout.addWidget(self.gap_note)
        layout.addWidget(view, 1)
        self.loss_plot = style_plot(view.addPlot(row=0, col=0), "Loss", "epoch", "cross-entropy")
        self.accuracy_plot = style_plot(view.addPlot(row=0, col=1), "Accuracy", "epoch", "%")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)   # no "(x0.001)" on a log axis
        self.series = {}
        for key, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot)):
            self.series[key] = self._make_series(plot)
        # Ranges are set by hand, and change only when the run or a decade of loss
        # does: auto-ranging would redraw the axes and repaint twice on every update.
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.disableAutoRange()
        self._ranges = {}
        self._boundaries = []
        self._cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen(CURSOR_COLOUR, width=2))
                         for _ in (self.loss_plot, self.accuracy_plot)]
        for plot, cursor in zip((self.loss_plot, self.accuracy_plot), self._cursors):
            cursor.setZValue(10)
            cursor.setVisible(False)
            plot.addItem(cursor, ignoreBounds=True)
        self._raw = {"loss": np.zeros(0), "accuracy": np.zeros(0)}
        self._settings = np.zeros((0, 3))   # (position, peak_lr, momentum) per batch
        self.changes = []                   # (x, label, [line per plot]) per change
        self.divergences = []               # (Divergence, {name: item}) per blow-up
        self._marks_drawn = 0
        self._fit(1)

    @staticmethod
    def _make_series(plot):
        def curve(**style):
            item = plot.plot(**style)
            # Thousands of batch points: draw only what fits the pixels.
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
            return item
        dashed = pg.mkPen(TRAIN_COLOUR, width=1, style=Qt.PenStyle.DashLine)
        return {
            # The raw curve is thin, faint and long: antialiasing it costs much, shows little.
            "batch": _Series(curve(pen=pg.mkPen(RAW_COLOUR, width=1), antialias=False)),
            "smoothed": _Series(curve(pen=pg.mkPen(TRAIN_COLOUR, width=2)), smoothed=True),
            "train": _Series(curve(pen=dashed, symbol="o", symbolSize=7,
                                   symbolBrush=TRAIN_COLOUR)),
            "validation": _Series(curve(pen=pg.mkPen(VALIDATION_COLOUR, width=2), symbol="s",
                                        symbolSize=7, symbolBrush=VALIDATION_COLOUR)),
        }

    # --- slots ----------------------------------------------------------------------

    @Slot()
    def clear(self):
        """Empty every curve for a new session."""
        for series in self.series.values():
            for line in series.values():
                line.clear()
        self.gap_note.setVisible(False)
        self._raw = {"loss": np.zeros(0), "accuracy": np.zeros(0)}
        self._settings = np.zeros((0, 3))
        self._drop_changes_after(-1.0)
        for _, items in self.divergences:
            for name, item in items.items():
                (self.accuracy_plot if name.startswith("accuracy") else
                 self.loss_plot).removeItem(item)
        self.divergences = []
        self._marks_drawn = 0
        self._set_boundaries(0)
        self.set_cursor(0, 0)
        self._ranges = {}
        self._fit(1)

    @Slot(object)
    def add_batches(self, chunk):
        """Append a :class:`gui.records.BatchChunk`."""
        for key, values in (("loss", chunk.loss), ("accuracy", chunk.accuracy * 100)):
            self._raw[key] = np.concatenate([self._raw[key], values])
            self.series[key]["batch"].extend(chunk.position, values)
            self.series[key]["smoothed"].extend(chunk.position, values)
        previous = tuple(self._settings[-1]) if len(self._settings) else None
        changes, _ = setting_changes(chunk.position, chunk.peak_lr, chunk.momentum, previous)
        for x, label in changes:
            self._add_change(x, label)
        self._settings = np.concatenate(
            [self._settings, np.column_stack([chunk.position, chunk.peak_lr, chunk.momentum])])
        self._fit(chunk.total_epochs)

    @Slot(object)
    def add_epoch(self, summary):
        """Append a :class:`gui.records.EpochSummary` and mark the epoch's end."""
        r = summary.record
        x = np.array([float(r.epoch)])
        self.series["loss"]["train"].extend(x, np.array([r.train_loss]))
        self.series["loss"]["validation"].extend(x, np.array([r.val_loss]))
        self.series["accuracy"]["train"].extend(x, np.array([100 * r.train_accuracy]))
        self.series["accuracy"]["validation"].extend(x, np.array([100 * r.val_accuracy]))
        self._explain_gap()
        self._set_boundaries(r.epoch)
        self._fit(summary.total_epochs)

    @Slot(int)
    def truncate(self, epoch):
        """Forget every point after the end of ``epoch`` (the run was rewound)."""
        for key, lines in self.series.items():
            keep = lines["batch"].x <= epoch + 1e-9
            self._raw[key] = self._raw[key][keep]
            for line in lines.values():
                line.truncate(epoch, raw_y=self._raw[key])
        self._settings = self._settings[self._settings[:, 0] <= epoch + 1e-9]
        self._drop_changes_after(epoch)
        self._explain_gap()
        self._set_boundaries(epoch)

    @Slot(object)
    def show_divergence(self, divergence):
        """Keep a :class:`gui.records.Divergence` in sight; call before the run's ``truncate``.

        The batches after ``divergence.restored_epoch`` become a red curve ending in a
        spike clipped at the loss axis's top, marked and labelled with the rate; the
        setting changes among them stay (often the change that caused it).
        """
        lost = self.series["loss"]["batch"].x > divergence.restored_epoch + 1e-9
        x = np.append(self.series["loss"]["batch"].x[lost], divergence.position)
        red = pg.mkPen(DIVERGED_COLOUR, width=1.5)
        items = {
            "loss": self.loss_plot.plot(x, np.append(self._raw["loss"][lost], 1.0), pen=red),
            "loss_marker": self.loss_plot.plot([divergence.position], [1.0], pen=None,
                                               symbol="t1", symbolSize=12,
                                               symbolBrush=DIVERGED_COLOUR, symbolPen=None),
            "label": pg.TextItem(f"diverged, lr {divergence.peak_lr:.3g}",
                                 color=DIVERGED_COLOUR, anchor=(1.05, 0)),
            "accuracy": self.accuracy_plot.plot(x[:-1], self._raw["accuracy"][lost], pen=red),
            "accuracy_line": pg.InfiniteLine(divergence.position, angle=90,
                                             pen=pg.mkPen(DIVERGED_COLOUR, width=1.5,
                                                          style=Qt.PenStyle.DashLine)),
        }
        while self.changes and self.changes[-1][0] >= divergence.restored_epoch - 1e-9:
            x_change, _, (loss_line, accuracy_line) = self.changes.pop()
            items[f"change {x_change}"] = loss_line
            items[f"accuracy change {x_change}"] = accuracy_line
        self.loss_plot.addItem(items["label"], ignoreBounds=True)
        self.accuracy_plot.addItem(items["accuracy_line"], ignoreBounds=True)
        self.divergences.append((divergence, items))
        self._clip_spikes()

    def _explain_gap(self):
        """Say why while the latest epoch's validation accuracy is above its training one."""
        train, validation = (self.series["accuracy"][k].y for k in ("train", "validation"))
        self.gap_note.setVisible(bool(len(train) and len(validation)
                                      and validation[-1] > train[-1]))

    def _clip_spikes(self):
        """Put every divergence's spike and marker at the loss axis's top."""
        top = self._ranges["loss"][1]
        for divergence, items in self.divergences:
            x, y = items["loss"].getOriginalDataset()
            items["loss"].setData(x, np.append(y[:-1], 10.0 ** top))
            items["loss_marker"].setData([divergence.position], [10.0 ** top])
            items["label"].setPos(divergence.position, top)

    @Slot(int, int)
    def set_cursor(self, viewed, latest):
        """Mark the timeline's epoch, unless it is the live end."""
        for cursor in self._cursors:
            cursor.setPos(viewed)
            cursor.setVisible(viewed < latest)

    def _fit(self, total_epochs):
        """Show the whole run on x, and the loss's decades on y."""
        losses = [self._raw["loss"]] + [self.series["loss"][k].y for k in ("train", "validation")]
        # Accuracy from the smoothed and epoch curves, down to a multiple of 10 %:
        # a trained model sits near 100 % and would be a flat line on a 0-100 axis.
        accuracies = np.concatenate([self.series["accuracy"][k].y
                                     for k in ("smoothed", "train", "validation")])
        lowest = np.nanmin(accuracies) if accuracies.size else 0.0
        ranges = {"x": (0.0, float(max(total_epochs, 1))),
                  "loss": decade_range(np.concatenate(losses)) if len(losses[0]) else (-2.0, 1.0),
                  "accuracy": (float(min(np.floor(lowest / 10) * 10, 90.0)), 100.0)}
        if ranges != self._ranges:
            self._ranges = ranges
            for plot in (self.loss_plot, self.accuracy_plot):
                plot.setXRange(*ranges["x"], padding=0.02)
            self.loss_plot.setYRange(*ranges["loss"], padding=0.02)
            set_decade_ticks(self.loss_plot.getAxis("left"), *ranges["loss"])
            self._clip_spikes()
            self.accuracy_plot.setYRange(*ranges["accuracy"], padding=0.02)

    def _add_change(self, x, label):
        """Draw a labelled vertical line at ``x`` on both plots."""
        pen = pg.mkPen(CHANGE_COLOUR, width=1.5)
        # Labels of nearby changes would overwrite each other: three heights in turn.
        height = 0.8 - 0.15 * (self._marks_drawn % 3)   # the top is the divergence label's
        self._marks_drawn += 1
        lines = []
        for plot in (self.loss_plot, self.accuracy_plot):
            line = pg.InfiniteLine(x, angle=90, pen=pen, label=label,
                                   labelOpts={"position": height, "color": CHANGE_COLOUR,
                                              "anchors": [(0, 0), (0, 0)]})
            line.setZValue(5)
            plot.addItem(line, ignoreBounds=True)
            lines.append(line)
        self.changes.append((x, label, lines))

    def _drop_changes_after(self, x_max):
        """Remove the change marks from ``x_max`` on: the batch after each is gone."""
        while self.changes and self.changes[-1][0] >= x_max - 1e-9:
            _, _, lines = self.changes.pop()
            for plot, line in zip((self.loss_plot, self.accuracy_plot), lines):
                plot.removeItem(line)

    def _set_boundaries(self, epochs):
        """Keep one dotted vertical line at each finished epoch's end."""
        pen = pg.mkPen((120, 120, 120, 110), width=1, style=Qt.PenStyle.DotLine)
        while len(self._boundaries) < epochs:
            x = len(self._boundaries) + 1
            pair = [pg.InfiniteLine(x, angle=90, pen=pen) for _ in range(2)]
            self.loss_plot.addItem(pair[0], ignoreBounds=True)
            self.accuracy_plot.addItem(pair[1], ignoreBounds=True)
            self._boundaries.append(pair)
        while len(self._boundaries) > epochs:
            pair = self._boundaries.pop()
            self.loss_plot.removeItem(pair[0])
            self.accuracy_plot.removeItem(pair[1])
