"""The "One step" tab of the Train place: what the last training step did.

The batch as trained (each image's prediction and loss before and after the step, through the
weights before and after it) and the update of one chosen kernel.  The step comes as a
:class:`~cnn_core.step_record.StepRecord` (after Step batch, a pause, a run's end, or the
"Show the last step" button); the before/after pass runs on a background thread, and only
while the tab is visible (or when asked to describe the step), so training never pays for it.
"""
import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter,
                               QVBoxLayout, QWidget)

from cnn_core.model_record import ModelRecord
from cnn_core.step_record import before_after, numerical_check

from ..background import BackgroundRunner
from ..style import muted
from .kernel_update import KernelUpdateView
from .step_batch import StepBatchGrid

NO_STEP = ("No step to show yet: press Step batch (or pause a run, then press "
           "Show the last step).")
CAPTION = ("Each image: label: prediction before→after the step, and its loss before→after. "
           "Blue frame: the step lowered its loss; vermillion: raised it. Sorted with the most "
           "helped first. Click an image for its backward pass.")


def describe_step(step, result):
    """One line: where the step was and what it did to its batch's loss."""
    before, after = result.batch_loss_before, result.batch_loss_after
    return (f"epoch {step.epoch} batch {step.batch}/{step.batches_per_epoch}, "
            f"loss {before:.2f} -> {after:.2f} on its {len(step.labels)} images "
            f"({int(result.better.sum())} better, {int(result.worse.sum())} worse)")


class OneStepView(QWidget):
    """The batch of the last step, and one kernel's update.

    Signals
    -------
    image_chosen(ndarray, int, ModelRecord) : an image of the batch was clicked: the image
        ``(28, 28)`` float32 as trained, its label, and the model before the step.
    last_step_requested() : the "Show the last step" button; answer with :meth:`show_step`.
    described(StepRecord, BeforeAfter) : the before/after of a step is on show.
    """

    image_chosen = Signal(object, int, object)
    last_step_requested = Signal()
    described = Signal(object, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._step = None               # the StepRecord on show (or waiting to be shown)
        self._stale = False             # it came while hidden: work it out when shown
        self.result = None              # its BeforeAfter, once worked out
        self.header = QLabel(NO_STEP, wordWrap=True)
        self.show_last = QPushButton("Show the last step")
        self.show_last.setToolTip("Show the last batch trained (while paused or stopped).")
        self.grid = StepBatchGrid()
        self.kernel = KernelUpdateView()
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.show_last, 0, Qt.AlignmentFlag.AlignTop)
        batch = QWidget()
        batch_box = QVBoxLayout(batch)
        batch_box.setContentsMargins(0, 0, 0, 0)
        batch_box.addWidget(muted(QLabel(CAPTION, wordWrap=True)))
        batch_box.addWidget(self.grid, 1)
        self.grid.setMinimumWidth(200)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # it wraps
        scroll.setMinimumWidth(360)
        scroll.setWidget(self.kernel)
        splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        splitter.addWidget(batch)
        splitter.addWidget(scroll)
        splitter.setSizes([4, 5])       # in proportion, whatever the width
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(splitter, 1)
        self.runner = BackgroundRunner("one step", ("before_after", "check"), parent=self)
        self.runner.finished.connect(self._on_done)
        self.runner.failed.connect(self._on_failed)
        self.show_last.clicked.connect(self.last_step_requested)
        self.grid.image_clicked.connect(self._image_clicked)
        self.kernel.check_requested.connect(self._check)

    # --- slots --------------------------------------------------------------------------

    def show_step(self, step, describe=False):
        """Show ``step`` (a StepRecord; None: say there is none).

        Worked out at once when the tab is visible or ``describe`` is set (a Step batch
        press, for the status bar); otherwise when the tab is next shown.
        """
        if step is None:
            if self._step is None:
                self.header.setText(NO_STEP)
            return
        if step is self._step and not self._stale:
            return
        self._step, self.result = step, None
        self.grid.clear()
        self._stale = True
        if describe or self.isVisible():
            self._work_out()
        else:
            self.header.setText(f"Step at epoch {step.epoch} batch {step.batch}: shown when "
                                f"this tab is open.")

    def clear(self, *_):
        """Forget the step on show (a new session, a rewind: its weights are gone)."""
        self._step, self.result, self._stale = None, None, False
        self.grid.clear()
        self.kernel.set_step(None)
        self.header.setText(NO_STEP)

    def shutdown(self):
        """End the background thread (the window closes); returns the seconds it took."""
        return self.runner.shutdown()

    def showEvent(self, event):
        super().showEvent(event)
        if self._stale and self._step is not None:
            self._work_out()

    # --- work ---------------------------------------------------------------------------

    def _work_out(self):
        step, self._stale = self._step, False
        self.kernel.set_step(step)
        self.header.setText(f"Epoch {step.epoch}, batch {step.batch} of "
                            f"{step.batches_per_epoch}: working out each image before and "
                            f"after the step…")
        self.runner.submit("before_after", lambda: (step, before_after(step)))

    def _check(self, name, flat_index):
        step = self._step
        self.runner.submit("check", lambda: numerical_check(step, name, flat_index))

    def _on_done(self, kind, _ticket, result):
        if kind == "check":
            self.kernel.show_check(result)
            return
        step, outcome = result
        if step is not self._step:      # a newer step (or a clear) came meanwhile
            return
        self.result = outcome
        self.grid.show_batch(step.images, outcome)
        change = outcome.batch_loss_after - outcome.batch_loss_before
        self.header.setText(
            f"<b>Epoch {step.epoch}, batch {step.batch} of {step.batches_per_epoch}</b>: "
            f"{len(step.labels)} images, learning rate {step.lr:g}. Batch loss "
            f"<b>{outcome.batch_loss_before:.4f} → {outcome.batch_loss_after:.4f}</b> "
            f"({change:+.4f}); {int(outcome.better.sum())} images better, "
            f"{int(outcome.worse.sum())} worse.")
        self.described.emit(step, outcome)

    def _on_failed(self, kind, _ticket, message):
        if kind == "check":
            self.kernel.show_check_failed(message)
        else:
            self.header.setText(f"Could not work out the step: {message}")

    def _image_clicked(self, index):
        step = self._step
        if step is None:
            return
        model = ModelRecord.of(step.architecture, step.params_before,
                               f"before the step at epoch {step.epoch} batch {step.batch}",
                               step.epoch - 1, step.batch - 1)
        self.image_chosen.emit(np.array(step.images[index, 0], np.float32),
                               int(step.labels[index]), model)
