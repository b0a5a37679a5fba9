"""The Draw & Explain controller: from the drawing and the model to what the panels show.

Cheap work runs on the GUI thread as the pen moves: boxing and centring the
ink (:func:`~cnn_core.preprocessing.normalise_ink`: the canvas's ink is ink on
zero paper, so no photo or transparency rule is asked) and one
:meth:`~cnn_core.explain.Explainer.analyse` (prediction, every layer's
activations, a CAM at every conv layer: about a millisecond).  Pen moves
are coalesced by a zero-delay single-shot timer, so however fast the mouse
reports, at most one analysis is pending and the canvas never waits on a
backlog.  Everything else (the chosen method's map and its deletion AUC,
the strip's AUCs, feature visualisation) goes to a :class:`BackgroundRunner`
where the latest request of each kind wins; costly methods are only asked
for when the pen lifts.

How this fits the whole (threads, the path of a batch and of a pen stroke):
docs/architecture.md.
"""
import functools
import logging

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from cnn_core.errors import EmptyImageError
from cnn_core.explain import Explainer
from cnn_core.explain.novelty import fit_on_sample
from cnn_core.preprocessing import normalise_ink

from ..architecture import embedding_layer
from ..background import BackgroundRunner
from .cams import METHOD_NAMES
from .jobs import (WorkerCache, channel_features, dropping_same_contrast, explain_map,
                   strip_scores)
from .learning_frames import PinnedDrawing

log = logging.getLogger(__name__)


class DrawController(QObject):
    """Turns drawings and models into analyses, maps and features for the panels.

    Parameters
    ----------
    read_drawing : callable
        ``() -> (Picture or None, ink ndarray)``: the canvas's loaded picture when
        it is all there is, and its ink (see :class:`~gui.draw.canvas.DrawingCanvas`).
    map_choice : MapChoice
        The method and layer to explain with at first (the method panel's).
    feature_choice : (str, int)
        The conv layer and channel to visualise at first.
    """

    analysed = Signal(object, object)               # digit (28, 28), Analysis
    judged = Signal(object)                         # the analysis's novelty Verdict, or None
    emptied = Signal()
    quick_map = Signal(object, object, int, object)  # digit, heatmap, target, contrast
    map_ready = Signal(object)                      # MapResult
    map_status = Signal(str)
    strip_scored = Signal(object)                   # StripScores
    pair_ready = Signal(object, int, object, int, object)
    pair_hidden = Signal()
    features_ready = Signal(object)                 # ChannelFeatures
    features_status = Signal(str)
    embedding_features = Signal(object)             # the drawing's dense features, or None
    label_suggested = Signal(int)
    drawing_present = Signal(bool)
    learning_changed = Signal(object, object)       # pinned digit, [(epoch, map, answer, p)]
    session_origin = Signal(str)                    # what the session's epoch 0 weights are

    def __init__(self, read_drawing, map_choice, feature_choice, parent=None):
        super().__init__(parent)
        self._read = read_drawing
        self.network = None
        self._explainer = self._embedding_layer = None
        self.digit = self.analysis = self.label = None
        self.choice = map_choice
        self.feature_choice = feature_choice
        self.training_state = "idle"
        self._pen_down = False
        self._features_stale = False
        self.pinned = PinnedDrawing()
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._analyse)
        self._cache = WorkerCache()      # used by the worker thread only
        self._detector = None            # the unsure flag of self.network, once fitted
        self._novelty_stale = False      # a fit waits for training to pause
        self._runner = BackgroundRunner("explain", ("map", "strip", "novelty", "features"), self)
        self._runner.finished.connect(self._on_done)
        self._runner.failed.connect(self._on_failed)

    # --- inputs -------------------------------------------------------------------------

    @Slot()
    def drawing_changed(self):
        """The pen moved: analyse soon (once, however many moves arrive meanwhile)."""
        self._pen_down = True
        self._timer.start()

    @Slot()
    def drawing_finished(self):
        """The pen lifted (or undo, clear, a loaded picture): analyse and explain fully."""
        self._pen_down = False
        self._timer.start()

    @Slot(object, str)
    def show_model(self, network, description):
        """Explain with ``network`` (built for this place from the model on show) from now on."""
        self.network = network
        self._explainer = Explainer(network)
        self._embedding_layer = embedding_layer(network)
        self.pinned.set_architecture(network)
        # The unsure flag belongs to one model: refitted (about a second, so off
        # this thread) whenever the model on show changes: load, epoch end, reset.
        # While training runs the model changes every second: a fit each time would
        # take a core from training for nothing, so the flag waits for a pause.
        self._detector = None
        self._novelty_stale = self.training_state == "running"
        if not self._novelty_stale:
            self._runner.submit("novelty", functools.partial(_fit_detector, network))
        self._timer.start()
        self._request_features()

    @Slot(str)
    def set_training_state(self, state):
        """Feature visualisation and the unsure flag's fit wait while training runs (they
        cost a core for a while)."""
        self.training_state = state
        if state != "running" and self._features_stale:
            self._request_features()
        if state != "running" and self._novelty_stale and self.network is not None:
            self._novelty_stale = False
            self._runner.submit("novelty", functools.partial(_fit_detector, self.network))

    @Slot(object)
    def set_choice(self, choice):
        """The method, layer, target or contrast changed: the strip and the map follow."""
        self.choice = choice
        self._timer.start()

    @Slot(str, int)
    def choose_channel(self, layer, channel):
        """Visualise ``channel`` of conv ``layer``."""
        self.feature_choice = (layer, channel)
        self._request_features(forced=True)

    # --- watch it learn -----------------------------------------------------------------

    @Slot(bool)
    def set_pinned(self, pinned):
        """Pin the current drawing (follow its Grad-CAM per epoch), or let it go."""
        if pinned and self.digit is not None:
            self.pinned.pin(self.digit, self.choice.layer)
        else:
            self.pinned.unpin()
        self._show_learning()

    @Slot(object)
    def start_session(self, snapshots, description=""):
        """A new session began; ``snapshots`` is its epoch -> ``state_dict`` store and
        ``description`` says where its first weights came from ("shipped model.npz ...")."""
        self.pinned.start_session(snapshots)
        self.session_origin.emit(description)
        self._show_learning()

    @Slot(object)
    def add_epoch(self, summary):
        """An epoch finished (a :class:`gui.records.EpochSummary`)."""
        self.pinned.add_epoch(summary.record.epoch)
        self._show_learning()

    @Slot(int)
    def truncate_epochs(self, epoch):
        """The timeline rewound to ``epoch``."""
        self.pinned.truncate(epoch)
        self._show_learning()

    def _show_learning(self):
        if self.pinned.pinned:
            self.learning_changed.emit(self.pinned.digit, self.pinned.frames())
        else:
            self.learning_changed.emit(None, [])

    # --- the cheap path ---------------------------------------------------------------------

    def _analyse(self):
        if self._explainer is None:
            return
        picture, ink = self._read()
        try:
            digit = picture.digit if picture is not None else normalise_ink(ink)
        except EmptyImageError:
            self._show_empty()
            return
        self.digit, self.label = digit, picture.label if picture is not None else None
        self.analysis = self._analysis_of(digit)
        self.analysed.emit(digit, self.analysis)
        self.judged.emit(self._verdict())
        self.drawing_present.emit(True)
        if self.choice.is_cam:
            self.quick_map.emit(digit, self.analysis.cams[self.choice.layer][1],
                                self.analysis.target, self.analysis.contrast)
        self._show_pair()
        self.embedding_features.emit(self.analysis.activations[self._embedding_layer])
        self.label_suggested.emit(self.analysis.predicted if self.label is None else self.label)
        self._request_maps()

    def _analysis_of(self, digit):
        """One pass for the panels; a contrast equal to the explained class is dropped."""
        choice = self.choice
        method = choice.method if choice.is_cam else "gradcam"
        analysis, note = dropping_same_contrast(
            lambda contrast: self._explainer.analyse(digit, choice.target, contrast, method),
            choice.contrast)
        if note:
            self.map_status.emit(note)
        return analysis

    def _verdict(self):
        """The unsure flag's :class:`~cnn_core.explain.novelty.Verdict` on the digit shown, or
        None while the flag is being fitted."""
        if self._detector is None:
            return None
        return self._detector.judge(self.digit[None, None], self.analysis.probabilities[None])[0]

    def _show_pair(self):
        if self.label is None:
            self.pair_hidden.emit()
            return
        layer, predicted = self.choice.layer, self.analysis.predicted
        maps = [self._explainer.explain(self.digit, "gradcam", layer, target).heatmap
                for target in (self.label, predicted)]
        self.pair_ready.emit(self.digit, self.label, maps[0], predicted, maps[1])

    def _show_empty(self):
        self.digit = self.analysis = self.label = None
        self.emptied.emit()
        self.drawing_present.emit(False)
        self.embedding_features.emit(None)

    # --- the worker ---------------------------------------------------------------------

    def _request_maps(self):
        choice, network, digit = self.choice, self.network, self.digit
        if choice.costly and self._pen_down:
            self.map_status.emit(f"{METHOD_NAMES[choice.method]} updates when the pen lifts")
        else:
            if choice.costly:
                self.map_status.emit(f"computing {METHOD_NAMES[choice.method]}…")
            self._runner.submit("map", functools.partial(explain_map, self._cache, network,
                                                         digit, choice))
        heatmaps = {name: cam[1] for name, cam in self.analysis.cams.items() if cam[1].any()}
        if not self._pen_down and heatmaps:
            self._runner.submit("strip", functools.partial(
                strip_scores, self._cache, network, digit, heatmaps, self.analysis.target))

    def _request_features(self, forced=False):
        if self.network is None:
            return
        if self.training_state == "running" and not forced:
            self._features_stale = True
            self.features_status.emit("feature visualisation updates when training pauses")
            return
        self._features_stale = False
        layer, channel = self.feature_choice
        self.features_status.emit(f"computing {layer} channel {channel}…")
        self._runner.submit("features", functools.partial(channel_features, self._cache,
                                                          self.network, layer, channel))

    def _on_done(self, kind, ticket, result):
        if kind == "novelty":
            network, detector = result
            if network is self.network:         # not a model since replaced
                self._detector = detector
                if self.analysis is not None:
                    self.judged.emit(self._verdict())
        elif kind == "features":
            self.features_ready.emit(result)
        elif self.digit is not None:     # maps of a drawing since cleared are dropped
            (self.map_ready if kind == "map" else self.strip_scored).emit(result)

    def _on_failed(self, kind, ticket, message):
        if kind == "map":
            # The explainer's own words (a contrast equal to the class, say) are the message.
            self.map_status.emit(message.split(": ", 1)[-1])
        elif kind == "features":
            self.features_status.emit(f"feature visualisation failed: {message}")
        elif kind == "novelty":
            log.warning("no unsure flag for this model: %s", message)

    # --- closing ------------------------------------------------------------------------

    def shutdown(self):
        """Stop analysing and end the worker thread (the running job finishes first)."""
        self._timer.stop()
        self._explainer = None
        return self._runner.shutdown()


def _fit_detector(network):
    """The worker's job: ``(network, its fitted NoveltyDetector)``."""
    return network, fit_on_sample(network)
