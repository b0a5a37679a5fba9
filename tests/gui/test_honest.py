"""Issue 20, "honest answers" items 4 and 5: evidence for and against on a diverging map,
the Grad-CAM strip explaining an empty map, and the smaller defects, one test each.

Widget-level: each test builds the one widget it checks and feeds it what the app does.
"""
from types import SimpleNamespace

import numpy as np
import pytest
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QToolTip, QWidget
from scipy.ndimage import binary_erosion, binary_fill_holes

from cnn_core import paths
from cnn_core.data import load_sample
from cnn_core.explain import Explainer
from cnn_core.model_files import load_model
from cnn_core.trainer import EpochRecord
from gui.draw.cams import CamStrip
from gui.draw.canvas import INK_COLOUR, DrawingCanvas
from gui.draw.controller import DrawController
from gui.draw.jobs import MapChoice, MapResult
from gui.draw.learning import TIP as LEARNING_TIP
from gui.draw.learning import LearningStrip
from gui.draw.method_panel import MethodPanel
from gui.draw.place import DrawExplainPlace
from gui.draw.prediction import PredictionPanel
from gui.evaluate.embedding import EmbeddingMap
from gui.help_text import HOW_IT_WORKS
from gui.images import AGAINST_RGB, FOR_RGB
from gui.records import EpochSummary
from gui.status_bar import ElidingStatusBar
from gui.train.curves import TrainingCurves

CONV = ["conv1", "conv2", "conv3", "conv4"]


@pytest.fixture(scope="module")
def explainer():
    """An explainer of the shipped model."""
    return Explainer(load_model(paths.SHIPPED_MODEL)[0])


@pytest.fixture(scope="module")
def validation():
    return load_sample()[1]


def hue_share(picture, rgb):
    """The share of pixels whose colour leans towards ``rgb`` from the paper (white)."""
    paper = np.full(3, 255.0)
    towards = (paper - rgb) / np.linalg.norm(paper - rgb)
    shift = (paper - picture.reshape(-1, 3).astype(float)) @ towards
    rest = np.linalg.norm((paper - picture.reshape(-1, 3)) - shift[:, None] * towards, axis=1)
    return float(np.mean((shift > 40) & (rest < 0.35 * shift)))


# --- evidence for and against ----------------------------------------------------------------

@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "integrated-gradients"])
def test_a_pixel_method_is_drawn_for_and_against_on_a_signed_scale(qtbot, explainer,
                                                                   validation, method):
    panel = MethodPanel(CONV)
    qtbot.addWidget(panel)
    panel.method.setCurrentIndex(panel.method.findData(method))
    explanation = explainer.explain(validation.as_float()[0, 0], method)
    panel.show_result(MapResult(panel.current, explanation, 0.1, 0.5, 0.01))
    picture = np.asarray(panel.map.image)
    # Both colours are on the map: evidence for the class and against it.
    assert hue_share(picture, FOR_RGB) > 0.02
    assert hue_share(picture, AGAINST_RGB) > 0.02
    # Zero evidence is plain paper, not a colour of the scale.
    zero = explanation.signed == 0
    if zero.any():
        assert (picture[zero & (explanation.image == 0)] == 255).all()
    # The legend is symmetric and says which colour is which.
    assert panel.bar.levels() == (-1, 1)
    labels = [text for _, text in panel.bar.getAxis("right")._tickLevels[0]]
    assert labels == ["against", "0", "for"]
    assert "blue" in panel.bar.toolTip() and "Orange" in panel.bar.toolTip()


def test_a_cam_after_a_signed_method_gets_its_evidence_scale_back(qtbot, explainer,
                                                                  validation):
    panel = MethodPanel(CONV)
    qtbot.addWidget(panel)
    digit = validation.as_float()[0, 0]
    panel.method.setCurrentIndex(panel.method.findData("saliency"))
    panel.show_result(MapResult(panel.current, explainer.explain(digit, "saliency"),
                                0.1, 0.5, 0.01))
    panel.method.setCurrentIndex(panel.method.findData("gradcam"))
    panel.show_result(MapResult(panel.current, explainer.explain(digit, "gradcam", "conv4"),
                                0.1, 0.5, 0.01))
    assert panel.bar.levels() == (0, 1)
    assert hue_share(np.asarray(panel.map.image), AGAINST_RGB) == 0


def test_the_strip_says_in_place_why_a_map_is_empty(qtbot, explainer, validation):
    """Grad-CAM at conv3 is empty for most digits of the shipped model."""
    images = validation.as_float()[:, 0]
    digit = next(image for image in images
                 if not explainer.analyse(image).cams["conv3"][1].any())
    analysis = explainer.analyse(digit)
    strip = CamStrip(CONV)
    qtbot.addWidget(strip)
    strip.show_analysis(digit, analysis)
    note = strip.notes["conv3"].toPlainText().replace("\n", " ")
    assert note == f"no positive evidence at conv3 for class {analysis.target}"
    assert strip.notes["conv3"].isVisible()
    assert strip.titles["conv3"].text == "conv3"        # not "conv3 · empty"
    assert not strip.notes["conv4"].isVisible()          # conv4's map has evidence
    strip.show_empty()
    assert not strip.notes["conv3"].isVisible()


# --- the canvas --------------------------------------------------------------------------------

def drawn(canvas, points):
    """One stroke through ``points`` (fractions of the widget), as the mouse draws it."""
    pixels = [QPoint(round(x * canvas.width()), round(y * canvas.height())) for x, y in points]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pixels[0])
    for pixel in pixels[1:]:
        QTest.mouseMove(canvas, pixel)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=pixels[-1])


def test_after_clear_with_the_eraser_chosen_the_next_stroke_draws(qtbot):
    place = DrawExplainPlace(load_model(paths.SHIPPED_MODEL)[0])
    qtbot.addWidget(place, before_close_func=lambda widget: widget.shutdown())
    place.resize(1280, 700)
    place.show()
    qtbot.waitExposed(place)
    canvas = place.canvas
    drawn(canvas, [(0.3, 0.3), (0.6, 0.6)])
    place.eraser_button.click()
    place.clear_button.click()
    assert place.pen_button.isChecked() and not canvas.eraser
    drawn(canvas, [(0.3, 0.6), (0.6, 0.3)])
    assert canvas.ink().sum() > 0


def test_the_ink_of_overlapping_strokes_is_uniform_with_no_ring_where_the_pen_lifts(qtbot):
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 400)
    canvas.show()
    qtbot.waitExposed(canvas)
    # A loop that crosses itself, a line over it, and a dot on the line: overlaps,
    # starts and ends.
    loop = [(0.5 + 0.2 * np.sin(t), 0.5 - 0.2 * np.cos(t)) for t in np.linspace(0, 7, 60)]
    drawn(canvas, loop)
    drawn(canvas, [(0.2 + 0.6 * t, 0.3 + 0.4 * t) for t in np.linspace(0, 1, 30)])
    drawn(canvas, [(0.5, 0.5), (0.5, 0.5)])
    shown = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(shown.constBits(), np.uint8).reshape(
        shown.height(), shown.bytesPerLine())[:, :3 * shown.width()].reshape(
        shown.height(), shown.width(), 3)
    ink = np.array(INK_COLOUR.getRgb()[:3])
    # Inside the strokes (a few pixels in from any edge of the ink) every pixel is ink.
    inked = np.all(np.abs(pixels.astype(int) - ink) < 40, axis=2)
    inside = binary_erosion(binary_fill_holes(inked) & inked, iterations=3)
    assert inside.sum() > 2000
    assert np.abs(pixels[inside].astype(int) - ink).max() <= 2


# --- Evaluate's embedding ------------------------------------------------------------------------

def test_the_embedding_help_is_on_its_legend_not_over_the_points(qtbot):
    embedding = EmbeddingMap()
    qtbot.addWidget(embedding)
    plot_widgets = [embedding.widget, embedding.widget.viewport(),
                    *embedding.widget.findChildren(QWidget)]
    assert all(widget.toolTip() == "" for widget in plot_widgets)
    assert "Each point is a validation image" in embedding.legend.toolTip()
    assert "What is this?" in embedding.legend.text()


def test_the_embedding_caption_says_an_8(qtbot):
    embedding = EmbeddingMap()
    qtbot.addWidget(embedding)
    embedding._evaluation = SimpleNamespace(labels=np.array([8]), predicted=np.array([3]))
    embedding._images = np.zeros((1, 28, 28), np.uint8)
    embedding._hovered(embedding.scatters[8], [SimpleNamespace(data=lambda: 0)], None)
    assert embedding.caption.text() == "Validation image #0: an 8 (wrong: predicted 3)"


# --- the status bar ----------------------------------------------------------------------------

def test_a_long_status_message_is_elided_and_whole_on_hover(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.setStatusBar(ElidingStatusBar())
    window.statusBar().addPermanentWidget(QLabel("Evaluating… 50 %"))
    window.resize(500, 200)
    window.show()
    qtbot.waitExposed(window)
    bar = window.statusBar()
    message = ("Saved the model (epoch 4, validation accuracy 98.7 %) to "
               "/home/student/Documents/Explainable CNN/models/epoch4.npz")
    bar.showMessage(message)
    shown = bar.shown_message()
    assert shown.endswith("…") and message.startswith(shown[:-1])
    assert bar.fontMetrics().horizontalAdvance(shown) <= bar.message_rect().width()
    permanent = bar.findChild(QLabel)
    assert bar.message_rect().right() < permanent.geometry().left()
    QApplication.sendEvent(bar, QHelpEvent(QEvent.Type.ToolTip, QPoint(20, 5),
                                           bar.mapToGlobal(QPoint(20, 5))))
    assert QToolTip.text() == message
    bar.showMessage("Opened a.npz")
    assert bar.shown_message() == "Opened a.npz"


# --- the pinned drawing ------------------------------------------------------------------------

def test_the_pinned_drawing_names_the_shipped_model_not_epoch_0(qtbot):
    strip = LearningStrip()
    qtbot.addWidget(strip)
    digit, heat = np.zeros((28, 28), np.float32), np.zeros((28, 28), np.float32)
    strip.set_origin("shipped model.npz (validation accuracy 98.8%)")
    strip.show_frames(digit, [(0, heat, 3, 0.9), (1, heat, 3, 0.95)])
    assert strip.captions[0].toPlainText() == "shipped\n3 (90%)"
    assert strip.captions[1].toPlainText() == "epoch 1\n3 (95%)"
    assert "shipped model.npz (validation accuracy 98.8%)" in strip.view.toolTip()
    strip.set_origin("random weights (seed 3)")          # Reset: new random weights
    assert strip.captions[0].toPlainText().startswith("random\n")
    strip.set_origin("a very long model name.npz (validation accuracy 97.0%)")
    assert strip.captions[0].toPlainText().startswith("a very l…\n")


def test_a_new_session_tells_the_draw_place_where_its_weights_came_from(qtbot):
    controller = DrawController(lambda: (None, np.zeros((140, 140), np.float32)),
                                MapChoice("gradcam", "conv4"), ("conv3", 0))
    try:
        with qtbot.waitSignal(controller.session_origin) as origin:
            controller.start_session({}, "shipped model.npz (validation accuracy 98.8%)")
    finally:
        controller.shutdown()       # its explanation thread
    assert origin.args == ["shipped model.npz (validation accuracy 98.8%)"]


# --- words -----------------------------------------------------------------------------------

def test_help_texts_name_tabs_the_window_shows_not_places():
    """The window's tabs are Train, Draw & Explain and Evaluate: "place" is a word of
    the code, not of the screen."""
    texts = [html for _, html in HOW_IT_WORKS] + [LEARNING_TIP]
    assert all("Train place" not in text for text in texts)
    assert any("Train tab" in text for text in texts)


@pytest.mark.reuse_window
def test_the_export_of_the_current_tab_names_it(window):
    menu = next(action.menu() for action in window.menuBar().actions()
                if action.text() == "&File")
    export = next(action.menu() for action in menu.actions() if action.text() == "&Export")
    first = export.actions()[0]
    assert first.text() == "Train tab as PNG…"
    window.tabs.setCurrentWidget(window.draw_place)
    assert first.text() == "Draw && Explain tab as PNG…"      # shown "Draw & Explain"
    window.tabs.setCurrentWidget(window.train_page)


# --- the prediction --------------------------------------------------------------------------

def drawn_tick_labels(axis):
    """The tick labels an axis would draw now (pyqtgraph drops the ones with no room)."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        return [text for _, _, text in axis.generateDrawSpecs(painter)[2]]
    finally:
        painter.end()


def test_what_the_network_sees_and_the_bars_are_readable_at_their_smallest(qtbot):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.resize(520, 1)            # as short as its layout lets it be
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.height() == panel.minimumSizeHint().height())
    panel.sees_box.autoRange()       # as the first paint does
    assert panel.sees.sceneBoundingRect().height() >= 112
    assert panel.sees.sceneBoundingRect().width() >= 112
    plot = panel.plot
    assert plot.getViewBox().sceneBoundingRect().height() >= 80     # was about 45
    assert drawn_tick_labels(plot.getAxis("left")) == ["0%", "25%", "50%", "75%", "100%"]


# --- the training curves -----------------------------------------------------------------------

def epoch(number, train_accuracy, val_accuracy):
    """A finished epoch as the training worker reports it."""
    record = EpochRecord(epoch=number, train_loss=0.3, train_accuracy=train_accuracy,
                         val_loss=0.2, val_accuracy=val_accuracy, seconds=1.0, lr=0.01)
    return EpochSummary(record, {}, 5)


def test_validation_above_training_accuracy_says_why(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    assert not curves.gap_note.isVisibleTo(curves)
    curves.add_epoch(epoch(1, 0.91, 0.96))         # early: validation above training
    assert curves.gap_note.isVisibleTo(curves)
    assert "averaged over the epoch" in curves.gap_note.text()
    for text in ("improving", "augmentation", "no dropout"):
        assert text in curves.gap_note.toolTip()
    curves.add_epoch(epoch(2, 0.99, 0.98))         # later: training above validation
    assert not curves.gap_note.isVisibleTo(curves)
    curves.truncate(1)                             # rewound to epoch 1: the gap again
    assert curves.gap_note.isVisibleTo(curves)
    curves.clear()
    assert not curves.gap_note.isVisibleTo(curves)
