"""The Evaluate place: how the model on show does on the images it is judged on.

Those are the bundled 1,000 validation images, or the 10,000 MNIST test
images while full MNIST is the chosen data set.

The evaluation (predictions, confusion matrix, per-class metrics, the dense
layer's embedding: about a second) runs in a worker thread, latest request
wins, and can be cancelled.  It is refreshed when an epoch ends, when the
model on show changes while training is not running, and on demand.
"""
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from cnn_core.data import load_validation
from cnn_core.errors import UserError
from cnn_core.metrics import misclassified

from ..background import BackgroundRunner
from ..help_text import with_article
from ..style import muted
from .confusion import ConfusionView
from .embedding import EmbeddingMap
from .jobs import evaluate, network_from_state, projected
from .tables import Gallery, MetricsTable


#: How the summary names each data set's evaluation images.
JUDGED_ON = {"sample": "validation images", "mnist": "MNIST test images"}


@dataclass(frozen=True, eq=False)
class JudgedImages:
    """The images an evaluation runs on: ``images`` uint8 ``(N, 28, 28)``, ``inputs``
    float32 ``(N, 1, 28, 28)``, ``labels`` int64 ``(N,)``, and ``dataset`` by name."""

    dataset: str
    images: np.ndarray
    inputs: np.ndarray
    labels: np.ndarray

    @classmethod
    def load(cls, dataset):
        """Load a data set's evaluation images (raises DataError / ConfigError)."""
        split = load_validation(dataset)
        return cls(dataset, split.images, split.as_float(), split.labels.astype(np.int64))


class EvaluatePlace(QWidget):
    """Confusion matrix, per-class table, gallery and embedding map.

    Signals
    -------
    example_chosen(object, int) : a validation image ``(28, 28)`` in [0, 1] and its label,
        to explain in Draw & Explain.
    evaluation_started(str) : which model is being evaluated.
    evaluation_progress(int, int) : validation images done, and their number.
    evaluation_ended(str) : nothing more is being evaluated; empty when all went well,
        else why it stopped.
    """

    example_chosen = Signal(object, int)
    evaluation_started = Signal(str)
    evaluation_progress = Signal(int, int)
    evaluation_ended = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model, self.training_state = None, "idle"
        self._judged = JudgedImages.load("sample")     # what the next evaluation runs on
        self.shown = self._judged                      # what the evaluation on show ran on
        self.evaluation = None
        self._embedding = None          # the fixed basis, fitted at the first evaluation
        self._basis_generation = 0      # counts Reset / Refit axes
        self._refit_after_epoch = False
        self._basis_tickets = {}        # job ticket -> basis generation, for the jobs not done
        self._cancels = 0               # counts Cancel; a job stops when it changes
        self._drawing = None            # the drawing's dense features, for the star
        self._runner = BackgroundRunner("evaluate", ("evaluate",), self)
        self._runner.finished.connect(self._on_done)
        self._runner.failed.connect(self._on_failed)
        self.summary = QLabel(objectName="evaluation_summary", wordWrap=True)
        self.status = muted(QLabel(objectName="evaluation_status"))
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Evaluate the model on show now")
        self.refit_button = QPushButton("Refit axes")
        self.refit_button.setToolTip("Fit the embedding's two axes afresh to this model")
        self.confusion = ConfusionView()
        self.metrics = MetricsTable()
        self.gallery = Gallery()
        self.embedding = EmbeddingMap()
        self._build_layout()
        self._wire()

    def _build_layout(self):
        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        header.addWidget(self.status)
        header.addWidget(self.refit_button)
        header.addWidget(self.refresh_button)
        left = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        left.addWidget(self.confusion)
        left.addWidget(self.metrics)
        left.setSizes([460, 260])
        right = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        right.addWidget(self.gallery)
        right.addWidget(self.embedding)
        right.setSizes([280, 440])
        split = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([560, 760])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(split, 1)

    def _wire(self):
        """Every connection of the page, in one place."""
        self.refresh_button.clicked.connect(self.refresh)
        self.refit_button.clicked.connect(self.refit)
        self.confusion.cell_clicked.connect(self._cell_clicked)
        self.gallery.image_clicked.connect(self._choose)

    # --- slots for the main window ------------------------------------------------------

    @Slot(object)
    def show_model(self, model):
        """The model on show changed (a :class:`~cnn_core.model_record.ModelRecord`);
        evaluate it unless training is running.  The record never changes, so it is kept
        as it is; each evaluation builds its own network from it, in the job's thread."""
        self.model = model
        if self.training_state != "running":
            self.refresh()

    @Slot(str)
    def set_training_state(self, state):
        """While training runs, only finished epochs are evaluated."""
        self.training_state = state

    @Slot(object)
    def evaluate_epoch(self, summary):
        """Evaluate the weights at the end of an epoch (a :class:`gui.records.EpochSummary`)."""
        if self.model is None:
            return
        if self._refit_after_epoch:
            self._refit_after_epoch = False
            self.start_session()        # fit the axes to features that mean something
        architecture, state = self.model.layer_specs(), summary.state
        self._submit(lambda: network_from_state(architecture, state),
                     f"after epoch {summary.record.epoch}")

    @Slot()
    def refit_after_next_epoch(self):
        """Fit the axes afresh once the next epoch ends (after Reset: random weights'
        features are noise, and axes fitted to them would stay meaningless)."""
        self._refit_after_epoch = True

    @Slot()
    def start_session(self):
        """New weights (Reset, Open): the next evaluation fits new axes."""
        self._embedding = None
        self._basis_generation += 1

    @Slot(str)
    def use_dataset(self, dataset):
        """Judge on ``dataset``'s evaluation images from now on (``"sample"`` or ``"mnist"``).

        Full MNIST not downloaded (or damaged): the status says so, and the
        current images stay.
        """
        if dataset == self._judged.dataset:
            return
        try:
            self._judged = JudgedImages.load(dataset)
        except UserError as exc:
            self.status.setText(f"still on the {JUDGED_ON[self._judged.dataset]}: {exc}")
            return
        self.start_session()           # other images: fit the map's axes afresh
        if self.training_state != "running":
            self.refresh()

    @property
    def images(self):
        """uint8 ``(N, 28, 28)``: the images of the evaluation on show."""
        return self.shown.images

    @property
    def labels(self):
        """int64 ``(N,)``: their labels."""
        return self.shown.labels

    @Slot(object)
    def show_drawing(self, features):
        """Place the current drawing (its dense features ``(F,)``, or None) on the map."""
        self._drawing = features
        self._place_drawing()

    def refresh(self):
        """Evaluate the model on show now."""
        if self.model is not None:
            self._submit(self.model.network, self.model.description)

    def refit(self):
        """Fit the embedding's axes afresh at the next evaluation, and run it."""
        self.start_session()
        self.refresh()

    @Slot()
    def cancel(self):
        """Stop evaluating: a waiting job at once, the running one at its next step."""
        if not self._basis_tickets:
            return
        self._cancels += 1
        self._runner.discard("evaluate")
        self._basis_tickets.clear()     # so a result already on its way is ignored
        self.status.setText("evaluation cancelled")
        self.evaluation_ended.emit("Evaluation cancelled")

    def shutdown(self):
        """End the evaluation thread; call once, when the window closes.

        A running evaluation stops at its next step (no one will see it), so closing
        does not wait for the rest of the images.
        """
        self._cancels += 1
        return self._runner.shutdown()

    # --- internals --------------------------------------------------------------------

    def _submit(self, make_network, description):
        self.status.setText("evaluating…")
        embedding, judged = self._embedding, self._judged
        cancels, report = self._cancels, self.evaluation_progress.emit

        def job():
            # Runs in the worker thread: reading an int and emitting a signal are safe there.
            return judged, evaluate(make_network(), description, judged.inputs, judged.labels,
                                    embedding, progress=report,
                                    cancelled=lambda: self._cancels != cancels)
        self._basis_tickets[self._runner.submit("evaluate", job)] = self._basis_generation
        self.evaluation_started.emit(description)

    def _finish(self, ticket):
        """Forget ``ticket`` and the replaced jobs before it (they never report).

        Returns the basis generation it was asked in, or None when it was cancelled.
        """
        generation = self._basis_tickets.get(ticket)
        if generation is not None:
            self._basis_tickets = {t: g for t, g in self._basis_tickets.items() if t > ticket}
        return generation

    def _on_failed(self, kind, ticket, message):
        if self._finish(ticket) is None:
            return
        self.status.setText(f"Evaluation failed: {message}")
        if not self._basis_tickets:
            self.evaluation_ended.emit(f"Evaluation failed: {message}")

    def _on_done(self, kind, ticket, result):
        generation = self._finish(ticket)
        if generation is None or result[1] is None:     # cancelled
            return
        self.shown, evaluation = result
        if not self._basis_tickets:
            self.evaluation_ended.emit("")
        # A basis fitted before Reset or Refit axes must not come back with a late result;
        # and of the jobs asked for before the first basis was back, the first one's wins,
        # so the axes stay put from one epoch to the next.
        if generation == self._basis_generation:
            if self._embedding is None:
                self._embedding = evaluation.embedding
            elif evaluation.embedding is not self._embedding:
                evaluation = projected(evaluation, self._embedding)
        self.evaluation = evaluation
        self.status.setText(f"evaluated in {evaluation.seconds:.1f} s")
        mistakes = int((evaluation.predicted != self.labels).sum())
        self.summary.setText(f"<b>{evaluation.description}</b>: accuracy "
                             f"<b>{evaluation.accuracy:.1%}</b> on {len(self.labels):,} "
                             f"{JUDGED_ON[self.shown.dataset]}, {mistakes} mistakes")
        self.confusion.show_matrix(evaluation.matrix)
        self.metrics.show_metrics(evaluation.per_class)
        self.embedding.show_evaluation(evaluation, self.images)
        self._place_drawing()
        # The gallery follows the outlined cell into the new evaluation, so the two agree.
        if self.confusion.selected is not None:
            self.show_cell(*self.confusion.selected)
        else:
            self._show_mistakes()

    def _cell_clicked(self, true_class, predicted):
        """A click on a cell shows its images; on the outlined cell, all the mistakes."""
        if self.confusion.selected == (true_class, predicted):
            self.show_mistakes()
        else:
            self.show_cell(true_class, predicted)

    def show_mistakes(self):
        """Show every mistake in the gallery, with no cell outlined."""
        self.confusion.clear_selection()
        if self.evaluation is not None:
            self._show_mistakes()

    def _show_mistakes(self):
        wrong = misclassified(self.labels, self.evaluation.probabilities)
        captions = [f"{t}→{p} {c:.0%}" for t, p, c in
                    zip(wrong["true"], wrong["predicted"], wrong["confidence"])]
        self.gallery.show_images(f"All {len(captions)} mistakes, most confident first "
                                 f"(click a cell of the matrix for its images)",
                                 wrong["index"], self.images, captions)

    def show_cell(self, true_class, predicted):
        """Show exactly the images of one confusion cell in the gallery."""
        if self.evaluation is None:
            return
        ev = self.evaluation
        indices = np.flatnonzero((self.labels == true_class) & (ev.predicted == predicted))
        confidence = ev.probabilities[indices, predicted]
        order = np.argsort(-confidence, kind="stable")
        indices, confidence = indices[order], confidence[order]
        self.confusion.select(true_class, predicted)
        if not len(indices):
            every = f" (it got every {true_class} wrong)" if true_class == predicted else ""
            title = (f"No images: the network never predicted {predicted} for a true "
                     f"{true_class}{every} (click the cell again for all the mistakes)")
        else:
            kind = "right" if true_class == predicted else "wrong"
            title = (f"{len(indices)} image{'s' * (len(indices) != 1)} of "
                     f"{with_article(true_class)} the network calls {predicted} ({kind}); "
                     f"click one to explain it, or the cell again for all the mistakes")
        self.gallery.show_images(title, indices, self.images,
                                 [f"{predicted} ({c:.0%})" for c in confidence])

    def _choose(self, index):
        self.example_chosen.emit(self.images[index].astype(np.float32) / 255.0,
                                 int(self.labels[index]))

    def _place_drawing(self):
        if self._embedding is None or self._drawing is None:
            self.embedding.show_drawing(None)
        else:
            self.embedding.show_drawing(self._embedding.transform(self._drawing[None])[0])
