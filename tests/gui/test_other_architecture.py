"""The app shows a model of another architecture: every panel takes its layer names,
shapes and channel counts from the model, none from the seed's network."""
import numpy as np
import pytest

from cnn_core.model_files import load_model, save_model
from cnn_core.network import Network, default_architecture
from gui.architecture import embedding_caption, embedding_layer

from .conftest import WAIT_MS, batch_points, epoch_points, press, set_fields, wait_idle
from .test_draw import draw_seven, open_draw_place, wait_analysed
from .test_evaluate import open_evaluate_place

#: Two conv layers of 4 and 6 channels, a 24-unit hidden layer, no name of the seed's.
SMALL = [
    {"type": "conv", "name": "edges", "in_channels": 1, "out_channels": 4},
    {"type": "relu", "name": "edges_on"},
    {"type": "maxpool", "name": "halve"},
    {"type": "conv", "name": "strokes", "in_channels": 4, "out_channels": 6},
    {"type": "relu", "name": "strokes_on"},
    {"type": "maxpool", "name": "halve_again"},
    {"type": "flatten", "name": "rows"},
    {"type": "dense", "name": "hidden", "in_features": 6 * 7 * 7, "out_features": 24},
    {"type": "relu", "name": "hidden_on"},
    {"type": "dense", "name": "scores", "in_features": 24, "out_features": 10},
]


def test_the_embedding_is_the_input_of_the_last_dense_layer():
    seed, small = Network(), Network(SMALL)
    assert (embedding_layer(seed), embedding_caption(seed)) == ("relu5", "fc1 after ReLU")
    assert (embedding_layer(small), embedding_caption(small)) == ("hidden_on", "hidden after ReLU")
    linear = Network(SMALL[:7] + [{"type": "dense", "name": "scores", "in_features": 294,
                                   "out_features": 10}])
    assert (embedding_layer(linear), embedding_caption(linear)) == ("rows", "rows")


@pytest.fixture
def small_window(qtbot, tmp_path):
    """The main window opened with a model of :data:`SMALL` read from its file."""
    from gui.main_window import MainWindow
    path = tmp_path / "small.npz"
    save_model(path, Network(SMALL, seed=3))
    network, _ = load_model(path)
    win = MainWindow(network, "small.npz", mirrors=("http://127.0.0.1:9/",))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    set_fields(win, train_size=256, batch_size=32, epochs=1)
    return win


def test_every_panel_shows_a_model_of_another_architecture(small_window, qtbot):
    window = small_window
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    analysis = wait_analysed(qtbot, place)
    assert set(analysis.cams) == {"edges", "strokes"}
    # Draw & Explain: the strip, the method panel, the mosaics, the features.
    assert place.cam_strip.names == ["edges", "strokes"]
    layers = [place.method_panel.layer.itemData(i) for i in range(place.method_panel.layer.count())]
    assert layers == ["edges", "strokes"] and place.controller.choice.layer == "strokes"
    qtbot.waitUntil(lambda: place.method_panel.map.image is not None, timeout=WAIT_MS)
    assert [name for name, _ in place.activations.layers] == \
        ["edges_on", "halve", "strokes_on", "halve_again", "hidden_on"]
    assert place.activations.images["strokes_on"].image.shape == (2 * 15 - 1, 4 * 15 - 1)
    assert place.activations.images["hidden_on"].image.shape == (2, 16)
    place.activations.images["strokes_on"].clicked.emit(17.0, 2.0)     # the second tile
    qtbot.waitUntil(lambda: place.features.status.text().startswith("strokes channel 1:"),
                    timeout=WAIT_MS)
    assert place.features.patches.image is not None
    place.learning.pin.click()
    # Train: one epoch; the curves, kernels and health plots take the model's layers.
    window.tabs.setCurrentWidget(window.train_page)
    press(window, "start")
    wait_idle(qtbot, window)
    assert batch_points(window) > 0 and epoch_points(window) == 1
    kernels = window.train_page.kernels
    assert kernels.conv_names == ["edges", "strokes"]
    assert [button.text() for button in kernels.layer_buttons.buttons()] == ["edges", "strokes"]
    weights = window.controller.current_model().weights
    for name in ("edges", "strokes"):
        assert kernels.weights[name].shape == weights[f"{name}.weight"].shape
        kernels.select_layer(name)
        assert kernels.tiles.image.image is not None
    qtbot.waitUntil(lambda: len(place.learning.frames) == 2, timeout=WAIT_MS)
    # Evaluate: the embedding is of the hidden layer, where the drawing is placed too.
    evaluate = open_evaluate_place(window, qtbot)
    assert evaluate.evaluation.features.shape == (1000, 24)
    assert "hidden after ReLU" in evaluate.embedding.plot.titleLabel.text
    assert "24 units of hidden after ReLU" in evaluate.embedding.legend.toolTip()
    qtbot.waitUntil(lambda: len(evaluate.embedding.marker.data) == 1, timeout=WAIT_MS)
    for status in (place.method_panel.status, place.features.status):
        assert "fail" not in status.text()
    assert np.isfinite(evaluate.evaluation.points).all()


def test_a_model_differing_only_in_dense_widths_opens_in_the_window(window, qtbot, tmp_path):
    """The panels are built for the layers and conv channels; a hidden layer of 64
    units instead of 128 is sized from each pass, so the window takes the model."""
    architecture = default_architecture()
    fc1 = next(spec for spec in architecture if spec["name"] == "fc1")
    fc2 = next(spec for spec in architecture if spec["name"] == "fc2")
    fc1["out_features"] = fc2["in_features"] = 64
    path = tmp_path / "narrow.npz"
    save_model(path, Network(architecture, seed=5))
    assert window.open_model_file(path)
    assert window.controller.current_model().network().layer("fc1").out_features == 64
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place, lambda a: a.activations["relu5"].shape == (64,))
    assert place.activations.images["relu5"].image.shape == (4, 16)
    window.tabs.setCurrentWidget(window.train_page)
    press(window, "step_batch")
    qtbot.waitUntil(lambda: batch_points(window) == 1, timeout=WAIT_MS)
    press(window, "stop")
    wait_idle(qtbot, window)
    evaluate = open_evaluate_place(window, qtbot)
    qtbot.waitUntil(lambda: evaluate.evaluation.features.shape == (1000, 64), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(evaluate.embedding.marker.data) == 1, timeout=WAIT_MS)
    assert "64 units of fc1 after ReLU" in evaluate.embedding.legend.toolTip()
