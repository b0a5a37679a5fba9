"""The training controller: a thin Qt adapter over :class:`cnn_core.session.TrainingSession`.

The session (engine, no Qt) holds the trainer, the one snapshot store, the
history and the model on show; the controller owns the worker thread and the
current :class:`TrainingControl`, forwards the session's records as signals,
and keeps only what is the GUI's own: the run state, the timeline's position
and the last records it forwarded.  Panels never call it or the worker: the
main window connects the buttons to its methods and its signals to the
panels' slots.

How this fits the whole (threads, the path of a batch and of a pen stroke):
docs/architecture.md.
"""
import logging
import time

from PySide6.QtCore import QObject, QThread, Signal

from cnn_core.control import TrainingControl
from cnn_core.network import Network
from cnn_core.session import TrainingSession

from .records import EpochSummary, kernel_frame
from .training_worker import TrainingWorker, training_threads

log = logging.getLogger(__name__)


class TrainingController(QObject):
    """Start, steer and stop training; say what changed.

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
    model_changed(ModelRecord) : the model on show (immutable: keep it, share it);
        throttled to about once a second while training.
    timeline_changed(int, int) : ``(viewed epoch, latest epoch)``; viewed == latest is live.
    diverged(Divergence) : the run blew up here (sent just before its ``rewound``).
    rewound(int) : history after this epoch is gone.
    locked_changed(bool) : whether the data-defining settings are frozen (the run has begun).
    last_step_changed(StepRecord) : the run waits (a pause, a step's end) or has ended after
        a new batch: its step record, for the One step view.  Never sent while a run goes
        on, so keeping the record costs training nothing.
    history_restored(list) : an EpochSummary per earlier epoch of a resumed session, sent
        right after its ``session_started`` (``state`` is None where no snapshot was kept).
    """

    state_changed = Signal(str)
    session_started = Signal(str)
    batches_trained = Signal(object)
    epoch_finished = Signal(object)
    run_ended = Signal(object)
    kernels_changed = Signal(object)
    model_changed = Signal(object)
    timeline_changed = Signal(int, int)
    diverged = Signal(object)
    rewound = Signal(int)
    locked_changed = Signal(bool)
    last_step_changed = Signal(object)
    history_restored = Signal(object)

    # Queued into the worker's thread; used only while the worker is idle.
    _run_requested = Signal(object, object)

    def __init__(self, network, description, parent=None):
        super().__init__(parent)
        self.state = "idle"
        self.control = None
        self.worker_waiting = False
        self._rewind_pending = None     # epoch a stopping run goes back to once it ends
        self._last_step = None          # the StepRecord last sent in last_step_changed
        # The one session for the controller's life; the draw place reads its snapshots.
        self.session = TrainingSession(network.copy(), description,
                                       workers=training_threads(), track_health=True)
        self._thread = QThread()
        self._thread.setObjectName("training")
        self._worker = TrainingWorker(self.session)
        self._worker.moveToThread(self._thread)
        self._connect_worker()
        self._thread.start()
        self._begin_session(description)

    def _connect_worker(self):
        worker = self._worker
        self._run_requested.connect(worker.run)
        worker.batches_trained.connect(self._on_batches)
        worker.epoch_finished.connect(self._on_epoch)
        worker.kernels_changed.connect(self._on_kernels)
        worker.model_changed.connect(self._on_model)
        worker.waiting.connect(self._on_waiting)
        worker.diverged.connect(self.diverged)
        worker.rewound.connect(self._on_rewound)
        worker.run_ended.connect(self._on_run_ended)
        self._thread.finished.connect(worker.deleteLater)

    # --- what the panels may ask about ------------------------------------------------

    @property
    def snapshots(self):
        """The session's epoch -> read-only ``state_dict`` store (the only one)."""
        return self.session.snapshots

    @property
    def history(self):
        """The EpochRecord of every finished epoch of the session."""
        return self.session.epoch_history

    @property
    def config(self):
        """The settings of the latest run, live changes included (a copy of the caller's)."""
        return self.session.config

    @property
    def latest_epoch(self):
        """The last finished epoch the panels have been told of (0 before any)."""
        return self._latest

    @property
    def viewed_epoch(self):
        """The epoch the timeline shows (the latest while it follows the live model)."""
        return self._timeline_position()

    @property
    def locked(self):
        """Whether the run has begun, so its data-defining settings are fixed."""
        return self._locked

    @property
    def last_step(self):
        """The last trained batch's :class:`~cnn_core.step_record.StepRecord`, or None
        (before any batch, after a rewind or reset).  While a batch runs, the one last
        sent in ``last_step_changed``."""
        return self.session.last_step or self._last_step

    def current_model(self):
        """The model on show (live, or the timeline's epoch), a :class:`ModelRecord`."""
        return self._viewed_model if self._viewed is not None else self._live_model

    def metadata(self):
        """Training settings and history up to the model on show, for the model file."""
        return self.session.metadata(up_to=self._timeline_position())

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
        """Change settings the engine reads at every batch (``lr``, ``momentum``, ...);
        the session applies them between batches."""
        self.session.set_live(**settings)

    def set_extra_training(self, extra):
        """Train on these images too (an object with ``images`` (N, 1, 28, 28) and
        ``labels`` (N,)), or on the data set alone (None).

        Taken by the next trainer built from scratch; a run that has begun keeps its data.
        """
        self.session.set_extra_training(extra)

    def replace_model(self, network, description):
        """Start a new session from ``network`` (Reset, Open); only while idle.

        The session trains that very object: do not touch it afterwards.
        """
        if self.state == "idle":
            self.session.reset(network, description)
            self._begin_session(description)

    def resume_session(self, network, description, history, snapshots, config):
        """Go on from an earlier session (a kept one, a saved model with its history);
        only while idle.  See :meth:`cnn_core.session.TrainingSession.resume`."""
        if self.state != "idle":
            return
        self.session.resume(network, description, history, snapshots, config)
        self._begin_session(description)
        self._latest = self.session.epoch
        total = max(self.session.config.epochs, self._latest)
        self.history_restored.emit([EpochSummary(r, self.snapshots[r.epoch]
                                                 if r.epoch in self.snapshots else None, total)
                                    for r in history])
        self._set_locked(self._latest > 0)
        self.timeline_changed.emit(self._latest, self._latest)

    def reset(self, seed):
        """Start a new session from fresh He-initialised weights, same layers as on show."""
        architecture = self._live_model.layer_specs()
        self.replace_model(Network(architecture, seed=seed), f"random weights (seed {seed})")

    def view_epoch(self, epoch):
        """Show the model as it was at the end of ``epoch``; the latest epoch means live."""
        if epoch >= self.latest_epoch:
            self._viewed = None
            self.kernels_changed.emit(self._live_frame)
            self.model_changed.emit(self._live_model)
        elif epoch < self.session.first_epoch:
            # Not kept (a saved model keeps only its own epoch): the earliest kept one.
            self.view_epoch(self.session.first_epoch)
            return
        else:
            self._viewed = epoch
            # Read once: an older epoch comes from disk.  Its arrays are read-only already.
            self._viewed_model = self.session.epoch_record(epoch, f"epoch {epoch} (timeline)")
            self.kernels_changed.emit(self._frame_of(self._viewed_model))
            self.model_changed.emit(self._viewed_model)
        self.timeline_changed.emit(self._timeline_position(), self.latest_epoch)

    def rewind_to_viewed(self):
        """Make the timeline's epoch the current model; later epochs are forgotten.

        A paused run is stopped first; the session goes back once the run has ended,
        and the state stays ``stopping`` until then.
        """
        if self._viewed is None or self._rewind_pending is not None:
            return
        if self.state == "paused":
            self._rewind_pending = self._viewed
            self.control.stop()
            self._set_state("stopping")
        elif self.state == "idle":
            self._rewind(self._viewed)

    def announce(self):
        """Emit the whole current state once, for panels connected after start-up."""
        self.session_started.emit(self._session_description)
        self.state_changed.emit(self.state)
        self.locked_changed.emit(self._locked)
        self.kernels_changed.emit(self._live_frame if self._viewed is None else
                                  self._frame_of(self._viewed_model))
        self.model_changed.emit(self.current_model())
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
        if self._viewed is not None:
            self.view_epoch(self.latest_epoch)  # training continues from the live model
        self.control = control
        self.worker_waiting = False
        self._run_requested.emit(config, control)
        self._set_state("paused" if control.paused else "running")

    def _step(self, config, press):
        if self.state == "idle":
            control = TrainingControl(paused=True)
            press(control)
            self._launch(config, control)
        elif self.state in ("running", "paused"):
            if self._viewed is not None:
                self.view_epoch(self.latest_epoch)  # the step trains the live model
            press(self.control)
            self.worker_waiting = False
            self._set_state("paused")

    def _frame_of(self, model):
        return kernel_frame(model.weights, self.snapshots[0], model.conv_layer_names())

    def _live_record(self):
        with self.session.holding():    # idle: nothing trains the network meanwhile
            return self.session.model_record()

    def _begin_session(self, description):
        self._latest = 0
        self._last_step = None
        self._viewed = None
        self._viewed_model = None
        self._session_description = description
        self._live_model = self._live_record().with_description(description)
        self._live_frame = self._frame_of(self._live_model)
        self._set_locked(False)
        self.session_started.emit(description)
        self.kernels_changed.emit(self._live_frame)
        self.model_changed.emit(self._live_model)
        self.timeline_changed.emit(0, 0)

    def _rewind(self, epoch):
        """Go back in the (idle) session, then say so as a divergence's rewind is said."""
        self.session.rewind(epoch)
        self._live_model = self._live_record()
        self._live_frame = self._frame_of(self._live_model)
        self._on_rewound(epoch)
        self.kernels_changed.emit(self._live_frame)
        self.model_changed.emit(self._live_model)

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
        self._latest = summary.record.epoch
        self.epoch_finished.emit(summary)
        self.timeline_changed.emit(self._timeline_position(), self.latest_epoch)

    def _on_kernels(self, frame):
        self._live_frame = frame
        if self._viewed is None:
            self.kernels_changed.emit(frame)

    def _on_model(self, model):
        self._live_model = model
        if self._viewed is None:
            self.model_changed.emit(model)

    def _on_waiting(self):
        self.worker_waiting = True
        self._send_last_step()

    def _send_last_step(self):
        step = self.session.last_step   # the loop waits or has ended: it can be read
        if step is not None and step is not self._last_step:
            self._last_step = step
            self.last_step_changed.emit(step)

    def _on_rewound(self, epoch):
        self._latest = epoch
        self._last_step = None
        self._viewed = None
        self._set_locked(epoch > 0)
        self.rewound.emit(epoch)
        self.timeline_changed.emit(epoch, epoch)

    def _on_run_ended(self, ended):
        self.control = None
        self.worker_waiting = False
        epoch, self._rewind_pending = self._rewind_pending, None
        if epoch is None:
            self._set_state("idle")
        self._send_last_step()
        self.run_ended.emit(ended)
        if epoch is not None:
            # A run stopped to go back to an earlier epoch goes back now, after its own
            # message, and is idle once it has.
            self._rewind(epoch)
            self._set_state("idle")
