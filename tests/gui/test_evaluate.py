"""Evaluate: confusion matrix, per-class table, gallery, embedding map."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from cnn_core import paths
from cnn_core.data import MNIST_TEST_FILES, MNIST_TRAIN_FILES, load_sample, write_idx
from cnn_core.metrics import confusion_matrix
from gui.help_text import with_article

from .conftest import WAIT_MS, press, wait_idle
from .test_draw import draw_seven, open_draw_place, wait_analysed


def open_evaluate_place(window, qtbot):
    """Show the Evaluate place once its first evaluation is in."""
    window.tabs.setCurrentWidget(window.evaluate_place)
    place = window.evaluate_place
    qtbot.waitUntil(lambda: place.evaluation is not None, timeout=WAIT_MS)
    return place


def click_cell(qtbot, place, true_class, predicted):
    """Click the centre of a confusion-matrix cell with the mouse."""
    box, graphics = place.confusion.plot.getViewBox(), place.confusion.view
    scene = box.mapViewToScene(QPointF(predicted + 0.5, true_class + 0.5))
    qtbot.mouseClick(graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=graphics.mapFromScene(scene))


@pytest.mark.reuse_window
def test_the_matrix_and_table_match_the_predictions(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    evaluation = place.evaluation
    validation = load_sample()[1]
    np.testing.assert_array_equal(evaluation.labels, validation.labels)
    np.testing.assert_array_equal(place.confusion.matrix,
                                  confusion_matrix(validation.labels, evaluation.predicted))
    assert place.confusion.counts[0].toPlainText() == str(evaluation.matrix[0, 0])
    assert place.metrics.item(3, 3).text() == str(evaluation.per_class[3]["support"])
    assert f"{evaluation.accuracy:.1%}" in place.summary.text()


def test_clicking_a_confusion_cell_shows_exactly_the_images_of_that_cell(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    evaluation = place.evaluation
    mistakes = np.argwhere((evaluation.matrix > 0) & ~np.eye(10, dtype=bool))
    cells = [(4, 4)] + [tuple(mistakes[0])]
    for true_class, predicted in cells:
        click_cell(qtbot, place, true_class, predicted)
        expected = np.flatnonzero((evaluation.labels == true_class)
                                  & (evaluation.predicted == predicted))
        qtbot.waitUntil(lambda: sorted(place.gallery.indices()) == expected.tolist(),
                        timeout=WAIT_MS)
        assert f"of {with_article(true_class)} the network calls {predicted}" in \
            place.gallery.title.text()


def test_clicking_an_image_opens_it_in_draw_with_true_and_predicted_maps(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    index = place.gallery.indices()[0]          # the most confident mistake
    item = place.gallery.list.item(0)
    place.gallery.list.itemClicked.emit(item)
    draw = window.draw_place
    assert window.tabs.currentWidget() is draw
    label = int(place.labels[index])
    analysis = wait_analysed(qtbot, draw, lambda a: draw.controller.label == label)
    assert analysis.predicted != label
    np.testing.assert_allclose(draw.controller.digit, place.images[index] / 255.0)
    pair = draw.method_panel.pair
    qtbot.waitUntil(pair.isVisible, timeout=WAIT_MS)
    assert "(wrong)" in pair.titles["predicted"].text


def test_the_embedding_has_every_image_and_the_drawing_as_a_star(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    assert sum(len(s.data) for s in place.embedding.scatters) == len(place.labels)
    assert len(place.embedding.marker.data) == 0
    draw = open_draw_place(window, qtbot)
    draw_seven(draw.canvas)
    wait_analysed(qtbot, draw)
    qtbot.waitUntil(lambda: len(place.embedding.marker.data) == 1, timeout=WAIT_MS)
    scatter = place.embedding.scatters[3]
    point = scatter.points()[0]
    place.embedding._hovered(scatter, [point], None)
    assert f"#{point.data()}: a 3" in place.embedding.caption.text()


def test_evaluation_follows_the_epochs_with_fixed_axes(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    basis = place.evaluation.embedding
    press(window, "start")
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: place.evaluation.description == "after epoch 2", timeout=WAIT_MS)
    assert place.evaluation.embedding is basis
    place.refit()
    qtbot.waitUntil(lambda: place.evaluation.embedding is not basis, timeout=WAIT_MS)


def test_new_weights_get_new_axes(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    basis = place.evaluation.embedding
    window.controller.reset(seed=3)
    qtbot.waitUntil(lambda: place.evaluation.description == "random weights (seed 3)",
                    timeout=WAIT_MS)
    assert place.evaluation.embedding is not basis


def test_after_reset_the_axes_are_fitted_again_once_the_first_epoch_ends(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    press(window, "reset")
    qtbot.waitUntil(lambda: place.evaluation.description.startswith("random weights"),
                    timeout=WAIT_MS)
    random_basis = place.evaluation.embedding
    press(window, "start")
    qtbot.waitUntil(lambda: place.evaluation.description == "after epoch 1", timeout=WAIT_MS)
    first_epoch_basis = place.evaluation.embedding
    assert first_epoch_basis is not random_basis
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: place.evaluation.description == "after epoch 2", timeout=WAIT_MS)
    assert place.evaluation.embedding is first_epoch_basis      # then the axes stay put


def test_an_evaluation_shows_its_progress_in_the_status_bar(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    task = window.evaluation_task
    assert not task.isVisible()
    reports = []
    place.evaluation_progress.connect(lambda done, total: reports.append((done, total)))
    before = place.evaluation
    place.refresh_button.click()
    assert task.isVisible() and task.label.text() == "Evaluating…"
    assert task.cancel_button.isVisible()
    qtbot.waitUntil(lambda: place.evaluation is not before, timeout=WAIT_MS)
    assert not task.isVisible()
    assert reports[-1] == (1000, 1000) and len(reports) == 10
    assert (task.bar.value(), task.bar.maximum()) == (1000, 1000)


def test_cancel_stops_an_evaluation_and_keeps_the_last_one(window, qtbot, monkeypatch):
    place = open_evaluate_place(window, qtbot)
    monkeypatch.setattr("gui.evaluate.jobs.CHUNK", 1)      # a thousand steps: a long one
    reports = []
    place.evaluation_progress.connect(lambda done, total: reports.append(done))
    before = place.evaluation
    place.refresh_button.click()
    qtbot.waitUntil(lambda: len(reports) >= 3, timeout=WAIT_MS)
    qtbot.mouseClick(window.evaluation_task.cancel_button, Qt.MouseButton.LeftButton)
    assert not window.evaluation_task.isVisible()
    assert window.statusBar().currentMessage() == "Evaluation cancelled"
    assert place.status.text() == "evaluation cancelled"
    qtbot.wait(300)                     # the worker hears the cancel at its next image
    stopped_at = len(reports)
    qtbot.wait(500)
    assert len(reports) == stopped_at and max(reports) < 1000
    assert place.evaluation is before
    # The next evaluation runs to the end.
    monkeypatch.setattr("gui.evaluate.jobs.CHUNK", 100)
    place.refresh_button.click()
    qtbot.waitUntil(lambda: place.evaluation is not before, timeout=WAIT_MS)
    assert not window.evaluation_task.isVisible()


def put_small_mnist_in_the_cache(test_count):
    """A stand-in for full MNIST in the (temporary) cache: the sample's images, as the
    four files the download makes, with ``test_count`` test images."""
    train, validation = load_sample()
    cache = paths.mnist_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for (images_name, labels_name), split, count in ((MNIST_TRAIN_FILES, train, 300),
                                                     (MNIST_TEST_FILES, validation, test_count)):
        write_idx(cache / images_name, split.images[:count])
        write_idx(cache / labels_name, split.labels[:count])


def choose_dataset(window, name):
    combo = window.train_page.dataset.combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemData(i)[0] == name))


def test_evaluate_judges_on_the_mnist_test_set_once_mnist_is_chosen(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    assert "1,000 validation images" in place.summary.text()
    choose_dataset(window, "mnist")                 # not downloaded: it says so, and stays
    assert "still on the validation images" in place.status.text()
    assert "not downloaded" in place.status.text()
    choose_dataset(window, "sample")

    put_small_mnist_in_the_cache(test_count=240)
    choose_dataset(window, "mnist")
    qtbot.waitUntil(lambda: len(place.evaluation.labels) == 240, timeout=WAIT_MS)
    assert "240 MNIST test images" in place.summary.text()
    assert place.confusion.matrix.sum() == 240
    assert sum(len(s.data) for s in place.embedding.scatters) == 240
    index = place.gallery.indices()[0]              # gallery indices point into the test set
    assert 0 <= index < 240

    choose_dataset(window, "sample")
    qtbot.waitUntil(lambda: len(place.evaluation.labels) == 1000, timeout=WAIT_MS)
    assert "1,000 validation images" in place.summary.text()


def test_closing_stops_a_running_evaluation_at_its_next_step(window, qtbot, monkeypatch):
    place = open_evaluate_place(window, qtbot)
    monkeypatch.setattr("gui.evaluate.jobs.CHUNK", 1)      # a thousand steps: a long one
    reports = []
    place.evaluation_progress.connect(lambda done, total: reports.append(done),
                                      Qt.ConnectionType.DirectConnection)
    place.refresh_button.click()
    qtbot.waitUntil(lambda: len(reports) >= 3, timeout=WAIT_MS)
    window.close()                      # returns once the evaluation thread has ended
    assert max(reports) < 1000
