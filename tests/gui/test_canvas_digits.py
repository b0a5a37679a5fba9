"""Digits drawn on the canvas, anywhere on the sheet, read as themselves.

The strokes are polylines as a hand makes them (smooth curves through a few
knots, a 4 and a 5 in two strokes), put through the canvas widget by mouse
events, so the canvas renders them as it renders a person's pen.  The canvas's
ink is ink on zero paper: it must be boxed and centred as it is, never taken
for a photo because a stroke runs into the sheet's edge (a 7 whose bar lay
2 % from the top used to read as a 6 or a 0).
"""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

import cnn_core.preprocessing as preprocessing
from cnn_core import paths
from cnn_core.explain.novelty import NOT_A_DIGIT, fit_on_sample
from cnn_core.model_files import load_model
from cnn_core.preprocessing import normalise_ink
from gui.draw.canvas import DEFAULT_BRUSH, DrawingCanvas
from gui.draw.controller import DrawController
from gui.draw.jobs import MapChoice

from tests.drawn_digits import STROKES

from .conftest import WAIT_MS

#: The digit's height as a share of the sheet (as people draw: most of it).
HEIGHT = 0.6
EDGES = ("top", "bottom", "left", "right")
#: How far the pen's centre line stays from the edge, as a share of the sheet:
#: the default pen is 10 % wide, so its ink meets the edge at 5 % and runs off it at 2 %.
MARGINS = (0.05, 0.02)


def against_edge(strokes, edge, margin):
    """``strokes`` scaled to :data:`HEIGHT` of the sheet, centred along ``edge`` and
    moved against it until the pen's centre line is ``margin`` from it (sheet fractions)."""
    scaled = [np.array(points) * HEIGHT for points in strokes]
    every = np.concatenate(scaled)
    low, high = every.min(axis=0), every.max(axis=0)
    shift = 0.5 - (low + high) / 2
    axis = 1 if edge in ("top", "bottom") else 0
    shift[axis] = margin - low[axis] if edge in ("top", "left") else 1 - margin - high[axis]
    return [points + shift for points in scaled]


def draw(canvas, strokes):
    """Draw ``strokes`` (sheet fractions) with the mouse, one press to release each."""
    side = min(canvas.width(), canvas.height())
    left, top = (canvas.width() - side) // 2, (canvas.height() - side) // 2
    for points in strokes:
        pixels = [QPoint(left + round(x * side), top + round(y * side)) for x, y in points]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pixels[0])
        for pixel in pixels[1:]:
            QTest.mouseMove(canvas, pixel)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=pixels[-1])


@pytest.fixture(scope="module")
def shipped():
    return load_model(paths.SHIPPED_MODEL)[0]


@pytest.fixture
def canvas(qtbot):
    """A bare canvas, its sheet 280 pixels square (one pixel per paper unit)."""
    widget = DrawingCanvas()
    qtbot.addWidget(widget)
    widget.resize(282, 282)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.mark.parametrize("digit", range(10))
def test_a_digit_against_any_edge_reads_as_itself(canvas, shipped, digit):
    read = {}
    for edge in EDGES:
        for margin in MARGINS:
            draw(canvas, against_edge(STROKES[digit], edge, margin))
            ink = canvas.ink()
            touches = {"top": ink[0], "bottom": ink[-1], "left": ink[:, 0], "right": ink[:, -1]}
            assert touches[edge].max() > 0.5, (edge, margin)      # the ink meets that edge
            read[edge, margin] = int(shipped.predict_proba(normalise_ink(ink)[None, None]).argmax())
            canvas.clear()
    assert read == {key: digit for key in read}


def placed(strokes, height, corner=(0.1, 0.1)):
    """``strokes`` scaled to ``height`` of the sheet, their box's corner at ``corner``."""
    scaled = [np.array(points) * height for points in strokes]
    low = np.concatenate(scaled).min(axis=0)
    return [points - low + corner for points in scaled]


@pytest.mark.parametrize("brush, height", [(44, 0.35), (60, 0.6), (DEFAULT_BRUSH, 0.85)],
                         ids=["thick-small", "thickest", "default-large"])
def test_thick_or_large_digits_are_not_taken_for_no_digit(canvas, shipped, brush, height):
    """Thick strokes boxed to 20 px are 5 to 8 px wide, MNIST's 2 to 3: the flag
    must still know them for digits (a thick, clear 3 used to be "may not be a digit")."""
    detector = fit_on_sample(shipped)
    canvas.set_brush_width(brush)
    flagged = []
    for digit, strokes in STROKES.items():
        draw(canvas, placed(strokes, height))
        image = normalise_ink(canvas.ink())[None, None]
        verdict, = detector.judge(image, shipped.predict_proba(image))
        if verdict.reason == NOT_A_DIGIT:
            flagged.append(digit)
        canvas.clear()
    assert flagged == []


def test_the_canvas_path_never_asks_the_photo_or_transparency_rules(canvas, shipped, qtbot,
                                                                    monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the canvas's ink went through the photo or transparency rules")
    for name in ("preprocess", "to_grayscale", "ink_intensity", "is_photo", "_ink_on_photo",
                 "_alpha_background"):
        monkeypatch.setattr(preprocessing, name, refuse)
    conv_names = shipped.conv_layer_names()
    controller = DrawController(lambda: (canvas.picture(), canvas.ink()),
                                MapChoice("gradcam", conv_names[-1]), (conv_names[0], 0))
    canvas.changed.connect(controller.drawing_changed)
    canvas.finished.connect(controller.drawing_finished)
    controller.set_training_state("running")    # no feature visualisation: not under test
    controller.show_model(shipped, "shipped")
    try:
        draw(canvas, against_edge(STROKES[7], "top", 0.02))
        qtbot.waitUntil(lambda: controller.analysis is not None, timeout=WAIT_MS)
        np.testing.assert_array_equal(controller.digit, normalise_ink(canvas.ink()))
        assert controller.analysis.predicted == 7
    finally:
        controller.shutdown()
