"""The training worker: runs a :class:`cnn_core.session.TrainingSession` in its own QThread.

Threading rules: the worker is a QObject without a parent, moved to a QThread;
the GUI thread starts a run through a queued signal, steers it through the
flags of :class:`TrainingControl` (pause, resume, step, stop), and changes
settings, rewinds or resets through the session's own methods, which are safe
from any thread.  The worker reports by time, not per batch: scalars at most
ten times a second, kernel pictures twice a second and an immutable
:class:`~cnn_core.model_record.ModelRecord` once a second, so a fast run cannot
flood the GUI.

How this fits the whole (threads, the path of a batch and of a pen stroke):
docs/architecture.md.
"""
import logging
import os
import time
import traceback
from collections import deque

from PySide6.QtCore import QObject, Signal, Slot

from cnn_core.errors import UserError
from cnn_core.parallel import default_workers

from .records import (BatchChunk, Divergence, EpochSummary, RunEnded, frozen_array,
                      kernel_frame)

log = logging.getLogger(__name__)

SCALAR_INTERVAL = 0.1   # seconds between batch chunks (<= 10 per second)
KERNEL_INTERVAL = 0.5   # seconds between kernel pictures
MODEL_INTERVAL = 1.0    # seconds between model records for the explaining panels
SPEED_WINDOW = 2.0      # seconds of training time the speed is averaged over


def training_threads():
    """Threads to split each batch over: every core but one, which the GUI keeps."""
    return max(1, min(default_workers(), (os.cpu_count() or 1) - 1))


def schedule_factor(trainer, step):
    """What the schedule multiplies the set learning rate by at ``step`` (from 0).

    Dividing a batch's rate by it gives back the rate set in the form, so a person's
    change shows apart from the schedule's own steady change.
    """
    return trainer.learning_rate(step) / trainer.config.lr


class TrainingWorker(QObject):
    """Runs the session's training loop; lives in the training thread.

    Parameters
    ----------
    session : cnn_core.session.TrainingSession
        The session to train (shared with the controller, which changes it
        through its thread-safe methods).
    """

    batches_trained = Signal(object)       # BatchChunk
    epoch_finished = Signal(object)        # EpochSummary
    kernels_changed = Signal(object)       # KernelFrame
    model_changed = Signal(object)         # ModelRecord of the live model
    waiting = Signal()                     # the loop sleeps on a pause
    diverged = Signal(object)              # Divergence, just before its ``rewound``
    rewound = Signal(int)                  # a divergence took the run back to this epoch
    run_ended = Signal(object)             # RunEnded

    def __init__(self, session):
        super().__init__()
        self.session = session
        self._pending = []
        self._reset_clocks()

    def _reset_clocks(self):
        self._last_emit = {"scalars": 0.0, "kernels": 0.0, "model": 0.0}
        self._last_batch_end = None
        # (seconds, images) of the latest batches, as the trainer timed them: training
        # time only, so neither a pause nor the validation at an epoch's end slows the
        # speed down.  A run's first batch warms the threads up and counts only alone.
        self._recent = deque()
        self._warm_up = None
        self._epoch_end_seconds = 0.0   # the validation and snapshot after an epoch

    @Slot(object, object)
    def run(self, config, control):
        """Train with ``config`` until it ends or ``control`` stops it; emit ``run_ended``."""
        self._reset_clocks()
        session = self.session
        # The step of the latest batch trained: a divergence happens at the next one.
        self._last_step = session.batch_history[-1].step if session.batch_history else 0
        try:
            result = session.run(config, control, self._on_batch, self._on_epoch,
                                 before_wait=self._before_wait)
            ended = RunEnded(result.status, result.message, result.epochs_done)
            if result.status == "diverged":     # the session went back to its last epoch
                self._flush_batches()
                self.diverged.emit(self._divergence())
                self.rewound.emit(session.epoch)
        except UserError as exc:
            ended = RunEnded("invalid", str(exc), session.epoch)
        except Exception as exc:  # noqa: BLE001 - a bug: report it, do not die silently
            log.error("training failed:\n%s", traceback.format_exc())
            ended = RunEnded("failed", f"{type(exc).__name__}: {exc}", session.epoch)
        with session.holding():                 # the run is over: hold off a Reset meanwhile
            self._flush_batches()
            self._send_kernels()
            self._send_model()
        self.run_ended.emit(ended)

    # --- reports from the loop ----------------------------------------------------------

    def _divergence(self):
        trainer = self.session.trainer
        lr = trainer.diverged_lr
        return Divergence((self._last_step + 1) / trainer.batches_per_epoch, lr,
                          lr / schedule_factor(trainer, self._last_step), self.session.epoch)

    def _on_batch(self, record):
        self._last_step = record.step
        now = time.perf_counter()
        self._time_batch(record)
        self._last_batch_end = now
        self._pending.append(record)
        if now - self._last_emit["scalars"] >= SCALAR_INTERVAL:
            self._flush_batches()
        if now - self._last_emit["kernels"] >= KERNEL_INTERVAL:
            self._send_kernels()
        if now - self._last_emit["model"] >= MODEL_INTERVAL:
            self._send_model()

    def _time_batch(self, record):
        trainer = self.session.trainer
        size = trainer.config.batch_size
        images = min(size, len(trainer.train_labels) - (record.batch - 1) * size)
        if self._warm_up is None:
            self._warm_up = (record.seconds, images)
            return
        recent = self._recent
        recent.append((record.seconds, images))
        while len(recent) > 1 and sum(s for s, _ in recent) - recent[0][0] >= SPEED_WINDOW:
            recent.popleft()

    def _speed(self):
        """Images per second of training time (NaN before the first batch)."""
        timed = self._recent or ([self._warm_up] if self._warm_up else [])
        seconds = sum(s for s, _ in timed)
        return sum(n for _, n in timed) / seconds if seconds > 0 else float("nan")

    def _on_epoch(self, record):
        if self._last_batch_end is not None:
            self._epoch_end_seconds = time.perf_counter() - self._last_batch_end
        self._flush_batches()  # the epoch's batches reach the plots before its summary
        session = self.session
        # The snapshot's arrays are read-only and shared with the session's store.
        self.epoch_finished.emit(EpochSummary(record, session.snapshots[record.epoch],
                                              session.trainer.config.epochs))

    def _before_wait(self):
        self._flush_batches()
        self._send_kernels()
        self._send_model()
        self._last_batch_end = None  # a pause is not the validation's time
        self.waiting.emit()

    # --- reports ----------------------------------------------------------------------

    def _flush_batches(self):
        self._last_emit["scalars"] = time.perf_counter()
        if not self._pending:
            return
        records, self._pending = self._pending, []
        last = records[-1]
        trainer = self.session.trainer
        total_epochs = trainer.config.epochs
        rate = self._speed()
        seconds_left = float("nan")
        if rate > 0:
            images_left = (max(total_epochs * last.batches_per_epoch - last.step, 0)
                           * trainer.config.batch_size)
            epoch_ends_left = max(total_epochs - trainer.epoch, 0)
            seconds_left = images_left / rate + epoch_ends_left * self._epoch_end_seconds
        self.batches_trained.emit(BatchChunk(
            position=frozen_array([r.epoch - 1 + r.batch / r.batches_per_epoch for r in records]),
            step=frozen_array([r.step for r in records], int),
            loss=frozen_array([r.loss for r in records]),
            accuracy=frozen_array([r.accuracy for r in records]),
            lr=frozen_array([r.lr for r in records]),
            peak_lr=frozen_array([r.lr / schedule_factor(trainer, r.step - 1) for r in records]),
            momentum=frozen_array([r.momentum for r in records]),
            grad_norms={name: frozen_array([r.grad_norms[name] for r in records])
                        for name in last.grad_norms},
            dead_relu=dict(last.dead_relu),
            epoch=last.epoch, batch=last.batch, batches_per_epoch=last.batches_per_epoch,
            total_epochs=total_epochs, samples_per_second=rate, seconds_left=seconds_left))

    def _send_kernels(self):
        self._last_emit["kernels"] = time.perf_counter()
        network = self.session.network
        self.kernels_changed.emit(kernel_frame(network.state_dict(), self.session.snapshots[0],
                                               network.conv_layer_names()))

    def _send_model(self):
        self._last_emit["model"] = time.perf_counter()
        self.model_changed.emit(self.session.model_record())
