"""The Draw & Explain place: the canvas and its tools on the left; beside it, one tab
each, what the network makes of the drawing, its activations, features, learning and insides.

The panels never call each other: :meth:`DrawExplainPlace._wire` connects
them to the :class:`~gui.draw.controller.DrawController`, the one place
where this page's signals meet.
"""
import logging

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QButtonGroup, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QMessageBox, QPushButton, QSlider, QSpinBox,
                               QSplitter, QTabWidget, QToolButton,
                               QVBoxLayout, QWidget)

from cnn_core.errors import DataError, ImageError

from ..network.panel import NetworkPanel
from ..style import others_give_way, restore_policies
from .activations import ActivationGrids, shown_layers
from .backward_tab import BackwardTab
from .cams import CamStrip
from .canvas import BRUSH_RANGE, DrawingCanvas
from .controller import DrawController
from .features import FeaturePanel
from .inputs import (can_read, digit_from_file, digit_from_mime, validation_example,
                     validation_index_of)
from .learning import LearningStrip
from .method_panel import MethodPanel
from .personal_set import PersonalSet
from .prediction import PredictionPanel
from .teach import DrawingsDialog, TeachPanel

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
#: The validation index box's value while it names no validation image.
NO_INDEX = -1
INDEX_TIP = "Which of the 1,000 bundled validation images (#0 to #999) to show"
NO_INDEX_TIP = ("The image from Evaluate is not one of the bundled validation images; "
                "choose an index to show one of those")
LEFT_WIDTH = 440
#: How much larger the answer in words is in presentation mode (the app's type grows too).
PRESENTED_ANSWER_SCALE = 2.0
#: Qt's "no maximum" size.
QWIDGETSIZE_MAX = 16777215


def conv_sources(network):
    """For every layer, the conv layer whose channels it carries (None before the first)."""
    sources, conv = {}, None
    for layer in network.layers:
        if type(layer).__name__ == "Conv2D":
            conv = layer.name
        sources[layer.name] = conv
    return sources


class DrawExplainPlace(QWidget):
    """Draw a digit (or load one) and see the network's answer and its reasons.

    Parameters
    ----------
    network : cnn_core.network.Network
        Any network of the app's architecture (for the layer names).

    Signals
    -------
    error_occurred(str, str) : a title and a one-line message for the window to show.
    embedding_features(object) : the drawing's dense features (or None), for Evaluate.
    extra_training_changed(object) : an ExtraTraining to train on too, or None.
    """

    error_occurred = Signal(str, str)
    embedding_features = Signal(object)
    extra_training_changed = Signal(object)

    def __init__(self, network, parent=None):
        super().__init__(parent)
        self.network = self.model = None
        conv_names = network.conv_layer_names()
        channels = {name: network.layer(name).out_channels for name in conv_names}
        self._conv_of = conv_sources(network)
        self.canvas = DrawingCanvas()
        self.method_panel = MethodPanel(conv_names)
        # The third conv layer to start with (or the last of fewer): the first one's best
        # input is a flat field, a deeper one's a stroke pattern.
        self.controller = DrawController(lambda: (self.canvas.picture(), self.canvas.ink()),
                                         self.method_panel.current,
                                         (conv_names[min(2, len(conv_names) - 1)], 0), self)
        self.prediction = PredictionPanel()
        self.cam_strip = CamStrip(conv_names)
        self.activations = ActivationGrids(shown_layers(network))
        self.features = FeaturePanel(channels)
        self.learning = LearningStrip()
        self.teach = TeachPanel()
        self.network_panel = NetworkPanel()
        self.backward_tab = BackwardTab()
        self.model_label = QLabel(wordWrap=True)
        self.personal = self._open_personal_set()
        self._before_presenting = None      # the layout to restore after presenting
        self.setAcceptDrops(True)
        self.split = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        self.split.addWidget(self._left_column())
        self.split.addWidget(self._right_side())
        # Both sides give way on a narrow screen (the views' tab names need the room),
        # the canvas column never wider than a little over its square.
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 3)
        self.split.widget(0).setMaximumWidth(LEFT_WIDTH + 40)
        self.split.setSizes([LEFT_WIDTH, 3 * LEFT_WIDTH])
        QHBoxLayout(self).addWidget(self.split)
        self._wire()
        self.features.choose(*self.controller.feature_choice)
        self.teach.set_drawing_present(False)

    # --- layout -------------------------------------------------------------------------

    def _left_column(self):
        column = QWidget()
        box = QVBoxLayout(column)
        box.setContentsMargins(0, 0, 4, 0)
        box.addLayout(self._tools())
        # Square at most; shorter on a small screen (a laptop at 150 % has 720 points).
        self.canvas.setMaximumHeight(LEFT_WIDTH - 8)
        box.addWidget(self.canvas, 1)
        box.addLayout(self._inputs())
        self.teach_box = QGroupBox("Teach it")
        QVBoxLayout(self.teach_box).addWidget(self.teach)
        box.addWidget(self.teach_box)
        box.addWidget(self.model_label)
        box.addStretch(1)
        return column

    def _tools(self):
        row = QHBoxLayout()
        self.pen_button = QToolButton(text="Pen", checkable=True, checked=True)
        self.eraser_button = QToolButton(text="Eraser", checkable=True)
        group = QButtonGroup(self)
        for button in (self.pen_button, self.eraser_button):
            group.addButton(button)
            row.addWidget(button)
        self.brush = QSlider(Qt.Orientation.Horizontal, minimum=BRUSH_RANGE[0],
                             maximum=BRUSH_RANGE[1], value=round(self.canvas.brush_width))
        self.brush.setToolTip("Brush size (the default draws strokes as thick as MNIST's)")
        row.addWidget(QLabel("Size"))
        row.addWidget(self.brush, 1)
        self.undo_button = QToolButton(text="Undo", toolTip="Undo the last stroke (Ctrl+Z)")
        self.clear_button = QToolButton(text="Clear", toolTip="Clear the sheet (Ctrl+Delete)")
        row.addWidget(self.undo_button)
        row.addWidget(self.clear_button)
        return row

    def _inputs(self):
        row = QGridLayout()
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Open an image file (you can also drop one here, or "
                                    "paste with Ctrl+V)")
        self.paste_button = QPushButton("Paste")
        # "#–" (and no button) while the image from Evaluate is not a validation image.
        self.validation_index = QSpinBox(minimum=NO_INDEX, maximum=999, prefix="#",
                                         value=0, specialValueText="#–", toolTip=INDEX_TIP)
        self.validation_button = QPushButton("Validation image")
        self.validation_button.setToolTip("Show one of the 1,000 bundled validation images, "
                                          "with Grad-CAM for its true and predicted class")
        self.validation_index.valueChanged.connect(self._index_changed)
        # Two rows: on one the column could not be narrower than the four buttons.
        for index, widget in enumerate((self.open_button, self.paste_button,
                                        self.validation_index, self.validation_button)):
            row.addWidget(widget, index // 2, index % 2)
        return row

    def _right_side(self):
        """The views beside the canvas, one tab each, so that each has the whole width
        a small screen leaves (the canvas stays in sight: drawing updates every view)."""
        # A labelled image's true-and-predicted pair shares the strip's room (a tab it
        # is brought to), so showing it never shrinks the main map.
        self.strip_tabs = QTabWidget(documentMode=True)
        self.strip_tabs.addTab(self.cam_strip, "Every conv layer")
        self.strip_tabs.addTab(self.method_panel.pair, "True and predicted class")
        self.strip_tabs.setTabVisible(1, False)
        self.explain = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        # The answer's bars stay readable; the main map takes what the screen has to spare.
        self.prediction.setMinimumHeight(max(140, self.prediction.minimumSizeHint().height()))
        for widget, stretch in ((self.prediction, 2), (self.method_panel, 6),
                                (self.strip_tabs, 3)):
            self.explain.addWidget(widget)
            self.explain.setStretchFactor(self.explain.count() - 1, stretch)
        self.views = QTabWidget(documentMode=True)
        for widget, name in ((self.explain, "Explain"), (self.activations, "Activations"),
                             (self.features, "Feature visualisation"),
                             (self.learning, "Watch it learn"),
                             (self.network_panel, "Inside the network"),
                             (self.backward_tab, "Backward pass")):
            self.views.addTab(widget, name)
        return self.views

    def _show_pair_tab(self, shown):
        """Bring the true-and-predicted pair to the front while it has maps to show."""
        self.strip_tabs.setTabVisible(1, shown)
        self.strip_tabs.setCurrentIndex(1 if shown else 0)

    # --- wiring -------------------------------------------------------------------------

    def _wire(self):
        """Every connection of the page, in one place."""
        c, canvas = self.controller, self.canvas
        canvas.changed.connect(c.drawing_changed)
        canvas.finished.connect(c.drawing_finished)
        self.pen_button.toggled.connect(lambda pen: canvas.set_eraser(not pen))
        canvas.eraser_changed.connect(lambda eraser: (self.eraser_button if eraser
                                                      else self.pen_button).setChecked(True))
        self.brush.valueChanged.connect(canvas.set_brush_width)
        self.undo_button.clicked.connect(canvas.undo)
        self.clear_button.clicked.connect(canvas.clear)
        for keys, slot in ((QKeySequence.StandardKey.Undo, canvas.undo),
                           (QKeySequence("Ctrl+Delete"), canvas.clear),
                           (QKeySequence.StandardKey.Paste, self.paste)):
            # Window-wide, but only while this place is on show (a hidden widget's
            # shortcuts are off); text fields keep their own Ctrl+Z and Ctrl+V.
            QShortcut(keys, self, context=Qt.ShortcutContext.WindowShortcut, activated=slot)
        self.open_button.clicked.connect(lambda: self.open_image_file())
        self.paste_button.clicked.connect(self.paste)
        self.validation_button.clicked.connect(
            lambda: self.show_validation_image(self.validation_index.value()))
        # Controller -> panels.
        for slot in (self.prediction.show_analysis, self.cam_strip.show_analysis):
            c.analysed.connect(slot)
        c.judged.connect(self.prediction.show_verdict)
        c.analysed.connect(lambda digit, analysis: self.activations.show_outputs(
            analysis.activations))
        c.analysed.connect(lambda digit, analysis: self.network_panel.show_pass(
            self.network.architecture, self._weights, digit, analysis.activations,
            analysis.probabilities))
        c.emptied.connect(self.network_panel.show_empty)
        c.analysed.connect(lambda digit, analysis: self.backward_tab.show_drawing(
            self.model, digit, analysis.probabilities))
        c.emptied.connect(self.backward_tab.show_empty)
        for slot in (self.prediction.show_empty, self.cam_strip.show_empty,
                     self.method_panel.show_empty, self.activations.show_empty):
            c.emptied.connect(slot)
        c.quick_map.connect(self.method_panel.show_quick)
        c.map_ready.connect(self.method_panel.show_result)
        c.map_status.connect(self.method_panel.show_status)
        c.strip_scored.connect(self.cam_strip.show_scores)
        c.pair_ready.connect(self.method_panel.show_pair)
        c.pair_hidden.connect(self.method_panel.hide_pair)
        self.method_panel.pair_shown.connect(self._show_pair_tab)
        c.features_ready.connect(self.features.show_features)
        c.features_status.connect(self.features.show_status)
        c.learning_changed.connect(self.learning.show_frames)
        c.session_origin.connect(self.learning.set_origin)
        c.label_suggested.connect(self.teach.suggest_label)
        c.drawing_present.connect(self.teach.set_drawing_present)
        c.drawing_present.connect(self.learning.pin.setEnabled)
        c.embedding_features.connect(self.embedding_features)
        # Panels -> controller.
        self.method_panel.choice_changed.connect(c.set_choice)
        self.features.channel_chosen.connect(c.choose_channel)
        self.activations.channel_clicked.connect(
            lambda layer, channel: self.features.choose(self._conv_of[layer], channel))
        self.learning.pin_toggled.connect(c.set_pinned)
        self.teach.add_requested.connect(self.add_to_personal_set)
        self.teach.view_requested.connect(self.view_personal_set)
        self.teach.clear_requested.connect(self.confirm_clear_personal_set)
        self.teach.include_toggled.connect(lambda on: self._announce_personal_set())

    # --- slots for the main window ------------------------------------------------------

    @Slot(object)
    def show_model(self, model):
        """Explain the model on show (a :class:`~cnn_core.model_record.ModelRecord`) from now on."""
        self.model = model
        self.network = model.network()      # this place's own: nothing else holds it
        self._weights = model.weights
        self.model_label.setText(f"<b>Explaining:</b> {model.description}")
        self.controller.show_model(self.network, model.description)

    @Slot(str)
    def set_training_state(self, state):
        """``idle``, ``running``, ``paused`` or ``stopping``."""
        self.controller.set_training_state(state)

    @Slot(object, int)
    def show_example(self, digit, label):
        """Show a labelled image (from Evaluate): Grad-CAM for its true and predicted class.

        The validation index box follows: the image's index when it is a bundled
        validation image (so "Validation image" shows it again), else "#–".
        """
        index = validation_index_of(digit, label)
        self.validation_index.setValue(NO_INDEX if index is None else index)
        self.canvas.set_picture(digit, label)

    @Slot(bool)
    def set_training_locked(self, locked):
        """Whether the run's training data is fixed (so "include in training" is too)."""
        self.teach.set_locked(locked)

    def set_presentation(self, on):
        """Enlarge the canvas, the answer and the main map for a projector (``on``),
        the secondary panels hidden; or put back exactly what was there before."""
        if on:
            self._before_presenting = (
                self.split.saveState(), self.explain.saveState(), self.views.currentIndex(),
                self.answer_font(), self.canvas.maximumHeight(),
                {widget: not widget.isHidden() for widget in self._secondary()},
                [self.views.isTabVisible(i) for i in range(self.views.count())])
            for widget in self._secondary():
                widget.setVisible(False)
            self.views.setCurrentWidget(self.explain)
            for index in range(self.views.count()):
                self.views.setTabVisible(index, self.views.widget(index) is self.explain)
            # The hidden views, in larger type, would widen the window past a 1024-pixel
            # projector: meanwhile they take the room they are given.
            self._presented_policies = others_give_way(self.views, self.explain)
            font = self.answer_font()
            font.setPointSizeF(font.pointSizeF() * PRESENTED_ANSWER_SCALE)
            self.prediction.answer.setFont(font)
            self.canvas.setMaximumHeight(QWIDGETSIZE_MAX)
            self.split.widget(0).setMaximumWidth(QWIDGETSIZE_MAX)
            # The canvas square in the height there is, the map and answer beside it.
            left = min(self.height(), self.width() * 2 // 5)
            self.split.setSizes([left, self.width() - left])
            # A third of the height for the answer's bars, the rest for the map.
            height = self.explain.height()
            self.explain.setSizes([height // 3, height - height // 3, 0])
            self.views.tabBar().setVisible(False)       # one tab left: no bar needed
        elif self._before_presenting is not None:
            split, explain, view, font, canvas, shown, tabs = self._before_presenting
            self._before_presenting = None
            self.views.tabBar().setVisible(True)
            restore_policies(self._presented_policies)
            for index, visible in enumerate(tabs):
                self.views.setTabVisible(index, visible)
            for widget, visible in shown.items():
                widget.setVisible(visible)
            self.prediction.answer.setFont(font)
            self.canvas.setMaximumHeight(canvas)
            self.split.widget(0).setMaximumWidth(LEFT_WIDTH + 40)
            # Again once the splitters have taken in the panels shown again (a splitter
            # sizes a child when the child's show event arrives, after this).
            for splitter, state in ((self.split, split), (self.explain, explain)):
                splitter.restoreState(state)
                QTimer.singleShot(0, lambda s=splitter, t=state: s.restoreState(t))
            self.views.setCurrentIndex(view)     # last: the splitters are sized on show

    def answer_font(self):
        """The font of the answer in words (a copy)."""
        return QFont(self.prediction.answer.font())

    def _secondary(self):
        """What presentation mode hides: the tools beyond drawing, and the CAM strip."""
        return (self.teach_box, self.model_label, self.strip_tabs, self.open_button,
                self.paste_button, self.validation_index, self.validation_button)

    def shutdown(self):
        """End the explanation thread; call once, when the window closes."""
        return self.controller.shutdown()

    # --- other inputs -------------------------------------------------------------------

    def open_image_file(self, path=None):
        """Open an image file (asking for one when ``path`` is None); False if nothing changed."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open an image of a digit", "",
                                                  IMAGE_FILTER)
            if not path:
                return False
        return self._load(lambda: digit_from_file(path))

    def paste(self):
        """Take an image (or an image file) from the clipboard; False if there is none."""
        mime = QGuiApplication.clipboard().mimeData()
        return self._load(lambda: digit_from_mime(mime, "pasted image"))

    def show_validation_image(self, index):
        """Show bundled validation image ``index`` with its true label."""
        self.canvas.set_picture(*validation_example(index))

    def _index_changed(self, index):
        named = index != NO_INDEX
        self.validation_button.setEnabled(named)
        self.validation_index.setToolTip(INDEX_TIP if named else NO_INDEX_TIP)

    def _load(self, read):
        try:
            digit = read()
        except ImageError as exc:
            self.error_occurred.emit("Cannot use this image", str(exc))
            return False
        self.canvas.set_picture(digit)
        return True

    def dragEnterEvent(self, event):
        if can_read(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event):
        mime = event.mimeData()
        self._load(lambda: digit_from_mime(mime, "dropped image"))
        event.acceptProposedAction()

    # --- the personal set ---------------------------------------------------------------

    def _open_personal_set(self):
        try:
            personal = PersonalSet()
        except DataError as exc:
            log.warning("%s", exc)
            self.teach.count.setText(f"Your saved drawings cannot be read: {exc}")
            self.teach.setEnabled(False)
            return None
        self.teach.show_counts(personal.counts())
        return personal

    def add_to_personal_set(self, label):
        """Keep the current drawing, labelled ``label``; False if there is nothing to keep."""
        digit = self.controller.digit
        if self.personal is None or digit is None:
            return False
        try:
            self.personal.add(digit, label)
        except OSError as exc:
            self.error_occurred.emit("Cannot save the drawing", str(exc))
            return False
        self.teach.show_counts(self.personal.counts())
        self._announce_personal_set()
        return True

    def view_personal_set(self):
        """Show the personal set as labelled thumbnails."""
        dialog = DrawingsDialog(self.personal.images, self.personal.labels, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def confirm_clear_personal_set(self):
        """Ask, then forget every personal drawing."""
        box = QMessageBox(QMessageBox.Icon.Question, "Clear my drawings",
                          f"Delete all {len(self.personal)} of your drawings? This cannot be "
                          f"undone.", QMessageBox.StandardButton.Yes |
                          QMessageBox.StandardButton.Cancel, self)
        yes = box.button(QMessageBox.StandardButton.Yes)
        box.buttonClicked.connect(lambda button: button == yes and self.clear_personal_set())
        box.open()
        return box

    def clear_personal_set(self):
        """Forget every personal drawing."""
        self.personal.clear()
        self.teach.show_counts(self.personal.counts())
        self._announce_personal_set()

    def _announce_personal_set(self):
        include = self.teach.include.isChecked() and self.personal is not None
        self.extra_training_changed.emit(self.personal.training_arrays() if include else None)
