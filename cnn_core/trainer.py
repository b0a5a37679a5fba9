"""The training loop: mini-batch SGD that reports as it goes and can be steered.

:class:`Trainer` owns the position in the run (epoch, batch, shuffled order),
so a run can be stopped and started again and continue where it was.  It
reports a :class:`BatchRecord` after every batch and an :class:`EpochRecord`
after every epoch through plain callbacks, and obeys a
:class:`~cnn_core.control.TrainingControl` between batches.  No Qt here: the GUI
wraps this loop in a worker thread.
"""
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .augment import random_affine
from .control import TrainingControl
from .errors import ConfigError
from .losses import cross_entropy
from .optimizers import SCHEDULES, SGD
from .parallel import DataParallel
from .snapshots import SnapshotStore
from .step_record import StepRecorder

# A mean cross-entropy this large means the logits have blown up (chance is 2.3).
EXPLODED_LOSS = 1e3
MAX_WEIGHT_DECAY = 0.1


@dataclass
class TrainConfig:
    """Training settings; :meth:`validate` says in one line what is out of range."""

    epochs: int = 15
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = True
    schedule: str = "onecycle"
    train_size: int = 4000
    dataset: str = "sample"
    seed: int = 0

    def validate(self, available=None):
        """Raise :class:`ConfigError` for a setting out of range.

        ``available`` is the number of training images the data set has.
        """
        checks = [
            (1 <= self.epochs <= 1000, f"epochs must be between 1 and 1000, not {self.epochs}"),
            (1 <= self.batch_size <= 4096,
             f"batch size must be between 1 and 4096, not {self.batch_size}"),
            (math.isfinite(self.lr) and 0 < self.lr <= 100,
             f"learning rate must be above 0 and at most 100, not {self.lr}"),
            (math.isfinite(self.momentum) and 0 <= self.momentum < 1,
             f"momentum must be at least 0 and below 1, not {self.momentum}"),
            # Above 0.1 the pull towards zero outweighs what any batch teaches: with
            # 1, every weight shrinks by the learning rate at each step and the network dies.
            (math.isfinite(self.weight_decay) and 0 <= self.weight_decay <= MAX_WEIGHT_DECAY,
             f"weight decay must be between 0 and {MAX_WEIGHT_DECAY:g}, not {self.weight_decay:g}"),
            (self.schedule in SCHEDULES,
             f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}"),
            (self.dataset in ("sample", "mnist"),
             f"dataset must be 'sample' or 'mnist', not {self.dataset!r}"),
            (0 <= self.seed < 2**32, f"seed must be between 0 and 4294967295, not {self.seed}"),
            (self.train_size >= 1, f"training-set size must be at least 1, not {self.train_size}"),
        ]
        if available is not None:
            checks += [
                (self.train_size <= available,
                 f"training-set size {self.train_size} is larger than the {available} images available"),
                (self.batch_size <= min(self.train_size, available),
                 f"batch size {self.batch_size} is larger than the training set "
                 f"({min(self.train_size, available)} images)"),
            ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass(frozen=True)
class BatchRecord:
    """What one batch did. ``epoch`` and ``batch`` count from 1.

    ``lr`` and ``momentum`` are the ones this batch's update used, so a change made
    mid-run shows at the batch where it took effect.
    """

    epoch: int
    batch: int
    batches_per_epoch: int
    step: int
    loss: float
    accuracy: float
    lr: float
    momentum: float
    grad_norms: dict
    dead_relu: dict
    seconds: float


@dataclass(frozen=True)
class EpochRecord:
    """One epoch's summary; ``seconds`` is compute time (pauses excluded)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    lr: float


@dataclass(frozen=True)
class TrainResult:
    """How a call to :meth:`Trainer.run` ended: ``finished``, ``stopped`` or ``diverged``."""

    status: str
    message: str
    epochs_done: int
    history: list = field(default_factory=list)


def evaluate_loss_accuracy(model, images, labels):
    """Mean cross-entropy and accuracy on ``images (N, 1, 28, 28)``.

    ``model`` is a Network or a DataParallel (anything with ``predict_logits``).
    """
    if len(labels) == 0:
        return float("nan"), float("nan")
    logits = model.predict_logits(images)
    loss, _ = cross_entropy(logits, labels)
    return loss, float((logits.argmax(axis=1) == labels).mean())


def layer_grad_norms(grads):
    """Euclidean norm of each parametrised layer's gradients (weight and bias together),
    from gradients by ``state_dict`` name (``"conv1.weight"``)."""
    squares = {}
    for name, g in grads.items():
        layer = name.rsplit(".", 1)[0]
        squares[layer] = squares.get(layer, 0.0) + float(np.vdot(g, g))
    return {layer: math.sqrt(total) for layer, total in squares.items()}


class Trainer:
    """Train ``network`` on arrays of images and labels.

    Parameters
    ----------
    network : Network
    train_images, val_images : ndarray, float32 (N, 1, 28, 28) in [0, 1]
    train_labels, val_labels : ndarray of int, (N,)
    config : TrainConfig
        ``lr`` and ``momentum`` are read at every step, so they may change mid-run.
    track_health : bool
        Also report the fraction of dead ReLU units per batch (for the GUI).
    workers : int or None
        Threads to split each batch over (default: see
        :func:`~cnn_core.parallel.default_workers`).  The GUI uses one fewer
        than the cores, to keep a core for itself.
    snapshots : SnapshotStore or None
        Where to keep the epoch snapshots (default: a store of its own).  A given
        store (a :class:`~cnn_core.session.TrainingSession`'s) forgets its epochs
        after 0, and its epoch 0 becomes the network's weights.
    """

    def __init__(self, network, train_images, train_labels, val_images, val_labels,
                 config=None, track_health=False, workers=None, snapshots=None):
        self.config = config or TrainConfig()
        self.config.validate(len(train_labels))
        self.network = network
        self.train_images, self.train_labels = train_images, np.asarray(train_labels, np.int64)
        self.val_images, self.val_labels = val_images, np.asarray(val_labels, np.int64)
        self.track_health = track_health
        self.workers = workers
        self._parallel = None
        self.optimizer = SGD(network, self.config.lr, self.config.momentum, self.config.weight_decay)
        self._shuffle_rng = np.random.default_rng([self.config.seed, 1])
        self._augment_rng = np.random.default_rng([self.config.seed, 2])
        self.history = []                       # EpochRecord per finished epoch
        # Epoch -> read-only state_dict; the store spills older epochs to disk.
        self.snapshots = SnapshotStore() if snapshots is None else snapshots
        self.snapshots.truncate(0)
        self.snapshots[0] = network.state_dict()
        self.epoch = 0                          # finished epochs
        self.batch = 0                          # finished batches in the current epoch
        self._order = None
        self._epoch_sums = [0.0, 0.0, 0.0]      # loss sum, correct count, seconds
        self.keep_last_step = True
        self._recorder = StepRecorder()

    @property
    def batches_per_epoch(self):
        return math.ceil(len(self.train_labels) / self.config.batch_size)

    @property
    def last_step(self):
        """The last batch's :class:`~cnn_core.step_record.StepRecord` (images, weights
        before and after, gradients, ...); None before the first batch, during one, and
        after a rewind.  Read it between batches (it copies what the trainer still holds)."""
        return self._recorder.record()

    @property
    def step_count(self):
        return self.epoch * self.batches_per_epoch + self.batch

    def learning_rate(self, step=None):
        """The learning rate the schedule gives at ``step`` (default: the next one)."""
        total = self.config.epochs * self.batches_per_epoch
        factor = SCHEDULES[self.config.schedule](total)
        return self.config.lr * factor(self.step_count if step is None else step)

    def run(self, control=None, on_batch=None, on_epoch=None):
        """Train until ``config.epochs`` are done, the control stops it, or it diverges.

        Returns a :class:`TrainResult`.  Safe to call again after a stop: it
        continues from the same epoch and batch.
        """
        control = control or TrainingControl()
        self.config.validate(len(self.train_labels))
        # The threads live only as long as this call, so a trainer left behind holds none.
        parallel = DataParallel(self.network, self.workers, track_alive=self.track_health)
        with parallel as self._parallel:
            return self._run(control, on_batch, on_epoch)

    def _run(self, control, on_batch, on_epoch):
        # The position is read again after every wait: whoever the control lets act
        # while it waits (a TrainingSession) may rewind the run or change its epochs.
        while self.epoch < self.config.epochs:
            if not control.wait_for_batch():
                return self._result("stopped", f"stopped at epoch {self.epoch + 1} "
                                               f"batch {self.batch}")
            if self.epoch >= self.config.epochs:
                break
            if self._order is None:
                self._order = self._shuffle_rng.permutation(len(self.train_labels))
            record = self._train_batch()
            if record is None:
                return self._result("diverged", self._divergence)
            if on_batch:
                on_batch(record)
            if self.batch == self.batches_per_epoch:
                epoch_record = self._finish_epoch()
                control.epoch_finished()
                if on_epoch:
                    on_epoch(epoch_record)
        return self._result("finished", f"finished {self.epoch} epochs")

    def _result(self, status, message):
        return TrainResult(status, message, self.epoch, list(self.history))

    def _next_batch(self):
        size = self.config.batch_size
        picks = self._order[self.batch * size:(self.batch + 1) * size]
        images = self.train_images[picks]
        if self.config.augment:
            images = random_affine(images, self._augment_rng)
        return images, self.train_labels[picks]

    def _train_batch(self):
        """One SGD step; returns a BatchRecord, or None (weights restored) on divergence."""
        started = time.perf_counter()
        self._recorder.clear()      # the batch overwrites what the last record needs
        images, labels = self._next_batch()
        lr = self.learning_rate()
        loss, logits = self._parallel.train_step(images, labels)
        self.diverged_lr = lr   # read after a divergence: the rate that caused it
        if not (math.isfinite(loss) and loss < EXPLODED_LOSS):
            self._roll_back("the loss became NaN" if math.isnan(loss) else
                            "the loss became infinite" if math.isinf(loss) else
                            f"the loss exploded to {loss:.3g}")
            return None
        grad_norms = layer_grad_norms(self._parallel.grads)
        if not all(math.isfinite(n) for n in grad_norms.values()):
            self._roll_back("the gradients became infinite")
            return None
        momentum = self.config.momentum
        self.optimizer.lr, self.optimizer.momentum = lr, momentum
        self.optimizer.weight_decay = self.config.weight_decay
        if self.keep_last_step:     # what the update overwrites, before it does
            self._recorder.begin(self.network, self.optimizer, images, labels)
        self.optimizer.step(self._parallel.grads, self._parallel.executor)
        if not all(np.isfinite(value).all() for _, value in self.network.named_params()):
            self._roll_back("the weights overflowed")   # the update itself did
            return None
        correct = int((logits.argmax(axis=1) == labels).sum())
        dead = self._parallel.dead_relu_fractions() if self.track_health else {}
        self.batch += 1
        if self.keep_last_step:
            self._recorder.finish(self.network, self.optimizer, self._parallel.grads, loss,
                                  self.epoch + 1, self.batch, self.batches_per_epoch)
        seconds = time.perf_counter() - started
        sums = self._epoch_sums
        sums[0] += loss * len(labels)
        sums[1] += correct
        sums[2] += seconds
        return BatchRecord(self.epoch + 1, self.batch, self.batches_per_epoch, self.step_count,
                           loss, correct / len(labels), lr, momentum, grad_norms, dead, seconds)

    def _roll_back(self, reason):
        """Say where and why the run diverged, then go back to the last finished epoch.

        Not to the step before the blow-up: a rate that is too high often drives the
        loss up for many steps first, and the step before the last is as ruined as
        the last.  The run goes back as :meth:`rewind_to` takes it, so the next
        start trains that epoch's successor from its first batch.
        """
        restored = f"the end of epoch {self.epoch}" if self.epoch else "the start of the run"
        self._divergence = (f"diverged at epoch {self.epoch + 1} batch {self.batch + 1}: "
                            f"{reason}; learning rate {self.diverged_lr:g} is too high. "
                            f"The weights from {restored} were put back.")
        self.rewind_to(self.epoch)

    def _finish_epoch(self):
        n = len(self.train_labels)
        loss_sum, correct, seconds = self._epoch_sums
        val_loss, val_acc = evaluate_loss_accuracy(self._parallel, self.val_images, self.val_labels)
        self.epoch += 1
        record = EpochRecord(self.epoch, loss_sum / n, correct / n, val_loss, val_acc,
                             seconds, self.learning_rate(self.step_count - 1))
        self.history.append(record)
        self.snapshots[self.epoch] = self.network.state_dict()
        self.batch, self._order, self._epoch_sums = 0, None, [0.0, 0.0, 0.0]
        return record

    def rewind_to(self, epoch):
        """Go back to the weights at the end of ``epoch`` and forget what came after.

        Training started again continues from epoch ``epoch + 1``.
        """
        if epoch not in self.snapshots:
            raise ConfigError(f"there is no snapshot of epoch {epoch}")
        self.network.load_state_dict(self.snapshots[epoch])
        self.snapshots.truncate(epoch)
        self.history = [r for r in self.history if r.epoch <= epoch]
        self.epoch, self.batch, self._order = epoch, 0, None
        self._epoch_sums = [0.0, 0.0, 0.0]
        self.optimizer.reset()
        self._recorder.clear()

    def resume(self, history, snapshots):
        """Go on from an earlier run of this network: its EpochRecords and whichever of its
        epoch snapshots were kept (``{epoch: state_dict}``, epoch 0 included).

        The network holds the weights to go on from; training continues at epoch
        ``history[-1].epoch + 1`` on the schedule where that run left it, with the
        optimizer's momentum starting afresh (it was not kept).
        """
        for epoch, state in sorted(snapshots.items()):
            self.snapshots[epoch] = state
        self.history = list(history)
        self.epoch, self.batch, self._order = (history[-1].epoch if history else 0), 0, None

    def history_as_dicts(self):
        """The epoch history as plain dicts (for JSON model metadata and CSV)."""
        return [asdict(r) for r in self.history]
