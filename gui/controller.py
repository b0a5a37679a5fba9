"""The training controller: the GUI thread's side of the training worker.

It owns the worker thread, the current :class:`TrainingControl`, the
session's settings and the GUI's own store of the epoch snapshots (for the
timeline, the kernels GIF and the pinned drawing; older epochs wait on disk).
Panels never call it or the worker: the main window connects the buttons to
its methods and its signals to the panels' slots.
"""
import dataclasses
import logging
import time

from PySide6.QtCore import QObject, QThread, Signal

from cnn_core.control import TrainingControl
from cnn_core.network import Network
from cnn_core.snapshots import SnapshotStore
from cnn_core.trainer import TrainConfig

from .records import kernel_frame
from .training_worker import TrainingWorker

log = logging.getLogger(__name__)

# Settings the engine reads at every step, so they may change while training runs.
LIVE_SETTINGS = ("lr", "momentum", "weight_decay", "augment")


class TrainingController(QObject):
    """Start, steer and stop training; keep the epoch snapshots; say what changed.

    Parameters
    ----------
    network : cnn_core.network.Network
        The model the app opens with.
    description : str
        Where it came from, for the panels (``"shipped model"``).

    Signals
    -------
    state_changed(str) : ``"idle"``, ``"running"``, ``"paused"`` or ``"stopping"``.
    session_started(str) : new weights (Reset, Open): panels clear their history.
    batches_trained(BatchChunk), epoch_finished(EpochSummary), run_ended(RunEnded)
    kernels_changed(KernelFrame) : the kernels of the model on show (live or timeline).
    model_changed(object, str) : a frozen copy of the model on show and what it is;
        throttled to about once a second while training.
    timeline_changed(int, int) : ``(viewed epoch, latest epoch)``; viewed == latest is live.
    rewound(int) : history after this epoch is gone.
    locked_changed(bool) : whether the data-defining settings are frozen (the run has begun).
    """

    state_changed = Signal(str)
    session_started = Signal(str)
    batches_trained = Signal(object)
    epoch_finished = Signal(object)
    run_ended = Signal(object)
    kernels_changed = Signal(object)
    model_changed = Signal(object, str)
    timeline_changed = Signal(int, int)
    rewound = Signal(int)
    locked_changed = Signal(bool)

    # Queued into the worker's thread; used only while the worker is idle.
    _run_requested = Signal(object, object)
    _network_replaced = Signal(object)
    _rewind_requested = Signal(int)

    def __init__(self, network, description, parent=None):
        super().__init__(parent)
        self.state = "idle"
        self.control = None
        self.worker_waiting = False
        self.config = TrainConfig()
        self._extra_training = None
        self._rewind_pending = None     # epoch a stopping run goes back to once it ends
        # One store for the controller's life; the draw place reads the same one.
        self.snapshots = SnapshotStore()
        self._thread = QThread()
        self._thread.setObjectName("training")
        self._worker = TrainingWorker(network.copy())
        self._worker.moveToThread(self._thread)
        self._connect_worker()
        self._thread.start()
        self._begin_session(network, description)

    def _connect_worker(self):
        worker = self._worker
        self._run_requested.connect(worker.run)
        self._network_replaced.connect(worker.replace_network)
        self._rewind_requested.connect(worker.rewind)
        worker.batches_trained.connect(self._on_batches)
        worker.epoch_finished.connect(self._on_epoch)
        worker.kernels_changed.connect(self._on_kernels)
        worker.model_copied.connect(self._on_model)
        worker.waiting.connect(self._on_waiting)
        worker.rewound.connect(self._on_rewound)
        worker.run_ended.connect(self._on_run_ended)
        self._thread.finished.connect(worker.deleteLater)

    # --- what the panels may ask about ------------------------------------------------

    @property
    def latest_epoch(self):
        """The last finished epoch of the session (0 before any)."""
        return max(self.snapshots)

    @property
    def locked(self):
        """Whether the run has begun, so its data-defining settings are fixed."""
        return self._locked

    @property
    def viewed_epoch(self):
        """The epoch the timeline shows; ``None`` when it follows the live model."""
        return self._viewed

    def current_model(self):
        """The model on show (live, or the timeline's epoch) as ``(network, description)``."""
        return self._viewed_model if self._viewed is not None else self._live_model

    def metadata(self):
        """Training settings and history up to the model on show, for the model file."""
        last = self._viewed if self._viewed is not None else self.latest_epoch
        history = [dataclasses.asdict(r) for r in self.history if r.epoch <= last]
        return {"training": dataclasses.asdict(self.config), "history": history,
                "val_accuracy": history[-1]["val_accuracy"] if history else None}

    # --- commands (GUI thread) --------------------------------------------------------

    def start(self, config):
        """Train with ``config`` (a validated TrainConfig), continuing the session."""
        if self.state == "idle":
            self._launch(config, TrainingControl())

    def pause_or_resume(self):
        """Pause a running run after its batch, or resume a paused one (a flag, not a message)."""
        if self.state == "running":
            self.control.pause()
            self._set_state("paused")
        elif self.state == "paused":
            self.control.resume()
            self._set_state("running")

    def step_batch(self, config):
        """Train exactly one batch, then stay paused."""
        self._step(config, TrainingControl.step_batch)

    def step_epoch(self, config):
        """Train to the end of the current epoch, then stay paused."""
        self._step(config, TrainingControl.step_epoch)

    def stop(self):
        """End the run before its next batch; Start continues it later."""
        if self.state in ("running", "paused"):
            self.control.stop()
            self._set_state("stopping")

    def set_live(self, **settings):
        """Change settings the engine reads at every step (``lr``, ``momentum``, ...)."""
        for name, value in settings.items():
            if name not in LIVE_SETTINGS:
                raise ValueError(f"{name} cannot change during a run")
            # A plain attribute store: the trainer reads it before its next step.
            setattr(self.config, name, value)

    def set_extra_training(self, extra):
        """Train on these images too (an object with ``images`` (N, 1, 28, 28) and
        ``labels`` (N,)), or on the data set alone (None).

        Taken by the next trainer built from scratch; a run that has begun keeps its data.
        """
        self._extra_training = extra

    def replace_model(self, network, description):
        """Start a new session from ``network`` (Reset, Open); only while idle."""
        if self.state == "idle":
            self._begin_session(network, description)

    def reset(self, seed):
        """Start a new session from fresh He-initialised weights."""
        self.replace_model(Network(seed=seed), f"random weights (seed {seed})")

    def view_epoch(self, epoch):
        """Show the model as it was at the end of ``epoch``; the latest epoch means live."""
        if epoch >= self.latest_epoch:
            self._viewed = None
            self.kernels_changed.emit(self._live_frame)
            self.model_changed.emit(*self._live_model)
        else:
            self._viewed = epoch
            state = self.snapshots[epoch]   # read once: an older epoch comes from disk
            network = Network(self._live_model[0].architecture)
            network.load_state_dict(state)
            self._viewed_model = (network, f"epoch {epoch} (timeline)")
            self.kernels_changed.emit(kernel_frame(state, self.snapshots[0],
                                                   network.conv_layer_names()))
            self.model_changed.emit(*self._viewed_model)
        self.timeline_changed.emit(self._timeline_position(), self.latest_epoch)

    def rewind_to_viewed(self):
        """Make the timeline's epoch the current model; later epochs are forgotten.

        A paused run is stopped first: the request waits in the worker's queue until
        the run has returned, and the state stays ``stopping`` until it is done.
        """
        if self._viewed is None or self._rewind_pending is not None:
            return
        if self.state == "paused":
            self._rewind_pending = self._viewed
            self.control.stop()
            self._set_state("stopping")
        elif self.state != "idle":
            return
        self._rewind_requested.emit(self._viewed)

    def announce(self):
        """Emit the whole current state once, for panels connected after start-up."""
        self.session_started.emit(self._session_description)
        self.state_changed.emit(self.state)
        self.locked_changed.emit(self._locked)
        self.kernels_changed.emit(self._live_frame if self._viewed is None else
                                  kernel_frame(self.snapshots[self._viewed], self.snapshots[0],
                                               self.current_model()[0].conv_layer_names()))
        self.model_changed.emit(*self.current_model())
        self.timeline_changed.emit(self._timeline_position(), self.latest_epoch)

    def shutdown(self, timeout=2.0):
        """Stop training, end the thread and wait for it; returns the seconds it took."""
        started = time.perf_counter()
        if self.control is not None:
            self.control.stop()
        self._thread.quit()
        if not self._thread.wait(int(timeout * 1000)):
            # Never let Qt destroy a running thread: wait for the batch in flight.
            log.warning("training thread still busy after %.1f s; waiting for it", timeout)
            self._thread.wait()
        return time.perf_counter() - started

    # --- internals --------------------------------------------------------------------

    def _launch(self, config, control):
        for field in dataclasses.fields(TrainConfig):
            setattr(self.config, field.name, getattr(config, field.name))
        if self._viewed is not None:
            self.view_epoch(self.latest_epoch)  # training continues from the live model
        self.control = control
        self.worker_waiting = False
        # A plain store while the worker is idle; the queued run below comes after it.
        self._worker.extra_training = self._extra_training
        self._run_requested.emit(self.config, control)
        self._set_state("paused" if control.paused else "running")

    def _step(self, config, press):
        if self.state == "idle":
            control = TrainingControl(paused=True)
            press(control)
            self._launch(config, control)
        elif self.state in ("running", "paused"):
            press(self.control)
            self.worker_waiting = False
            self._set_state("paused")

    def _begin_session(self, network, description):
        self.snapshots.clear()          # the epochs of the session that ends here
        self.snapshots[0] = network.state_dict()
        self.history = []
        self._viewed = None
        self._viewed_model = None
        self._session_description = description
        self._live_model = (network.copy(), description)
        self._live_frame = kernel_frame(self.snapshots[0], self.snapshots[0],
                                        network.conv_layer_names())
        self._set_locked(False)
        self._network_replaced.emit(network.copy())
        self.session_started.emit(description)
        self.kernels_changed.emit(self._live_frame)
        self.model_changed.emit(*self._live_model)
        self.timeline_changed.emit(0, 0)

    def _timeline_position(self):
        return self.latest_epoch if self._viewed is None else self._viewed

    def _set_state(self, state):
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _set_locked(self, locked):
        self._locked = locked
        self.locked_changed.emit(locked)

    # --- worker reports ---------------------------------------------------------------

    def _on_batches(self, chunk):
        if not self._locked:
            self._set_locked(True)
        self.batches_trained.emit(chunk)

    def _on_epoch(self, summary):
        epoch = summary.record.epoch
        self.snapshots[epoch] = summary.state
        self.history = [r for r in self.history if r.epoch < epoch] + [summary.record]
        self.epoch_finished.emit(summary)
        self.timeline_changed.emit(self._timeline_position(), self.latest_epoch)

    def _on_kernels(self, frame):
        self._live_frame = frame
        if self._viewed is None:
            self.kernels_changed.emit(frame)

    def _on_model(self, network, description):
        self._live_model = (network, description)
        if self._viewed is None:
            self.model_changed.emit(network, description)

    def _on_waiting(self):
        self.worker_waiting = True

    def _on_rewound(self, epoch):
        self.snapshots.truncate(epoch)
        self.history = [r for r in self.history if r.epoch <= epoch]
        self._viewed = None
        self._set_locked(epoch > 0)
        self.rewound.emit(epoch)
        self.timeline_changed.emit(epoch, epoch)
        if self._rewind_pending is not None:
            self._rewind_pending = None
            self._set_state("idle")

    def _on_run_ended(self, ended):
        self.control = None
        self.worker_waiting = False
        # A run stopped to go back to an earlier epoch is idle once it has gone back.
        if self._rewind_pending is None:
            self._set_state("idle")
        self.run_ended.emit(ended)
