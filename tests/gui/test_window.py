"""The main window: opening, model files, settings messages, closing."""
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cnn_core import paths
from cnn_core.model_files import load_model, save_model
from cnn_core.network import Network

from .conftest import WAIT_MS, batch_points, press, set_fields


def test_opens_with_three_places_and_the_shipped_model(window):
    assert window.windowTitle() == "Explainable CNN"
    tabs = [window.tabs.tabText(i).replace("&&", "&") for i in range(window.tabs.count())]
    assert tabs == ["Train", "Draw & Explain", "Evaluate"]
    if paths.SHIPPED_MODEL.is_file():
        shipped, _ = load_model(paths.SHIPPED_MODEL)
        model = window.controller.current_model()
        assert model.description.startswith("shipped")
        np.testing.assert_array_equal(model.weights["conv1.weight"],
                                      shipped.layer("conv1").params["weight"])
        # The places got the same model through their slot.
        assert window.draw_place.model is model


@pytest.mark.reuse_window
def test_kernel_grids_show_every_conv_layer_with_symmetric_levels(window):
    kernels = window.train_page.kernels
    for name in kernels.conv_names:
        kernels.select_layer(name)
        image = kernels.tiles.image
        assert image.image is not None, name
        low, high = image.getLevels()
        assert low == -high > -np.inf
        assert kernels.colour_bar.levels() == pytest.approx((low, high)), name


@pytest.mark.reuse_window
def test_bad_model_file_shows_a_message_and_keeps_the_model(window, qtbot, tmp_path):
    before = window.controller.current_model()
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"this is not a model")
    assert window.open_model_file(bad) is False
    box = window.last_message_box
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert "broken.npz" in box.text()
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=WAIT_MS)
    assert window.controller.current_model() is before


@pytest.mark.reuse_window
def test_a_model_of_another_network_is_refused_with_a_message(window, qtbot, tmp_path):
    """A valid file whose network has other layers (dense only): the panels are built
    for conv1-conv4, so the window says so instead of breaking on the first frame."""
    before = window.controller.current_model()
    dense = Network([{"type": "flatten", "name": "flatten"},
                     {"type": "dense", "name": "fc1", "in_features": 784, "out_features": 10}],
                    seed=0)
    path = tmp_path / "dense-only.npz"
    save_model(path, dense)
    assert window.open_model_file(path) is False
    box = window.last_message_box
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert "dense-only.npz holds another network (layers flatten, fc1)" in box.text()
    box.button(QMessageBox.StandardButton.Ok).click()
    assert window.controller.current_model() is before


def test_save_then_open_round_trip(window, private_data_folder):
    window.controller.reset(seed=7)
    saved = window.controller.current_model()
    path = private_data_folder / "models" / "mine.npz"
    assert window.save_model_file(path)
    window.controller.reset(seed=8)
    assert window.open_model_file(path)
    opened = window.controller.current_model()
    assert opened.description.startswith("mine.npz")
    for name, value in saved.weights.items():
        np.testing.assert_array_equal(opened.weights[name], value)


def test_invalid_hyperparameters_show_an_inline_message(window):
    settings = window.train_page.settings
    set_fields(window, lr="0")
    press(window, "start")
    assert settings.error.isVisible()
    assert "learning rate" in settings.error.text().lower()
    assert window.controller.state == "idle"

    set_fields(window, lr="abc")
    press(window, "start")
    assert "number" in settings.error.text()

    set_fields(window, lr="0.05", batch_size=512)   # more than the 256 training images
    press(window, "start")
    assert "batch size 512 is larger" in settings.error.text().lower()
    assert window.controller.state == "idle" and batch_points(window) == 0

    set_fields(window, batch_size=32)
    press(window, "start")
    assert not settings.error.isVisible()


@pytest.mark.reuse_window
@pytest.mark.parametrize("name, typed, words", [
    ("lr", "-5", "learning rate"), ("weight_decay", "-1", "weight decay"),
    ("weight_decay", "1", "weight decay must be between 0 and 0.1"),
    ("momentum", "1.5", "momentum must be at least 0 and below 1, not 1.5"),
    ("seed", "-3", "seed must be between 0 and 4294967295, not -3"),
    ("epochs", "0", "epochs"), ("train_size", "9999", "larger than the 4000"),
])
def test_typed_values_are_kept_as_typed_and_judged(window, qtbot, name, typed, words):
    """What a person types stays in the field (no "-5" silently turned into "5"), and
    Start says what is wrong with it."""
    field = window.train_page.settings.fields[name]
    line = field.lineEdit() if hasattr(field, "lineEdit") else field
    line.selectAll()
    qtbot.keyClicks(line, typed)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert line.text() == typed
    press(window, "start")
    error = window.train_page.settings.error
    assert error.isVisible() and words in error.text().lower()
    assert window.controller.state == "idle"


@pytest.mark.reuse_window
def test_full_mnist_missing_is_an_inline_message(window):
    chooser = window.train_page.dataset
    chooser.combo.setCurrentIndex(1)
    assert window.train_page.settings.fields["train_size"].value() == 60000
    press(window, "start")
    assert "not downloaded" in window.train_page.settings.error.text()
    assert window.controller.state == "idle"


def test_offline_download_says_so_and_the_sample_still_works(window, qtbot):
    chooser = window.train_page.dataset
    chooser.download_button.click()
    qtbot.waitUntil(lambda: not window.downloader.busy, timeout=WAIT_MS)
    assert "offline" in chooser.message.text() and "sample still works" in chooser.message.text()
    assert chooser.download_button.text() == "Download MNIST"
    press(window, "step_batch")
    qtbot.waitUntil(lambda: batch_points(window) == 1, timeout=WAIT_MS)


def test_closing_during_training_ends_the_thread_quickly(window, qtbot):
    press(window, "start")
    qtbot.waitUntil(lambda: batch_points(window) > 0, timeout=WAIT_MS)
    thread = window.controller._thread
    started = time.perf_counter()
    window.close()
    elapsed = time.perf_counter() - started
    assert thread.isFinished()
    # Only "it does not hang" here: the 2 s target is timed by bench/gui_latency.py, since
    # a shared, loaded machine makes timed assertions flaky (30 s was passed by 0.6 s on
    # two cores at load 20, the suite running on two processes).
    assert elapsed < WAIT_MS / 1000, elapsed
