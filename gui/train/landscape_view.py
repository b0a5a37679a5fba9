"""The "Weight path" tab: where the weights went, over the loss landscape they crossed.

One point per epoch snapshot, projected on the plane of the snapshots' two
principal directions (Li et al. 2018, section 7), over the loss on a grid of
that plane; or a slice along two filter-normalised random directions around
the model on show.  Below, the loss along the straight line from the first
weights to the model on show (Goodfellow et al. 2015).

Everything is computed in a worker thread (see :mod:`gui.train.landscape_jobs`),
coarse first, only while the tab is visible, afresh at each epoch's end; a new
request, a new session or closing the window cancels the one under way.
"""
import os
import threading

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSplitter,
                               QVBoxLayout, QWidget)

from cnn_core.landscape import TRAINING_DUTY

from ..background import BackgroundRunner
from ..style import muted
from .landscape_jobs import (IMAGES, LINE_POINTS, PCA, RANDOM, SIZES, LinePicture,
                             PathPicture, Request, compute)
from .landscape_plot import LandscapePlot, LinePlot

MODES = ((PCA, "Training path (PCA)"), (RANDOM, "Around this model (random directions)"))
#: Threads for the grid while nothing trains (the machine's cores).
IDLE_WORKERS = max(1, min(2, os.cpu_count() or 1))
#: Snapshots the principal directions need: epoch 0 and two more.
PATH_STATES = 3
#: Under the controls, per mode: what the picture shows, in plain words.
CAPTIONS = {
    PCA: ("Each white point is the network's weights at the end of an epoch, seen on the two "
          "directions in which they moved most (principal components of the epochs' "
          "weights). The colours are the loss the weights would have anywhere on that plane; "
          "lines join equal losses."),
    RANDOM: ("A slice of the loss around the model on show (the star), along two random "
             "directions scaled filter by filter to the model's own weights, so that a sharp "
             "minimum looks narrow and a flat one wide (Li et al., 2018)."),
}
FREEZE_TIP = ("Keep the plane as it is: new epochs are projected on it instead of "
              "fitting it again, so the picture stops shifting.")


def needed_message(states):
    """What to do before the path can be drawn, with ``states`` snapshots so far."""
    more = PATH_STATES - states
    return (f"The path appears after 2 epochs: train {more} more epoch{'s' * (more != 1)}. "
            f"Meanwhile, \"Around this model\" shows the landscape around the model on show.")


class LandscapeView(QWidget):
    """The weight path, the landscape under it and the straight line.

    Parameters
    ----------
    sizes : tuple of int
        The grid's sides, coarse first.
    images : int
        Training (and validation) images the loss is measured on.
    line_points : int
        Positions on the straight line.

    Signals
    -------
    epoch_selected(int) : a point of the path was clicked; the timeline goes there.
    """

    epoch_selected = Signal(int)
    _piece = Signal(int, object)        # (request, piece) from the worker thread

    def __init__(self, sizes=SIZES, images=IMAGES, line_points=LINE_POINTS, parent=None):
        super().__init__(parent)
        self.sizes, self.images, self.line_points = tuple(sizes), images, line_points
        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.freeze = QCheckBox("Freeze plane", toolTip=FREEZE_TIP)
        self.status = muted(QLabel())
        self.caption = muted(QLabel(wordWrap=True))
        self.message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.landscape = LandscapePlot()
        self.line = LinePlot()
        self.path = self.grid = self.line_picture = None
        self._snapshots = self._model = None
        self._dataset, self._training = "sample", "idle"
        self._frozen = None             # the plane kept while "Freeze plane" is ticked
        self._request = 0               # counts requests; a piece of an older one is dropped
        self._cancel = threading.Event()
        self._stale = True              # something changed while the tab was hidden
        self._ticket = None             # the runner's ticket of the picture under way
        self._runner = BackgroundRunner("landscape", ("landscape",), self)
        self._runner.finished.connect(self._on_done)
        self._runner.failed.connect(self._on_failed)
        self._piece.connect(self._on_piece)
        self._layout()
        self.mode.currentIndexChanged.connect(lambda _: self.refresh())
        self.freeze.toggled.connect(self._on_freeze)
        self.landscape.point_clicked.connect(self.epoch_selected)

    def _layout(self):
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Plane:"))
        controls.addWidget(self.mode)
        controls.addWidget(self.freeze)
        controls.addStretch(1)
        controls.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        splitter.addWidget(self.landscape)
        splitter.addWidget(self.line)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self.line.setMinimumHeight(140)
        self.pictures = splitter
        column = QVBoxLayout(self)
        column.addLayout(controls)
        column.addWidget(self.caption)
        column.addWidget(self.message, 1)
        column.addWidget(splitter, 3)
        self.message.hide()

    # --- what the window tells it ------------------------------------------------------

    @Slot(object)
    def start_session(self, snapshots):
        """A new session (Reset, Open, a restored autosave): ``snapshots`` is its
        epoch -> ``state_dict`` store, read when a picture is asked for."""
        self._snapshots = snapshots
        self._frozen = None
        with QSignalBlocker(self.freeze):   # the refresh below is the only one
            self.freeze.setChecked(False)
        self._forget()
        self.refresh()

    @Slot(object)
    def show_model(self, model):
        """The model on show (a ModelRecord): the random slice's centre and the line's end.

        While training runs, the picture waits for the epoch's end instead.
        """
        self._model = model
        if self._training != "running":
            self.refresh()

    @Slot(str)
    def set_training_state(self, state):
        """``"idle"``, ``"running"``, ...: while running, only epoch ends refresh."""
        self._training = state

    @Slot(object)
    def add_epoch(self, _summary):
        """An epoch ended: a new point on the path."""
        self.refresh()

    @Slot(int)
    def truncate(self, _epoch):
        """The session went back to an epoch: later points are gone."""
        self.refresh()

    @Slot(int, int)
    def set_position(self, viewed, _latest):
        """The timeline's epoch: its point is the large one."""
        self.landscape.mark(viewed)

    @Slot(str)
    def use_dataset(self, dataset):
        """Measure the loss on ``dataset``'s images (``"sample"`` or ``"mnist"``)."""
        if dataset != self._dataset:
            self._dataset = dataset
            self.refresh()

    def cancel(self):
        """Stop the picture under way (its worker stops within a grid row)."""
        self._cancel.set()
        self._runner.discard("landscape")
        self._request += 1
        self._ticket = None

    def shutdown(self):
        """Cancel and end the worker thread; call once, when the window closes."""
        self.cancel()
        return self._runner.shutdown()

    # --- computing ---------------------------------------------------------------------

    def refresh(self):
        """Ask for a new picture, if the tab is visible (else when it is shown)."""
        self.cancel()
        self.caption.setText(CAPTIONS[self.mode.currentData()])
        if self._snapshots is None or self._model is None:
            return
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        mode = self.mode.currentData()
        states = {epoch: self._snapshots[epoch] for epoch in sorted(self._snapshots)}
        if mode == PCA and len(states) < PATH_STATES:
            self._say(needed_message(len(states)))
            return
        self._say(None)
        plane = self._frozen if self._frozen is not None and self._frozen.kind == mode else None
        # Beside training, one thread at a share of its time that keeps training's
        # throughput within 15 % (bench/landscape.py); idle, both cores.
        training = self._training != "idle"
        request = Request(mode, self._model.layer_specs(), states, self._model.state_dict(),
                          plane, self._dataset, self.sizes, self.images, self.line_points,
                          workers=1 if training else IDLE_WORKERS,
                          duty=TRAINING_DUTY if training else 1.0)
        self._cancel = cancel = threading.Event()
        number = self._request

        def job():
            compute(request, lambda piece: self._piece.emit(number, piece), cancel)
        self._ticket = self._runner.submit("landscape", job)
        self.status.setText("computing the landscape…")

    @property
    def busy(self):
        """Whether a picture is being computed."""
        return self._ticket is not None

    def showEvent(self, event):
        """Catch up with what changed while the tab was hidden."""
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def hideEvent(self, event):
        """A hidden tab costs nothing: stop the picture under way, finish it when shown."""
        super().hideEvent(event)
        if self.busy:
            self.cancel()
            self._stale = True

    def _on_piece(self, number, piece):
        if number != self._request:
            return
        if isinstance(piece, PathPicture):
            self.path = piece
            if self.freeze.isChecked() and self._frozen is None:
                self._frozen = piece.plane
            self.landscape.show_path(piece.plane, piece.epochs, piece.points, piece.centre)
        elif isinstance(piece, LinePicture):
            self.line_picture = piece
            self.line.show_line(piece)
        else:
            self.grid = piece
            self.landscape.show_grid(piece)
            self.status.setText(f"grid {len(piece.xs)}×{len(piece.ys)} on "
                                f"{self.images} training images…")

    def _on_done(self, _kind, ticket, _result):
        if ticket == self._ticket:
            self._ticket = None
            if self.grid is not None:
                self.status.setText(self.status.text().rstrip("…"))

    def _on_failed(self, _kind, ticket, message):
        if ticket == self._ticket:
            self._ticket = None
            self.status.setText(f"Landscape failed: {message}")

    def _on_freeze(self, frozen):
        self._frozen = self.path.plane if frozen and self.path is not None else None
        if not frozen:
            self.refresh()

    def _say(self, text):
        """Show ``text`` in place of the pictures, or the pictures (None)."""
        self.message.setText(text or "")
        self.message.setVisible(text is not None)
        self.pictures.setVisible(text is None)
        if text is not None:
            self.status.setText("")

    def _forget(self):
        self.path = self.grid = self.line_picture = None
        self.landscape.clear_pictures()
        self.line.clear_line()
