"""The training worker: runs :class:`cnn_core.trainer.Trainer` in its own QThread.

Threading rules (see DESIGN.md): the worker is a QObject without a parent,
moved to a QThread; the GUI thread talks to it through queued signals when it
is idle, and through the flags of :class:`TrainingControl` (pause, resume,
step, stop) while it runs, because a running worker's event queue is not
served until :meth:`TrainingWorker.run` returns.  It reports by time, not per
batch: scalars at most ten times a second, kernel pictures twice a second and
a copy of the network once a second, so a fast run cannot flood the GUI.
"""
import logging
import os
import time
import traceback
from collections import deque

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from cnn_core.data import load_dataset
from cnn_core.errors import UserError
from cnn_core.parallel import default_workers
from cnn_core.trainer import Trainer

from .records import (BatchChunk, EpochSummary, RunEnded, frozen_array, frozen_state,
                      kernel_frame)

log = logging.getLogger(__name__)

SCALAR_INTERVAL = 0.1   # seconds between batch chunks (<= 10 per second)
KERNEL_INTERVAL = 0.5   # seconds between kernel pictures
MODEL_INTERVAL = 1.0    # seconds between network copies for the explaining panels
SPEED_WINDOW = 2.0      # seconds of training time the speed is averaged over


def training_threads():
    """Threads to split each batch over: every core but one, which the GUI keeps."""
    return max(1, min(default_workers(), (os.cpu_count() or 1) - 1))


class TrainingWorker(QObject):
    """Owns the network and the trainer; lives in the training thread.

    Parameters
    ----------
    network : cnn_core.network.Network
        The starting weights (moved into the worker: do not touch it afterwards).
    """

    batches_trained = Signal(object)       # BatchChunk
    epoch_finished = Signal(object)        # EpochSummary
    kernels_changed = Signal(object)       # KernelFrame
    model_copied = Signal(object, str)     # Network copy, description
    waiting = Signal()                     # the loop sleeps on a pause
    rewound = Signal(int)                  # epoch the trainer went back to
    run_ended = Signal(object)             # RunEnded

    def __init__(self, network):
        super().__init__()
        self._network = network
        self._initial = network.state_dict()
        self._trainer = None
        self._trainer_key = None
        self._data = None                  # (name, train Split, val Split) of the last data set
        # Set by the controller while idle: images and labels to train on besides the data set.
        self.extra_training = None
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

    # --- slots (queued from the GUI thread while idle) ---------------------------------

    @Slot(object)
    def replace_network(self, network):
        """Start a new session from ``network`` (new random weights, or a loaded file)."""
        self._network = network
        self._initial = network.state_dict()
        self._trainer, self._trainer_key = None, None
        self._send_kernels()

    @Slot(object, object)
    def run(self, config, control):
        """Train with ``config`` until it ends or ``control`` stops it; emit ``run_ended``."""
        self._reset_clocks()
        control.before_wait = self._before_wait
        try:
            trainer = self._trainer_for(config)
            result = trainer.run(control, self._on_batch, self._on_epoch)
            ended = RunEnded(result.status, result.message, result.epochs_done)
            if result.status == "diverged":     # the trainer went back to its last epoch
                self._flush_batches()
                self.rewound.emit(trainer.epoch)
        except UserError as exc:
            ended = RunEnded("invalid", str(exc), self._epochs_done())
        except Exception as exc:  # noqa: BLE001 - a bug: report it, do not die silently
            log.error("training failed:\n%s", traceback.format_exc())
            ended = RunEnded("failed", f"{type(exc).__name__}: {exc}", self._epochs_done())
        finally:
            control.before_wait = None
        self._flush_batches()
        self._send_kernels()
        self._send_model()
        self.run_ended.emit(ended)

    @Slot(int)
    def rewind(self, epoch):
        """Go back to the weights at the end of ``epoch`` and forget what came after."""
        if self._trainer is None:
            return
        self._trainer.rewind_to(epoch)
        self.rewound.emit(epoch)
        self._send_kernels()
        self._send_model()

    # --- the trainer ------------------------------------------------------------------

    def _epochs_done(self):
        return self._trainer.epoch if self._trainer else 0

    def _trainer_for(self, config):
        """Reuse the trainer while the data-defining settings stay the same."""
        key = (config.dataset, config.train_size, config.batch_size, config.seed,
               self.extra_training)
        trainer = self._trainer
        if trainer is not None and (key == self._trainer_key or trainer.step_count > 0):
            if key[:3] != self._trainer_key[:3]:
                raise UserError("the data set, training-set size and batch size are fixed "
                                "once a run has begun; press Reset to change them")
            # A new seed only matters to a fresh trainer; this one keeps its order.
            trainer.config = config
            config.validate(len(trainer.train_labels))
            return trainer
        if self._data is None or self._data[0] != config.dataset:
            self._data = (config.dataset, *load_dataset(config.dataset))
        _, train, val = self._data
        config.validate(len(train))
        images = train.as_float()[:config.train_size]
        labels = train.labels[:config.train_size]
        if self.extra_training is not None:
            images = np.concatenate([images, self.extra_training.images])
            labels = np.concatenate([labels, self.extra_training.labels])
        # A new trainer snapshots the current weights as its epoch 0.
        self._trainer = Trainer(self._network, images, labels, val.as_float(), val.labels,
                                config, track_health=True, workers=training_threads())
        self._trainer_key = key
        self._initial = self._trainer.snapshots[0]
        return self._trainer

    def _on_batch(self, record):
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
        trainer = self._trainer
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
        trainer = self._trainer
        state = frozen_state(trainer.snapshots[record.epoch])
        self.epoch_finished.emit(EpochSummary(record, state, trainer.config.epochs))

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
        trainer = self._trainer
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
            grad_norms={name: frozen_array([r.grad_norms[name] for r in records])
                        for name in last.grad_norms},
            dead_relu=dict(last.dead_relu),
            epoch=last.epoch, batch=last.batch, batches_per_epoch=last.batches_per_epoch,
            total_epochs=total_epochs, samples_per_second=rate, seconds_left=seconds_left))

    def _send_kernels(self):
        self._last_emit["kernels"] = time.perf_counter()
        frame = kernel_frame(self._network.state_dict(), self._initial,
                             self._network.conv_layer_names())
        self.kernels_changed.emit(frame)

    def _send_model(self):
        self._last_emit["model"] = time.perf_counter()
        trainer = self._trainer
        if trainer is None:
            description = "before training"
        elif trainer.batch:
            description = f"epoch {trainer.epoch + 1}, batch {trainer.batch}"
        else:
            description = f"after epoch {trainer.epoch}"
        self.model_copied.emit(self._network.copy(), description)
