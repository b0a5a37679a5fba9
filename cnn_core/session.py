"""One training session: the trainer, one snapshot store, the history and the model on show.

A :class:`TrainingSession` is the one place that knows a run: the GUI's
controller only forwards what it reports, the timeline and the kernels GIF
read its snapshot store, a saved model takes its history.  No Qt here.

Threads.  :meth:`TrainingSession.run` trains on the caller's thread (the GUI's
training thread); every other method may be called from any other thread at any
time.  The loop thread owns the session's state while it works on a batch
("busy") and hands it back while it waits between batches (before each batch,
and for as long as a pause lasts).  A change asked for while the loop is busy
waits in a small lock-protected queue, and the loop applies it before its next
batch; otherwise it is applied at once, under the same lock.  So the settings
object the trainer reads is never written by another thread.

How this fits the whole (threads, the path of a batch and of a pen stroke):
docs/architecture.md.
"""
import dataclasses
import threading

import numpy as np

from .control import TrainingControl
from .data import load_dataset
from .errors import ConfigError
from .model_record import ModelRecord
from .snapshots import SnapshotStore
from .trainer import TrainConfig, Trainer

#: Settings the trainer reads at every batch, so they may change while it runs.
LIVE_SETTINGS = ("lr", "momentum", "weight_decay", "augment", "epochs")
#: Settings that decide which images the run trains on, fixed once it has begun.
DATA_SETTINGS = ("dataset", "train_size", "batch_size")


class _SessionControl:
    """The session's stand-in for the run's :class:`TrainingControl`: around every
    wait it hands the state back to other threads, and applies what they asked for."""

    def __init__(self, session, control):
        self._session, self._control = session, control

    def wait_for_batch(self):
        self._session._release()
        try:
            go = self._control.wait_for_batch()
        finally:
            self._session._take()
        # A reset asked for while the loop was busy ends the run it replaced.
        return go and not self._session._stop_run

    def epoch_finished(self):
        self._control.epoch_finished()


class TrainingSession:
    """The trainer, its epoch snapshots and history, and the changes asked of it.

    Parameters
    ----------
    network : Network
        The starting weights; the session trains this very object.
    description : str
        Where they came from (``"shipped model.npz"``).
    load_data : callable, optional
        ``load_data(name) -> (train Split, validation Split)``; default
        :func:`cnn_core.data.load_dataset`.
    workers : int or None
        Threads to split each batch over (see :class:`~cnn_core.trainer.Trainer`).
    track_health : bool
        Also record the fraction of dead ReLU units per batch.

    Attributes
    ----------
    snapshots : SnapshotStore
        Epoch -> read-only ``state_dict``, from epoch 0; the session's only store.
    on_rewound, on_reset : callable or None
        Called as ``on_rewound(epoch)`` and ``on_reset(description)`` once such a
        change has been applied, on the thread that applied it.
    """

    def __init__(self, network, description, load_data=load_dataset, workers=None,
                 track_health=False):
        self._lock = threading.RLock()
        self._busy = False              # the loop thread owns the state
        self._pending = []              # changes asked for while it did
        self._control = None            # the control of the run inside run(), if any
        self._stop_run = False          # a reset ends that run
        self._loop_thread = None        # the thread inside run(), if any
        self._load_data = load_data
        self._data = None               # (name, train Split, validation Split)
        self.workers, self.track_health = workers, track_health
        self.on_rewound = self.on_reset = None
        self.snapshots = SnapshotStore()
        self.config = TrainConfig()     # the settings of the latest run, live changes included
        self.extra_training = None      # images besides the data set; kept across resets
        self._start(network, description)

    def _start(self, network, description):
        self.network, self.description = network, description
        self.trainer = None
        self._trainer_key = None
        self.batch_history = []         # BatchRecord per trained batch
        self.snapshots.clear()          # the epochs of the session that ends here
        self.snapshots[0] = network.state_dict()
        self._earlier = []              # EpochRecords of a resumed run, until a trainer takes them
        self.first_epoch = 0            # the earliest epoch from which every snapshot is kept

    # --- what it holds (any thread) -----------------------------------------------

    @property
    def epoch_history(self):
        """The EpochRecord of every finished epoch, in order (a new list)."""
        return list(self.trainer.history) if self.trainer else list(self._earlier)

    @property
    def epoch(self):
        """Finished epochs."""
        if self.trainer:
            return self.trainer.epoch
        return self._earlier[-1].epoch if self._earlier else 0

    @property
    def batch(self):
        """Batches trained in the epoch under way."""
        return self.trainer.batch if self.trainer else 0

    @property
    def last_step(self):
        """The last trained batch's :class:`~cnn_core.step_record.StepRecord` (frozen,
        read-only arrays), or None: before any batch, after a rewind or a reset, and
        while a batch is under way on the loop's thread (ask during a pause or once
        the run has ended; the loop's own callbacks may ask at any time)."""
        with self._lock:
            if self._busy and threading.get_ident() != self._loop_thread:
                return None
            return self.trainer.last_step if self.trainer else None

    def model_record(self):
        """The live model as a :class:`ModelRecord` (copies its weights).

        Call it from the loop thread during a batch, or inside :meth:`holding`.
        """
        trainer = self.trainer
        if trainer is None:
            description = "before training"
        elif trainer.batch:
            description = f"epoch {trainer.epoch + 1}, batch {trainer.batch}"
        else:
            description = f"after epoch {trainer.epoch}"
        history = self.epoch_history
        return ModelRecord.of(self.network.architecture, self.network.state_dict(), description,
                              self.epoch, self.batch, history[-1] if history else None)

    def epoch_record(self, epoch, description=None):
        """The model at the end of ``epoch`` as a :class:`ModelRecord` (shares the snapshot)."""
        history = [r for r in self.epoch_history if r.epoch == epoch]
        return ModelRecord.of(self.network.architecture, self.snapshots[epoch],
                              description or f"after epoch {epoch}", epoch, 0,
                              history[0] if history else None)

    # --- changes (any thread) -------------------------------------------------------

    def set_live(self, **settings):
        """Change settings the trainer reads at every batch (see :data:`LIVE_SETTINGS`).

        Returns True when applied at once, False when it waits for the next batch.
        """
        for name, value in settings.items():
            if name not in LIVE_SETTINGS:
                raise ConfigError(f"{name} cannot change during a run")
        changed = dataclasses.replace(self.config, **settings)
        changed.validate()
        return self._change(lambda: self._set_config(settings))

    def set_extra_training(self, extra):
        """Train on these images too (an object with ``images`` (N, 1, 28, 28) and
        ``labels`` (N,)), or on the data set alone (None).

        Taken by the next trainer built from scratch; a run that has begun keeps its data.
        """
        return self._change(lambda: setattr(self, "extra_training", extra))

    def rewind(self, epoch):
        """Go back to the end of ``epoch``: its weights, history and position.

        Raises ConfigError when there is no snapshot of it.  A running loop goes on
        from there (a paused one stays paused).
        """
        if epoch not in self.snapshots:
            raise ConfigError(f"there is no snapshot of epoch {epoch}")
        return self._change(lambda: self._rewind(epoch))

    def reset(self, network, description):
        """Start a new session from ``network``: its trainer, epochs and history are
        forgotten (the settings and the extra training images are kept).

        A run under way ends before its next batch (status ``stopped``).
        """
        return self._change(lambda: self._reset(network, description))

    def resume(self, network, description, history, snapshots, config=None):
        """Start a session that goes on from an earlier one (a kept session, a saved model).

        Parameters
        ----------
        network : Network
            The weights to go on from (trained by this very object).
        history : list of EpochRecord
            The earlier run's finished epochs; the next run trains the one after.
        snapshots : dict of int to state_dict
            The epoch snapshots that were kept.  Epoch 0 defaults to ``network``'s
            weights, the base the kernels' drift is measured from.
        config : TrainConfig or None
            The settings the earlier run trained with (default: keep the current ones).
        """
        return self._change(lambda: self._resume(network, description, history, snapshots,
                                                 config))

    def _resume(self, network, description, history, snapshots, config):
        self._reset(network, description)
        for epoch, state in sorted(snapshots.items()):
            self.snapshots[epoch] = state
        self._earlier = list(history)
        first = self.epoch
        while first > 0 and first - 1 in snapshots:
            first -= 1
        self.first_epoch = first
        if config is not None:
            self.config = dataclasses.replace(config)

    def _change(self, apply):
        with self._lock:
            if self._busy:
                self._pending.append(apply)
                return False
            apply()
            return True

    def _set_config(self, settings):
        self.config = dataclasses.replace(self.config, **settings)
        if self.trainer is not None:
            self.trainer.config = self.config

    def _rewind(self, epoch):
        if epoch not in self.snapshots:     # a reset came first
            return
        if self.trainer is not None:
            self.trainer.rewind_to(epoch)
        else:
            self.network.load_state_dict(self.snapshots[epoch])
            self.snapshots.truncate(epoch)
            self._earlier = [r for r in self._earlier if r.epoch <= epoch]
        self.batch_history = [r for r in self.batch_history if r.epoch <= epoch]
        if self.on_rewound:
            self.on_rewound(epoch)

    def _reset(self, network, description):
        self._start(network, description)
        if self._control is not None:
            self._stop_run = True
            self._control.stop()        # wakes a paused loop, which then ends the run
        if self.on_reset:
            self.on_reset(description)

    # --- the loop thread ------------------------------------------------------------

    def _take(self):
        with self._lock:
            self._busy = True

    def _release(self):
        """Apply what waited, then let other threads change the state directly."""
        while True:
            with self._lock:
                pending, self._pending = self._pending, []
                if not pending:
                    self._busy = False
                    return
            for apply in pending:
                apply()

    def run(self, config, control=None, on_batch=None, on_epoch=None, before_wait=None):
        """Train with ``config`` until its epochs are done, ``control`` stops it, or it
        diverges; returns the trainer's :class:`~cnn_core.trainer.TrainResult`.

        ``config`` is copied, never kept.  The data-defining settings are fixed once
        the session has trained a batch; a new seed only matters to a fresh trainer.
        ``on_batch(BatchRecord)``, ``on_epoch(EpochRecord)`` and ``before_wait()``
        (called when the loop is about to sleep on a pause) run on this thread with
        the state owned by it.
        """
        control = control or TrainingControl()
        self._take()
        self._loop_thread = threading.get_ident()
        self._control, self._stop_run = control, False
        inner = control.before_wait
        control.before_wait = self._holding_during(before_wait) if before_wait else inner
        try:
            trainer = self._trainer_for(dataclasses.replace(config))

            def record_batch(record):
                self.batch_history.append(record)
                if on_batch:
                    on_batch(record)
            result = trainer.run(_SessionControl(self, control), record_batch, on_epoch)
            if result.status == "diverged":     # the trainer went back to its last epoch
                self.batch_history = [r for r in self.batch_history if r.epoch <= trainer.epoch]
            return result
        finally:
            control.before_wait = inner
            self._control = self._loop_thread = None
            self._release()

    def holding(self):
        """A context manager during which no change applies (they wait for its end).

        For reading the live network from the loop's thread outside a batch (a pause,
        the end of a run), or from another thread while no run is under way.
        """
        return self._lock

    def _holding_during(self, callback):
        def held():
            with self._lock:
                callback()
        return held

    def _trainer_for(self, config):
        """Reuse the trainer while the data-defining settings stay the same."""
        key = tuple(getattr(config, name) for name in (*DATA_SETTINGS, "seed")) + (
            self.extra_training,)
        trainer = self.trainer
        if trainer is not None and (key == self._trainer_key or trainer.step_count > 0):
            if key[:3] != self._trainer_key[:3]:
                raise ConfigError("the data set, training-set size and batch size are fixed "
                                  "once a run has begun; press Reset to change them")
            config.validate(len(trainer.train_labels))
            self.config = trainer.config = config
            return trainer
        if self._data is None or self._data[0] != config.dataset:
            self._data = (config.dataset, *self._load_data(config.dataset))
        _, train, val = self._data
        config.validate(len(train))
        images = train.as_float()[:config.train_size]
        labels = train.labels[:config.train_size]
        if self.extra_training is not None:
            images = np.concatenate([images, self.extra_training.images])
            labels = np.concatenate([labels, self.extra_training.labels])
        # A new trainer takes the current weights as the store's epoch 0; a resumed
        # session's kept snapshots (read from disk if spilled) go back in after it.
        kept = {epoch: self.snapshots[epoch] for epoch in self.snapshots} if self._earlier else {}
        self.trainer = Trainer(self.network, images, labels, val.as_float(), val.labels, config,
                               track_health=self.track_health, workers=self.workers,
                               snapshots=self.snapshots)
        if self._earlier:
            self.trainer.resume(self._earlier, kept)
            self._earlier = []
        self._trainer_key, self.config = key, config
        self.batch_history = []
        return self.trainer

    def metadata(self, up_to=None):
        """Training settings and the epoch history up to epoch ``up_to`` (default all),
        for a model file."""
        history = [dataclasses.asdict(r) for r in self.epoch_history
                   if up_to is None or r.epoch <= up_to]
        return {"training": dataclasses.asdict(self.config), "history": history,
                "val_accuracy": history[-1]["val_accuracy"] if history else None}

    def __repr__(self):
        return (f"TrainingSession({self.description!r}, epoch {self.epoch}, batch {self.batch}, "
                f"{len(self.snapshots)} snapshots)")
