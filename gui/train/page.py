"""The Train place: the widgets laid out.

The main window wires them to the controller; the page only passes what its own
widgets tell one another (the timeline's position, a cut history).
"""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QScrollArea, QSplitter, QStyle,
                               QTabWidget, QVBoxLayout, QWidget)

from ..style import muted
from .curves import TrainingCurves
from .dataset_chooser import DatasetChooser
from .health import DivergenceBanner, HealthView
from .kernels import KernelGrids
from .one_step import OneStepView
from .landscape_view import LandscapeView
from .progress import RunProgress
from .run_buttons import RunButtons
from .settings import TrainSettingsForm
from .timeline import Timeline

SIDEBAR_WIDTH = 330
#: Under "Weights from:" while an already-trained model is on show and nothing has
#: trained it yet: Start fine-tunes it, so it would not seem to learn anything.
TRAINED_MODEL_HINT = ("Start trains this model further; Reset gives new random weights, "
                      "to watch it learn from scratch.")


class TrainPage(QWidget):
    """Settings, buttons and progress on the left; curves, kernels and health on the right.

    Parameters
    ----------
    layer_names : dict
        ``conv``, ``params`` and ``relu``: the network's layer names of each kind.
    """

    def __init__(self, layer_names, parent=None):
        super().__init__(parent)
        self.dataset = DatasetChooser()
        self.settings = TrainSettingsForm()
        self.buttons = RunButtons()
        self.progress = RunProgress()
        self.model_label = QLabel(wordWrap=True)
        self.model_hint = muted(QLabel(TRAINED_MODEL_HINT, wordWrap=True, visible=False))
        self.banner = DivergenceBanner()
        self.curves = TrainingCurves()
        self.kernels = KernelGrids(layer_names["conv"], layer_names["params"])
        self.health = HealthView(layer_names["params"], layer_names["relu"])
        self.timeline = Timeline()
        self.one_step = OneStepView()
        self.landscape = LandscapeView()

        layout = QHBoxLayout(self)
        layout.addWidget(self._sidebar())
        layout.addLayout(self._plots(), 1)
        # What is on show decides what Progress and the health panel say.
        self.timeline.position_shown.connect(self.progress.show_viewed)
        self.timeline.position_shown.connect(self.health.show_viewed)
        # A new session or a way back makes "all epochs are done" and the like stale.
        self.progress.history_cut.connect(lambda: self.settings.show_error(""))

    def _sidebar(self):
        column = QWidget()
        box = QVBoxLayout(column)
        box.setContentsMargins(0, 0, 6, 0)
        for widget in (self.dataset, self.settings, self.buttons, self.progress,
                       self.model_label, self.model_hint):
            box.addWidget(widget)
        box.addStretch(1)
        # Scrolls rather than squeezes the fields on a small screen; the scroll bar
        # gets room of its own, so it never covers the fields' right edge.
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(column)
        scroll.setFixedWidth(SIDEBAR_WIDTH + self.style().pixelMetric(
            QStyle.PixelMetric.PM_ScrollBarExtent))
        return scroll

    def _plots(self):
        splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        for widget, stretch in ((self.curves, 4), (self.kernels, 4), (self.health, 2)):
            widget.setMinimumHeight(150)
            splitter.addWidget(widget)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        # Views of the run beside the curves (one step, the weights' path) are
        # further tabs of this widget.
        self.views = QTabWidget(documentMode=True)
        self.views.addTab(splitter, "Curves && kernels")
        self.views.addTab(self.one_step, "One step")
        self.views.addTab(self.landscape, "Weight path")
        column = QVBoxLayout()
        column.addWidget(self.banner)
        column.addWidget(self.views, 1)
        column.addWidget(self.timeline)
        return column

    def show_model_info(self, origin, on_show):
        """Say where the weights came from and which model the places show."""
        text = f"<b>Weights from:</b> {origin}"
        if on_show != origin:
            text += f"<br><b>On show:</b> {on_show}"
        self.model_label.setText(text)
        # Untouched weights are described as they came (a new session); any batch,
        # rewind or timeline epoch describes them otherwise.
        trained = not origin.startswith("random weights")
        self.model_hint.setVisible(trained and on_show == origin)
