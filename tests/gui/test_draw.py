"""Draw & Explain: the canvas, the prediction, the maps, other inputs, closing.

The helpers at the top are shared with the other Draw & Explain and Evaluate
test modules.
"""
import math
import threading

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from cnn_core.data import load_sample
from cnn_core.explain import Explainer
from cnn_core.preprocessing import normalise_ink, preprocess
from gui.images import HEAT_COLOUR_MAP
from gui.draw.jobs import MapChoice, explain_map

from .conftest import WAIT_MS


# --- helpers ---------------------------------------------------------------------------

def open_draw_place(window, qtbot):
    """Show the Draw & Explain place once it has the model."""
    window.tabs.setCurrentWidget(window.draw_place)
    qtbot.waitUntil(lambda: window.draw_place.controller.network is not None, timeout=WAIT_MS)
    return window.draw_place


def stroke(canvas, points):
    """Draw one stroke through ``points``, given as fractions of the sheet."""
    side = min(canvas.width(), canvas.height())
    left, top = (canvas.width() - side) // 2, (canvas.height() - side) // 2
    pixels = [QPoint(left + round(x * side), top + round(y * side)) for x, y in points]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pixels[0])
    for pixel in pixels[1:]:
        QTest.mouseMove(canvas, pixel)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=pixels[-1])


def line(start, end, steps=24):
    """Points from ``start`` to ``end`` (fractions of the sheet)."""
    return [(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
            for t in np.linspace(0, 1, steps)]


def draw_seven(canvas):
    """A 7, 60 % of the sheet tall: a bar and a slanted stem."""
    stroke(canvas, line((0.3, 0.2), (0.72, 0.2)))
    stroke(canvas, line((0.72, 0.2), (0.45, 0.8)))


def draw_zero(canvas):
    """A 0: one closed oval stroke."""
    stroke(canvas, [(0.5 + 0.2 * math.sin(t), 0.5 - 0.3 * math.cos(t))
                    for t in np.linspace(0, 2 * math.pi, 60)])


def wait_analysed(qtbot, place, condition=lambda analysis: True):
    """Until the place's analysis meets ``condition``; returns it."""
    controller = place.controller
    qtbot.waitUntil(lambda: controller.analysis is not None and condition(controller.analysis),
                    timeout=WAIT_MS)
    return controller.analysis


def digit_files(folder):
    """One PNG per digit, the first validation image of each: ``[(path, digit), ...]``."""
    validation = load_sample()[1]
    files = []
    for digit in range(10):
        index = int(np.flatnonzero(validation.labels == digit)[0])
        path = folder / f"digit-{digit}.png"
        Image.fromarray(validation.images[index]).save(path)
        files.append((path, digit))
    return files


def map_pixels(place):
    """The method panel's map as shown (RGB)."""
    return np.array(place.method_panel.map.image)


# --- drawing ---------------------------------------------------------------------------

@pytest.mark.reuse_window
def test_a_stroke_changes_what_the_network_sees_and_the_prediction(window, qtbot):
    place = open_draw_place(window, qtbot)
    assert place.canvas.is_empty() and place.controller.analysis is None
    blank = np.array(place.prediction.sees.image)
    draw_seven(place.canvas)
    analysis = wait_analysed(qtbot, place)
    sees = np.array(place.prediction.sees.image)
    assert sees.shape == (28, 28) and not np.array_equal(sees, blank)
    np.testing.assert_allclose(place.prediction.probabilities, analysis.probabilities)
    assert str(analysis.predicted) in place.prediction.answer.text()
    before = analysis.probabilities.copy()
    draw_zero(place.canvas)         # a 0 over the 7 makes another picture
    wait_analysed(qtbot, place, lambda a: not np.allclose(a.probabilities, before))
    assert not np.allclose(place.prediction.probabilities, before)


@pytest.mark.reuse_window
def test_default_brush_leaves_as_much_ink_as_mnist(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    digit = normalise_ink(place.canvas.ink())
    validation = load_sample()[1]
    sevens = validation.images[validation.labels == 7] / 255.0
    assert 0.75 < digit.sum() / sevens.sum(axis=(1, 2)).mean() < 1.25


@pytest.mark.reuse_window
def test_undo_eraser_and_clear(window, qtbot):
    place = open_draw_place(window, qtbot)
    canvas = place.canvas
    draw_seven(canvas)
    with_stem = canvas.ink().sum()
    canvas.undo()                       # the stem goes
    assert 0 < canvas.ink().sum() < with_stem
    place.eraser_button.click()
    stroke(canvas, line((0.25, 0.2), (0.8, 0.2)))     # erase the bar
    assert canvas.ink().sum() < 0.1 * with_stem
    canvas.undo()
    place.pen_button.click()
    assert canvas.ink().sum() > 0
    canvas.clear()
    assert canvas.is_empty()
    qtbot.waitUntil(lambda: place.controller.analysis is None, timeout=WAIT_MS)
    assert place.prediction.answer.text() == "Draw a digit"
    canvas.undo()                       # clearing is undoable
    assert not canvas.is_empty()


# --- the maps --------------------------------------------------------------------------

def test_switching_method_layer_and_target_changes_the_map(window, qtbot):
    place = open_draw_place(window, qtbot)
    panel = place.method_panel
    draw_seven(place.canvas)
    analysis = wait_analysed(qtbot, place)
    qtbot.waitUntil(lambda: "Deletion AUC: <b>" in panel.auc.text(), timeout=WAIT_MS)
    shown = map_pixels(place)
    panel.layer.setCurrentIndex(panel.layer.findData("conv2"))
    qtbot.waitUntil(lambda: not np.array_equal(map_pixels(place), shown), timeout=WAIT_MS)
    shown = map_pixels(place)
    other = (analysis.predicted + 1) % 10
    panel.target.setCurrentIndex(panel.target.findData(other))
    qtbot.waitUntil(lambda: place.controller.analysis.target == other, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not np.array_equal(map_pixels(place), shown), timeout=WAIT_MS)
    assert f"class {other}" in panel.title.text
    shown = map_pixels(place)
    panel.method.setCurrentIndex(panel.method.findData("integrated-gradients"))
    qtbot.waitUntil(lambda: not np.array_equal(map_pixels(place), shown), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Deletion AUC: <b>" in panel.auc.text(), timeout=WAIT_MS)
    assert "Integrated Gradients" in panel.title.text
    assert not panel.layer.isEnabled()      # pixel methods have no layer


def test_a_contrast_equal_to_the_class_is_explained_in_words(window, qtbot):
    place = open_draw_place(window, qtbot)
    panel = place.method_panel
    draw_seven(place.canvas)
    analysis = wait_analysed(qtbot, place)
    panel.contrast.setCurrentIndex(panel.contrast.findData(analysis.predicted))
    # The map still comes, scored, for the class alone, and the line under it says why.
    qtbot.waitUntil(lambda: "Deletion AUC: <b>" in panel.auc.text(), timeout=WAIT_MS)
    assert panel.status.text() == (f"the contrast class must differ from the explained class "
                                   f"({analysis.predicted}), so it is shown without a contrast")
    assert "rather than" not in panel.title.text
    panel.contrast.setCurrentIndex(panel.contrast.findData((analysis.predicted + 1) % 10))
    qtbot.waitUntil(lambda: place.controller.analysis.contrast is not None, timeout=WAIT_MS)
    assert "rather than" in place.cam_strip.heading.text()


@pytest.mark.reuse_window
def test_strip_shows_a_map_per_conv_layer_with_its_auc(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    analysis = wait_analysed(qtbot, place)
    strip = place.cam_strip
    scored = [n for n in strip.names if analysis.cams[n][1].any()]
    qtbot.waitUntil(lambda: all("AUC" in strip.titles[n].text for n in scored), timeout=WAIT_MS)
    assert strip.names == ["conv1", "conv2", "conv3", "conv4"]
    assert all(strip.images[n].image.shape == (28, 28, 3) for n in strip.names)
    assert "conv4" in scored
    assert all(strip.titles[n].text == n and strip.notes[n].isVisible()
               for n in strip.names if n not in scored)


def test_an_empty_map_says_so_instead_of_an_auc(window, qtbot):
    """Grad-CAM at conv3 is empty for most digits: the first validation digit where it is."""
    place = open_draw_place(window, qtbot)
    validation = load_sample()[1]
    explainer = Explainer(place.controller.network)
    index = next(i for i in range(len(validation.labels))
                 if not explainer.explain(validation.as_float()[i, 0], "gradcam", "conv3")
                 .heatmap.any())
    place.validation_index.setValue(index)
    place.validation_button.click()
    wait_analysed(qtbot, place, lambda a: not a.cams["conv3"][1].any())
    strip = place.cam_strip
    qtbot.waitUntil(lambda: "AUC" in strip.titles["conv4"].text, timeout=WAIT_MS)
    assert strip.titles["conv3"].text == "conv3"
    assert strip.notes["conv3"].isVisible()
    note = strip.notes["conv3"].toPlainText().replace("\n", " ")
    assert f"no positive evidence at conv3 for class {place.controller.analysis.target}" in note
    assert "raises the score" in strip.images["conv3"].toolTip()
    panel = place.method_panel
    panel.layer.setCurrentIndex(panel.layer.findData("conv3"))
    qtbot.waitUntil(lambda: "the map is empty: no region at conv3" in panel.auc.text(),
                    timeout=WAIT_MS)


def test_clicking_an_activation_enlarges_it_and_visualises_the_channel(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    place.views.setCurrentWidget(place.activations)
    image = place.activations.images["relu3"]
    image.clicked.emit(15.0 + 2, 2.0)       # second tile of the first row: channel 1
    assert place.activations.enlarged == ("relu3", 1)
    assert place.activations.zoom.image.shape == (14, 14)
    assert place.features.choice == ("conv3", 1)
    qtbot.waitUntil(lambda: "conv3 channel 1: patches" in place.features.status.text(),
                    timeout=WAIT_MS)
    assert place.features.patches.image is not None


def test_activation_mosaics_fill_their_square_boxes(window, qtbot):
    """64 and 16 channels are shown as 8×8 and 4×4 tiles, 32 and 8 as 8×4 and 4×2,
    and a click in a lower row picks the channel drawn there."""
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    images = place.activations.images
    tile = 15                                           # 14 pixels and a 1-pixel gap
    assert images["relu4"].image.shape == (8 * tile - 1, 8 * tile - 1)
    assert images["relu2"].image.shape == (4 * 29 - 1, 4 * 29 - 1)
    assert images["relu3"].image.shape == (4 * tile - 1, 8 * tile - 1)
    assert images["relu1"].image.shape == (2 * 29 - 1, 4 * 29 - 1)
    images["relu4"].clicked.emit(2.0, 2 * tile + 2.0)     # first tile of the third row
    assert place.activations.enlarged == ("relu4", 16)


def heat_maps_without_their_scale(window):
    """``(panel, (levels, colour map))`` of every heat map with no colour bar of its scale.

    A heat map is a colour-mapped image (levels of its own) or a heat map blended over
    the digit (RGB, on the fixed 0-1 evidence scale).
    """
    missing = []
    for view in window.findChildren(pg.GraphicsView):
        items = view.scene().items()
        bars = [(item.levels(), item.colorMap().name) for item in items
                if isinstance(item, pg.ColorBarItem)]
        for item in items:
            if not isinstance(item, pg.ImageItem) or item.image is None:
                continue
            if item.getColorMap() is not None:
                wanted = (tuple(np.ravel(item.getLevels())), item.getColorMap().name)
            elif item.image.ndim == 3:
                wanted = ((0, 1), HEAT_COLOUR_MAP)
            else:
                continue            # a grey picture (what the network sees), not a heat map
            if not any(np.allclose(levels, wanted[0]) and name == wanted[1]
                       for levels, name in bars):
                missing.append((type(view.parentWidget()).__name__, wanted))
    return missing


def test_every_heat_map_has_a_colour_bar_of_its_scale(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    place.activations.images["relu3"].clicked.emit(2.0, 2.0)       # enlarge channel 0
    qtbot.waitUntil(lambda: place.features.patches.image is not None, timeout=WAIT_MS)
    place.learning.pin.click()
    qtbot.waitUntil(lambda: bool(place.learning.frames), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.evaluate_place.evaluation is not None, timeout=WAIT_MS)
    assert heat_maps_without_their_scale(window) == []
    # Each activation mosaic has a scale of its own, up to its layer's strongest output.
    bars = place.activations.colour_bars
    assert len({bars[name].levels() for name, _ in place.activations.layers}) > 1
    assert place.activations.zoom_bar.levels() == bars["relu3"].levels()


# --- other inputs ----------------------------------------------------------------------

@pytest.mark.reuse_window
def test_bundled_digit_files_are_classified_correctly(window, qtbot, tmp_path):
    place = open_draw_place(window, qtbot)
    for path, digit in digit_files(tmp_path):
        assert place.open_image_file(path)
        expected = preprocess(np.asarray(Image.open(path)))
        analysis = wait_analysed(qtbot, place, lambda a: np.array_equal(
            place.controller.digit, expected))
        assert analysis.predicted == digit, path.name


@pytest.mark.reuse_window
def test_a_file_that_is_not_an_image_shows_an_error_and_changes_nothing(window, qtbot,
                                                                         tmp_path):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    before = wait_analysed(qtbot, place)
    ink = place.canvas.ink()
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    assert place.open_image_file(bad) is False
    box = window.last_message_box
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert "notes.png" in box.text() and "not an image" in box.text()
    box.button(QMessageBox.StandardButton.Ok).click()
    np.testing.assert_array_equal(place.canvas.ink(), ink)
    assert place.controller.analysis is before


@pytest.mark.reuse_window
def test_paste_an_image_and_an_image_file(window, qtbot, tmp_path):
    place = open_draw_place(window, qtbot)
    (path, digit), = digit_files(tmp_path)[3:4]
    clipboard = QGuiApplication.clipboard()
    clipboard.setImage(QImage(str(path)))
    assert place.paste()
    wait_analysed(qtbot, place, lambda a: a.predicted == digit)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "digit-5.png"))])
    clipboard.setMimeData(mime)
    assert place.paste()
    wait_analysed(qtbot, place, lambda a: a.predicted == 5)
    clipboard.setText("just words")
    assert place.paste() is False


def test_drop_an_image_file_then_undo_it_with_the_keyboard(window, qtbot, tmp_path):
    place = open_draw_place(window, qtbot)
    (path, digit), = digit_files(tmp_path)[2:3]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    place.dragEnterEvent(enter)
    assert enter.isAccepted()
    place.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                               Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    wait_analysed(qtbot, place, lambda a: a.predicted == digit)
    window.activateWindow()
    qtbot.waitActive(window)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: place.controller.analysis is None, timeout=WAIT_MS)
    assert place.canvas.is_empty()


def test_validation_image_shows_grad_cam_for_true_and_predicted_class(window, qtbot):
    place = open_draw_place(window, qtbot)
    validation = load_sample()[1]
    place.validation_index.setValue(4)
    place.validation_button.click()
    label = int(validation.labels[4])
    analysis = wait_analysed(qtbot, place, lambda a: place.controller.label == label)
    pair = place.method_panel.pair
    qtbot.waitUntil(pair.isVisible, timeout=WAIT_MS)
    assert f"true class {label}" in pair.titles["true"].text
    assert f"predicted {analysis.predicted}" in pair.titles["predicted"].text
    stroke(place.canvas, line((0.1, 0.1), (0.2, 0.2)))     # a scribble: no longer that image
    qtbot.waitUntil(lambda: not pair.isVisible(), timeout=WAIT_MS)


# --- watch it learn and closing --------------------------------------------------------

def test_a_pinned_drawing_gains_a_frame_per_epoch(window, qtbot):
    from .conftest import press, wait_idle
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    place.learning.pin.click()
    assert [f[0] for f in place.learning.frames] == [0]
    press(window, "start")
    wait_idle(qtbot, window)
    assert [f[0] for f in place.learning.frames] == [0, 1, 2]
    assert place.learning.captions[2].textItem.toPlainText() == \
        f"epoch 2\n{place.learning.frames[2][1]} ({place.learning.frames[2][2]:.0%})"
    place.learning.pin.click()
    assert place.learning.frames == []


def test_closing_while_an_explanation_runs_exits_cleanly(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    controller = place.controller
    started, finished = threading.Event(), threading.Event()

    def slow_explanation():
        started.set()
        result = None
        for _ in range(5):       # integrated gradients, several times over
            result = explain_map(controller._cache, controller.network, controller.digit,
                                 MapChoice("integrated-gradients", controller.choice.layer))
        finished.set()
        return result

    controller._runner.submit("map", slow_explanation)
    assert started.wait(WAIT_MS / 1000)
    window.close()
    assert finished.is_set()        # the running job ended before the thread did
    assert controller._runner._thread.isFinished()
    assert window.evaluate_place._runner._thread.isFinished()
