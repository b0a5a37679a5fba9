"""The Evaluate place: how the model on show does on the validation images.

The evaluation (predictions, confusion matrix, per-class metrics, the dense
layer's embedding: under a second) runs in a worker thread, latest request
wins.  It is refreshed when an epoch ends, when the model on show changes
while training is not running, and on demand.
"""
import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from cnn_core.data import load_sample
from cnn_core.metrics import misclassified

from ..draw.background import BackgroundRunner
from .confusion import ConfusionView
from .embedding import EmbeddingMap
from .jobs import evaluate, network_from_state
from .tables import Gallery, MetricsTable


class EvaluatePlace(QWidget):
    """Confusion matrix, per-class table, gallery and embedding map.

    Signals
    -------
    example_chosen(object, int) : a validation image ``(28, 28)`` in [0, 1] and its label,
        to explain in Draw & Explain.
    """

    example_chosen = Signal(object, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.network, self.description, self.training_state = None, "", "idle"
        validation = load_sample()[1]
        self.images, self.labels = validation.images, validation.labels.astype(np.int64)
        self._inputs = validation.as_float()
        self.evaluation = None
        self._embedding = None          # the fixed basis, fitted at the first evaluation
        self._basis_generation = 0      # counts Reset / Refit axes
        self._basis_tickets = {}        # job ticket -> basis generation it was asked in
        self._drawing = None            # the drawing's dense features, for the star
        self._runner = BackgroundRunner("evaluate", ("evaluate",), self)
        self._runner.finished.connect(self._on_done)
        self._runner.failed.connect(lambda kind, ticket, message: self.status.setText(
            f"Evaluation failed: {message}"))
        self.summary = QLabel(objectName="evaluation_summary", wordWrap=True)
        self.status = QLabel(objectName="evaluation_status")
        self.status.setStyleSheet("color: #666;")
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
        self.confusion.cell_clicked.connect(self.show_cell)
        self.gallery.image_clicked.connect(self._choose)

    # --- slots for the main window ------------------------------------------------------

    @Slot(object, str)
    def show_model(self, network, description):
        """The model on show changed; evaluate it unless training is running."""
        self.network, self.description = network, description
        if self.training_state != "running":
            self.refresh()

    @Slot(str)
    def set_training_state(self, state):
        """While training runs, only finished epochs are evaluated."""
        self.training_state = state

    @Slot(object)
    def evaluate_epoch(self, summary):
        """Evaluate the weights at the end of an epoch (a :class:`gui.records.EpochSummary`)."""
        if self.network is None:
            return
        architecture, state = self.network.architecture, summary.state
        self._submit(lambda: network_from_state(architecture, state),
                     f"after epoch {summary.record.epoch}")

    @Slot()
    def start_session(self):
        """New weights (Reset, Open): the next evaluation fits new axes."""
        self._embedding = None
        self._basis_generation += 1

    @Slot(object)
    def show_drawing(self, features):
        """Place the current drawing (its dense features ``(F,)``, or None) on the map."""
        self._drawing = features
        self._place_drawing()

    def refresh(self):
        """Evaluate the model on show now."""
        if self.network is not None:
            network = self.network
            self._submit(lambda: network, self.description)

    def refit(self):
        """Fit the embedding's axes afresh at the next evaluation, and run it."""
        self.start_session()
        self.refresh()

    def shutdown(self):
        """End the evaluation thread; call once, when the window closes."""
        return self._runner.shutdown()

    # --- internals --------------------------------------------------------------------

    def _submit(self, make_network, description):
        self.status.setText("evaluating…")
        embedding, inputs, labels = self._embedding, self._inputs, self.labels
        self._basis_tickets[self._runner.submit("evaluate", lambda: evaluate(
            make_network(), description, inputs, labels, embedding))] = self._basis_generation

    def _on_done(self, kind, ticket, evaluation):
        self.evaluation = evaluation
        # A basis fitted before Reset or Refit axes must not come back with a late result.
        generation = self._basis_tickets.get(ticket)
        # Jobs replaced before they ran never report: forget them with this one.
        self._basis_tickets = {t: g for t, g in self._basis_tickets.items() if t > ticket}
        if generation == self._basis_generation:
            self._embedding = evaluation.embedding
        self.status.setText(f"evaluated in {evaluation.seconds:.1f} s")
        mistakes = int((evaluation.predicted != self.labels).sum())
        self.summary.setText(f"<b>{evaluation.description}</b>: accuracy "
                             f"<b>{evaluation.accuracy:.1%}</b> on {len(self.labels):,} "
                             f"validation images, {mistakes} mistakes")
        self.confusion.show_matrix(evaluation.matrix)
        self.metrics.show_metrics(evaluation.per_class)
        self.embedding.show_evaluation(evaluation, self.images)
        self._place_drawing()
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
        kind = "right" if true_class == predicted else "wrong"
        self.gallery.show_images(
            f"{len(indices)} image{'s' * (len(indices) != 1)} of a {true_class} the network "
            f"calls {predicted} ({kind}); click one to explain it", indices, self.images,
            [f"{predicted} ({c:.0%})" for c in confidence])

    def _choose(self, index):
        self.example_chosen.emit(self.images[index].astype(np.float32) / 255.0,
                                 int(self.labels[index]))

    def _place_drawing(self):
        if self._embedding is None or self._drawing is None:
            self.embedding.show_drawing(None)
        else:
            self.embedding.show_drawing(self._embedding.transform(self._drawing[None])[0])
