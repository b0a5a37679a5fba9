"""Texts that must follow what is on show: nothing says more than the pictures under it.

Draw & Explain's strip of maps, its validation index, its feature visualisation
and activations; Evaluate's confusion-matrix selection and gallery.
"""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from cnn_core import paths
from cnn_core.data import MNIST_TEST_FILES, MNIST_TRAIN_FILES, load_sample, write_idx
from gui.help_text import with_article

from .conftest import WAIT_MS
from .test_draw import draw_seven, open_draw_place, wait_analysed
from .test_evaluate import choose_dataset, click_cell, open_evaluate_place


# --- the strip of maps -----------------------------------------------------------------

def strip_texts(place):
    strip = place.cam_strip
    return strip.heading.text(), {name: strip.titles[name].text for name in strip.names}


def wait_scored(qtbot, place):
    """Until the strip's maps of the current drawing are titled with their AUCs."""
    analysis = wait_analysed(qtbot, place)
    strip = place.cam_strip
    scored = [n for n in strip.names if analysis.cams[n][1].any()]
    qtbot.waitUntil(lambda: all("AUC" in strip.titles[n].text for n in scored),
                    timeout=WAIT_MS)
    return analysis


def assert_neutral_strip(place):
    heading, titles = strip_texts(place)
    assert titles == {name: name for name in place.cam_strip.names}
    assert "class" not in heading and "Grad-CAM" not in heading
    assert all(place.cam_strip.images[n].toolTip() == "" for n in place.cam_strip.names)


@pytest.mark.reuse_window
def test_clear_leaves_the_strip_with_layer_names_and_a_neutral_heading(window, qtbot):
    place = open_draw_place(window, qtbot)
    neutral = strip_texts(place)
    draw_seven(place.canvas)
    analysis = wait_scored(qtbot, place)
    heading, titles = strip_texts(place)
    assert f"for class {analysis.target}" in heading
    assert any("AUC" in title for title in titles.values())
    place.clear_button.click()
    qtbot.waitUntil(lambda: place.controller.analysis is None, timeout=WAIT_MS)
    assert_neutral_strip(place)
    assert strip_texts(place) == neutral        # as before anything was drawn
    # The dark activation mosaics keep a plain 0-1 scale, not one of millionths.
    bars = place.activations.colour_bars
    assert {tuple(bar.levels()) for bar in bars.values()} == {(0.0, 1.0)}


@pytest.mark.reuse_window
def test_undo_to_an_empty_sheet_leaves_the_strip_neutral(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_scored(qtbot, place)
    place.undo_button.click()
    place.undo_button.click()
    assert place.canvas.is_empty()
    qtbot.waitUntil(lambda: place.controller.analysis is None, timeout=WAIT_MS)
    assert_neutral_strip(place)
    # A late score of the drawing that is gone does not bring its AUCs back.
    qtbot.wait(300)
    assert_neutral_strip(place)


# --- feature visualisation -------------------------------------------------------------

def picture_fill(item):
    """How much of its box an image covers on screen, across and down (1 = edge to edge),
    and the shape of its screen pixels (1 = square)."""
    box = item.getViewBox()
    shown = item.mapRectToItem(box, item.boundingRect()).intersected(box.rect())
    pixel_w, pixel_h = box.viewPixelSize()
    return shown.width() / box.width(), shown.height() / box.height(), pixel_w / pixel_h


def test_feature_pictures_keep_their_aspect_and_fill_their_boxes(window, qtbot):
    place = open_draw_place(window, qtbot)
    panel = place.features
    place.views.setCurrentWidget(panel)
    qtbot.waitExposed(panel)
    panel.layer.setCurrentIndex(panel.layer.findData("conv1"))     # 3×3 patches
    qtbot.waitUntil(lambda: "patches of 3×3 pixels" in panel.status.text(), timeout=WAIT_MS)
    for size in ((1500, 950), (1100, 1000), (1700, 760)):
        window.resize(*size)
        items = (panel.image, panel.patches)
        # True and staying so while the layout settles (it follows a resize in steps).
        held = []
        qtbot.waitUntil(lambda: held.append(all(min(picture_fill(item)[:2]) > 0.9
                                                for item in items)) or held[-5:] == [True] * 5,
                        timeout=5000)
        for item in items:
            across, down, pixel_shape = picture_fill(item)
            assert abs(pixel_shape - 1) < 1e-6               # square pixels
            assert across > 0.9 and down > 0.9, (size, across, down)
        # The status line sits under the pictures, not at the foot of the tab.
        view = panel.view
        bottom = max(item.getViewBox().sceneBoundingRect().bottom() for item in items)
        bottom = view.mapTo(panel, view.mapFromScene(QPointF(0, bottom))).y()
        assert 0 <= panel.status.y() - bottom < 40


# --- activations -----------------------------------------------------------------------

def click_image(qtbot, item, x, y):
    """Click pixel ``(x, y)`` of an ImageItem with the mouse, through its view, once the
    view has settled (a tab just shown lays out and re-maps its boxes a moment later)."""
    view = item.scene().views()[0]
    seen = []

    def settled():
        seen.append(view.mapFromScene(item.mapToScene(QPointF(x, y))))
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]
    qtbot.waitUntil(settled, timeout=WAIT_MS)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=seen[-1])


def test_the_enlarged_channel_is_captioned_as_its_tile_is(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    grids = place.activations
    place.views.setCurrentWidget(grids)
    qtbot.waitExposed(grids)
    for name, caption in grids.layers:
        if place.controller.analysis.activations[name].ndim != 3:
            continue                        # dense units are not enlarged
        click_image(qtbot, grids.images[name], 1.5, 1.5)     # the first tile: channel 0
        assert grids.enlarged == (name, 0)
        assert grids._titles[name].text == caption
        assert grids.zoom_title.text.startswith(f"{caption} · channel 0: max ")
    assert grids.zoom_title.text.startswith("pool2 (max-pool) · channel 0")
    click_image(qtbot, grids.images["relu1"], 29 + 1.5, 1.5)  # 4 tiles of 28 a row
    assert grids.zoom_title.text.startswith("conv1 + ReLU · channel 1: max ")


# --- Evaluate: the confusion matrix and the gallery ------------------------------------

def test_an_empty_cell_says_it_has_no_images(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    matrix = place.evaluation.matrix
    true_class, predicted = (int(v) for v in np.argwhere(matrix == 0)[0])
    click_cell(qtbot, place, true_class, predicted)
    qtbot.waitUntil(lambda: not place.gallery.title.text().startswith("All "),
                    timeout=WAIT_MS)
    assert place.gallery.title.text().startswith(f"No images: the network never predicted "
                                                 f"{predicted} for a true {true_class} (")
    assert place.gallery.indices() == []
    # A cell with images still counts them and offers them.
    mistakes = (matrix > 0) & ~np.eye(10, dtype=bool)
    true_class, predicted = (int(v) for v in np.argwhere(mistakes)[0])
    click_cell(qtbot, place, true_class, predicted)
    count = int(matrix[true_class, predicted])
    qtbot.waitUntil(lambda: len(place.gallery.indices()) == count, timeout=WAIT_MS)
    assert place.gallery.title.text().startswith(
        f"{count} image{'s' * (count != 1)} of {with_article(true_class)} the network "
        f"calls {predicted}")
    assert "click one to explain it" in place.gallery.title.text()


def gallery_shows_cell(place, true_class, predicted):
    """Whether the gallery holds exactly the images of one cell, and says so."""
    ev = place.evaluation
    expected = np.flatnonzero((place.labels == true_class) & (ev.predicted == predicted))
    return (sorted(place.gallery.indices()) == expected.tolist()
            and f"of {with_article(true_class)} the network calls {predicted}"
            in place.gallery.title.text())


def outlined_cell(place):
    """The cell the confusion matrix outlines on screen, or None."""
    selection = place.confusion.selection
    if not selection.isVisible():
        return None
    rect = selection.rect()
    return int(rect.y()), int(rect.x())


def test_the_outlined_cell_and_the_gallery_agree_after_a_new_evaluation(window, qtbot):
    place = open_evaluate_place(window, qtbot)
    assert outlined_cell(place) is None and place.gallery.title.text().startswith("All ")
    mistakes = (place.evaluation.matrix > 0) & ~np.eye(10, dtype=bool)
    cell = tuple(int(v) for v in np.argwhere(mistakes)[0])
    click_cell(qtbot, place, *cell)
    qtbot.waitUntil(lambda: gallery_shows_cell(place, *cell), timeout=WAIT_MS)
    assert outlined_cell(place) == cell
    # A new evaluation (an epoch ended, the model changed, Refresh) keeps the cell and
    # shows its images as the new evaluation has them.
    before = place.evaluation
    place.refresh_button.click()
    qtbot.waitUntil(lambda: place.evaluation is not before, timeout=WAIT_MS)
    assert outlined_cell(place) == cell
    assert gallery_shows_cell(place, *cell)
    # Clicking the outlined cell again goes back to all the mistakes, outlining none.
    click_cell(qtbot, place, *cell)
    qtbot.waitUntil(lambda: place.gallery.title.text().startswith("All "), timeout=WAIT_MS)
    assert outlined_cell(place) is None
    wrong = int((place.evaluation.predicted != place.labels).sum())
    assert place.gallery.title.text().startswith(f"All {wrong} mistakes")
    assert len(place.gallery.indices()) == wrong
    # ...and it stays so through the next evaluation.
    before = place.evaluation
    place.refresh_button.click()
    qtbot.waitUntil(lambda: place.evaluation is not before, timeout=WAIT_MS)
    assert outlined_cell(place) is None and place.gallery.title.text().startswith("All ")


# --- the validation index box ----------------------------------------------------------

def click_gallery_image(qtbot, place, row):
    """Click the gallery's ``row``-th thumbnail with the mouse; returns its image index."""
    gallery = place.gallery.list
    item = gallery.item(row)
    gallery.scrollToItem(item)
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton,
                     pos=gallery.visualItemRect(item).center())
    return item.data(Qt.ItemDataRole.UserRole)


def test_an_image_from_evaluate_sets_the_validation_index_to_its_own(window, qtbot):
    draw = open_draw_place(window, qtbot)
    draw.validation_index.setValue(999)
    draw.validation_button.click()
    wait_analysed(qtbot, draw, lambda a: draw.controller.label is not None)
    place = open_evaluate_place(window, qtbot)
    qtbot.waitUntil(lambda: place.gallery.list.count() > 1, timeout=WAIT_MS)
    index = click_gallery_image(qtbot, place, 1)
    assert window.tabs.currentWidget() is draw
    assert index != 999
    assert draw.validation_index.text() == f"#{index}"
    expected = place.images[index] / 255.0
    wait_analysed(qtbot, draw, lambda a: np.allclose(draw.controller.digit, expected))
    # "Validation image" shows that image again, after a drawing replaced it.
    draw.clear_button.click()
    draw_seven(draw.canvas)
    wait_analysed(qtbot, draw, lambda a: draw.controller.label is None)
    assert draw.validation_button.isEnabled()
    draw.validation_button.click()
    wait_analysed(qtbot, draw, lambda a: draw.controller.label == int(place.labels[index]))
    np.testing.assert_allclose(draw.controller.digit, expected)


def put_mnist_of_other_images_in_the_cache(test_count):
    """A stand-in for full MNIST whose test images are none of the validation images
    (the sample's training images)."""
    train = load_sample()[0]
    cache = paths.mnist_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for (images_name, labels_name), start in ((MNIST_TRAIN_FILES, 0),
                                              (MNIST_TEST_FILES, 1000)):
        write_idx(cache / images_name, train.images[start:start + test_count])
        write_idx(cache / labels_name, train.labels[start:start + test_count])


def test_an_image_from_evaluate_that_is_no_validation_image_names_no_index(window, qtbot):
    draw = open_draw_place(window, qtbot)
    draw.validation_index.setValue(999)
    put_mnist_of_other_images_in_the_cache(test_count=240)
    place = open_evaluate_place(window, qtbot)
    choose_dataset(window, "mnist")
    qtbot.waitUntil(lambda: len(place.evaluation.labels) == 240, timeout=WAIT_MS)
    # Images it was trained on: few mistakes, if any, so the images of a cell.
    click_cell(qtbot, place, 1, 1)
    qtbot.waitUntil(lambda: place.gallery.list.count() > 0, timeout=WAIT_MS)
    index = click_gallery_image(qtbot, place, 0)
    assert window.tabs.currentWidget() is draw
    wait_analysed(qtbot, draw, lambda a: np.allclose(draw.controller.digit,
                                                     place.images[index] / 255.0))
    assert draw.validation_index.text() == "#–"        # not "#999", nor any index
    assert not draw.validation_button.isEnabled()
    assert "not one of the bundled validation images" in draw.validation_index.toolTip()
    # Choosing an index brings the button back.
    draw.validation_index.stepUp()
    assert draw.validation_index.text() == "#0" and draw.validation_button.isEnabled()
    draw.validation_button.click()
    validation = load_sample()[1]
    wait_analysed(qtbot, draw, lambda a: draw.controller.label == int(validation.labels[0]))
