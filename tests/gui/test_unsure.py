"""Draw & Explain says when its answer should not be trusted (issue 20, honest answers)."""
import numpy as np

from cnn_core.explain import Analysis
from cnn_core.explain.novelty import Verdict
from gui.draw.prediction import PredictionPanel, with_article

from .conftest import WAIT_MS
from .test_draw import draw_seven, line, open_draw_place, stroke


def test_an_x_on_the_canvas_is_not_sure_and_says_why(window, qtbot):
    place = open_draw_place(window, qtbot)
    stroke(place.canvas, line((0.25, 0.2), (0.75, 0.8)))
    stroke(place.canvas, line((0.75, 0.2), (0.25, 0.8)))
    answer = place.prediction.answer
    # The flag is fitted off the GUI thread after the model arrives; then the text follows.
    qtbot.waitUntil(lambda: answer.text() == "Not sure: this may not be a digit", timeout=WAIT_MS)
    guess = place.controller.analysis.predicted
    assert f"best guess is {guess}" in answer.toolTip() and "novelty" in answer.toolTip()


def test_a_seven_is_answered_plainly(window, qtbot):
    place = open_draw_place(window, qtbot)
    qtbot.waitUntil(lambda: place.controller._detector is not None, timeout=WAIT_MS)
    draw_seven(place.canvas)
    qtbot.waitUntil(lambda: place.controller.analysis is not None, timeout=WAIT_MS)
    assert place.prediction.answer.text().startswith("It looks like a 7")
    assert place.prediction.answer.toolTip() == ""


def test_close_calls_name_both_digits_and_eight_takes_an(qtbot):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    probabilities = np.zeros(10)
    probabilities[[8, 3]] = 0.5, 0.45
    analysis = Analysis(activations={}, cams={}, probabilities=probabilities, predicted=8,
                        target=8, contrast=None, method="gradcam")
    panel.show_analysis(np.zeros((28, 28), np.float32), analysis)
    assert panel.answer.text() == "It looks like an 8  (50.0%)"
    panel.show_verdict(Verdict(False, 0.3))
    assert panel.answer.text() == "It looks like an 8  (50.0%)"
    panel.show_verdict(Verdict(True, 0.3, "close call between 3 and 8"))
    assert panel.answer.text() == "Not sure: 3 or 8"
    assert "8 (50%) and 3 (45%)" in panel.answer.toolTip()
    assert [with_article(d) for d in (0, 7, 8)] == ["a 0", "a 7", "an 8"]


def test_the_flag_is_refitted_when_the_model_changes(window, qtbot):
    """Reset to random weights: the flag of the old model goes at once, the new
    model's own comes, and an untrained network is unsure of a perfectly good 7."""
    place = open_draw_place(window, qtbot)
    controller = place.controller
    qtbot.waitUntil(lambda: controller._detector is not None, timeout=WAIT_MS)
    shipped_flag = controller._detector
    window.controller.reset(seed=3)
    assert controller._detector is None
    qtbot.waitUntil(lambda: controller._detector is not None, timeout=WAIT_MS)
    assert controller._detector is not shipped_flag
    draw_seven(place.canvas)
    qtbot.waitUntil(lambda: place.prediction.answer.text().startswith("Not sure"),
                    timeout=WAIT_MS)


def test_the_flag_waits_for_a_pause_while_training_runs(window, qtbot):
    """The model on show changes every second while training runs: the flag is not
    refitted for each (a core taken from training), but once training pauses."""
    place = open_draw_place(window, qtbot)
    controller = place.controller
    qtbot.waitUntil(lambda: controller._detector is not None, timeout=WAIT_MS)
    fits = []
    original = controller._runner.submit
    controller._runner.submit = lambda kind, job: (fits.append(kind), original(kind, job))
    controller.set_training_state("running")
    controller.show_model(window.controller.current_model().network(), "mid-epoch")
    controller.show_model(window.controller.current_model().network(), "a second later")
    assert controller._detector is None and "novelty" not in fits
    controller.set_training_state("paused")
    assert fits.count("novelty") == 1
    qtbot.waitUntil(lambda: controller._detector is not None, timeout=WAIT_MS)
