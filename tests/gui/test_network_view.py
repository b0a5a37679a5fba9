"""The network view and its step-by-step detail against the engine's own pass.

Every number the view and the detail show is recomputed here from the
engine's outputs (im2col + GEMM for conv, the Dense layer's matrix product,
the engine's softmax), so a slip in the view's arithmetic or its placing
shows up as a mismatch.
"""
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from cnn_core import paths
from cnn_core.explain import Explainer
from cnn_core.model_files import load_model
from gui.images import mosaic
from gui.draw.inputs import validation_example
from gui.network import layout
from gui.network.arithmetic import conv_terms, dense_terms, pool_terms, softmax_terms
from gui.network.columns import network_columns
from gui.network.panel import NetworkPanel

from .conftest import WAIT_MS, press, wait_paused


@pytest.fixture(scope="module")
def shipped():
    """The shipped network and its analysis of validation image #3 (a 3)."""
    network, _ = load_model(paths.SHIPPED_MODEL)
    digit, _ = validation_example(3)
    return network, digit, Explainer(network).analyse(digit)


@pytest.fixture
def panel(qtbot, shipped):
    network, digit, analysis = shipped
    panel = NetworkPanel()
    qtbot.addWidget(panel)
    panel.resize(880, 600)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_pass(network.architecture, network.state_dict(), digit, analysis.activations,
                    analysis.probabilities)
    return panel


def source_values(network, digit, analysis, name):
    """The input of layer ``name`` in the engine's pass."""
    names = [spec["name"] for spec in network.architecture]
    index = names.index(name)
    return digit[None] if index == 0 else analysis.activations[names[index - 1]]


def conv_names(network):
    return [spec["name"] for spec in network.architecture if spec["type"] == "conv"]


# --- the arithmetic -------------------------------------------------------------------

@pytest.mark.parametrize("y, x", [(0, 0), (5, 6), (13, 13)])
def test_conv_terms_add_up_to_the_engines_value(shipped, y, x):
    network, digit, analysis = shipped
    weights = network.state_dict()
    for name in conv_names(network):
        maps = source_values(network, digit, analysis, name)
        channels = analysis.activations[name].shape[0]
        for channel in (0, channels - 1):
            terms = conv_terms(maps, weights[f"{name}.weight"], weights[f"{name}.bias"],
                               channel, y, x)
            engine = analysis.activations[name][channel, y, x]
            assert terms.products.sum() + terms.bias == pytest.approx(engine, abs=1e-4)
            assert terms.pre_activation == pytest.approx(engine, abs=1e-4)
            # The corner's patch reaches into the zero padding.
            if (y, x) == (0, 0):
                assert not terms.patches[:, 0, :].any() and not terms.patches[:, :, 0].any()


def test_pool_dense_and_softmax_terms_match_the_engine(shipped):
    network, digit, analysis = shipped
    weights, out = network.state_dict(), analysis.activations
    terms = pool_terms(out["relu2"], 4, 3, 5)
    window = out["relu2"][4, 6:8, 10:12]
    assert terms.value == out["pool1"][4, 3, 5] == window.max()
    assert window[terms.winner] == window.max()
    dense = dense_terms(out["flatten"], weights["fc1.weight"], weights["fc1.bias"], 7)
    assert dense.pre_activation == pytest.approx(out["fc1"][7], abs=1e-4)
    assert dense.contributions.sum() + dense.rest + dense.bias == pytest.approx(out["fc1"][7],
                                                                              abs=1e-4)
    assert list(np.abs(dense.contributions)) == sorted(np.abs(dense.contributions),
                                                       reverse=True)
    soft = softmax_terms(out["fc2"])
    np.testing.assert_allclose(soft.probabilities, analysis.probabilities, atol=1e-6)
    assert soft.shifted.max() == 0 and soft.exponentials.max() == 1


# --- the view ---------------------------------------------------------------------------

def test_every_column_shows_the_engines_pass(panel, shipped):
    network, digit, analysis = shipped
    columns = network_columns(network.architecture)
    assert [c.name for c in columns] == (["input"] + [s["name"] for s in network.architecture
                                                      if s["type"] != "flatten"]
                                         + ["softmax"])
    for column in columns:
        expected = {"input": digit[None], "softmax": analysis.probabilities}.get(
            column.name, analysis.activations.get(column.name))
        item = panel.view.items[column.name].values
        if column.is_maps:
            np.testing.assert_array_equal(item.image, mosaic(expected,
                                                             panel.view.places[column.name].grid[0]))
        elif column.shape[0] > layout.MAX_ROWS:
            np.testing.assert_array_equal(item.image.ravel(), expected)
        else:       # bars: length proportional to the value, on the column's scale
            low, high = panel.view.items[column.name].levels
            span = layout.BAR_WIDTH / 2 if low < 0 else layout.BAR_WIDTH
            lengths = np.asarray(item.opts["width"]) * np.sign(expected)
            np.testing.assert_allclose(lengths, expected / high * span, atol=1e-4)


def click_value(qtbot, view, name, element):
    """Click the middle of one value of the view, as a person would."""
    column = view.by_name[name]
    left, top, width, height = layout.element_rect(column, view.places[name], element)
    scene = view.box.mapViewToScene(QPointF(left + width / 2, top + height / 2))
    QTest.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.graphics.mapFromScene(scene))
    qtbot.waitUntil(lambda: view.selection == (name, element), timeout=WAIT_MS)


def test_clicking_a_conv_pixel_shows_products_that_add_up_to_it(panel, qtbot, shipped):
    network, digit, analysis = shipped
    for name in conv_names(network):
        channels, height, width = analysis.activations[name].shape
        element = (channels - 1, height // 2, width // 3)
        panel.close_detail()
        click_value(qtbot, panel.view, name, element)
        assert panel.view.links.path().elementCount() > 0        # its sources are drawn
        panel.step_button.click()
        terms = panel.detail.terms
        assert panel.pages.currentWidget() is panel.detail
        assert terms.products.sum() + terms.bias == pytest.approx(
            analysis.activations[name][element], abs=1e-4)
        assert len(panel.detail.conv.canvas.rows) == terms.patches.shape[0]


def test_the_kernel_slides_and_the_output_map_fills_in(panel, shipped):
    network, digit, analysis = shipped
    panel.open_detail("conv2", (3, 0, 26))
    conv = panel.detail.conv
    filled_before = np.isfinite(conv.filled).sum()
    conv.step_button.click()
    conv.step_button.click()            # past the row's end, to the next row
    assert conv.slider.position == (1, 0)
    assert np.isfinite(conv.filled).sum() == filled_before + 2
    np.testing.assert_allclose(conv.filled[1, 0], analysis.activations["conv2"][3, 1, 0],
                               atol=1e-4)
    assert panel.detail.terms.pre_activation == pytest.approx(
        analysis.activations["conv2"][3, 1, 0], abs=1e-4)
    conv.play_button.click()
    assert conv.slider.playing and conv.play_button.text() == "Pause"
    # A new stroke while it plays: it plays on, from where it was, with the new numbers.
    other, _ = validation_example(7)
    passed = Explainer(network).analyse(other)
    where = conv.slider.position
    panel.show_pass(network.architecture, network.state_dict(), other, passed.activations,
                    passed.probabilities)
    assert conv.slider.playing and conv.slider.position == where
    assert panel.detail.terms.pre_activation == pytest.approx(
        passed.activations["conv2"][(3,) + where], abs=1e-4)
    panel.close_detail()
    assert not conv.slider.playing


def test_max_pool_winner_is_the_argmax(panel, shipped):
    network, digit, analysis = shipped
    panel.open_detail("pool2", (10, 2, 3))
    terms = panel.detail.terms
    window = analysis.activations["relu4"][10, 4:6, 6:8]
    assert terms.winner == np.unravel_index(np.argmax(window), (2, 2))
    assert terms.value == analysis.activations["pool2"][10, 2, 3]


def test_softmax_detail_gives_the_prediction(panel, shipped):
    network, digit, analysis = shipped
    panel.open_detail("softmax", (3,))
    terms = panel.detail.terms
    np.testing.assert_allclose(terms.probabilities, analysis.probabilities, atol=1e-6)
    assert f"{analysis.probabilities[analysis.predicted]:.4g}" in panel.detail.text.text()


def test_dense_detail_sums_to_the_unit(panel, shipped):
    network, digit, analysis = shipped
    panel.open_detail("fc1", (5,))
    terms = panel.detail.terms
    assert terms.pre_activation == pytest.approx(analysis.activations["fc1"][5], abs=1e-4)
    assert len(panel.detail.bar_item.opts["width"]) == len(terms.contributions) + 2


def test_the_view_waits_while_hidden(qtbot, shipped):
    network, digit, analysis = shipped
    panel = NetworkPanel()
    qtbot.addWidget(panel)
    panel.show_pass(network.architecture, network.state_dict(), digit, analysis.activations,
                    analysis.probabilities)
    assert panel.view.values is None
    panel.show()
    qtbot.waitExposed(panel)
    np.testing.assert_array_equal(panel.view.values["fc2"], analysis.activations["fc2"])


# --- the journey in the window --------------------------------------------------------

def test_the_network_tab_follows_strokes_and_epochs(window, qtbot):
    window.tabs.setCurrentWidget(window.draw_place)
    place = window.draw_place
    place.views.setCurrentWidget(place.network_panel)
    view = place.network_panel.view
    for index in (3, 7):
        place.show_validation_image(index)
        qtbot.waitUntil(lambda: view.values is not None and np.array_equal(
            view.values["fc2"], place.controller.analysis.activations["fc2"]), timeout=WAIT_MS)
    shown = view.values["relu4"].copy()
    press(window, "step_epoch")
    wait_paused(qtbot, window)
    qtbot.waitUntil(lambda: window.controller.latest_epoch == 1, timeout=WAIT_MS)
    live = window.controller.current_model().weights
    qtbot.waitUntil(lambda: np.array_equal(place.network_panel.weights["conv1.weight"],
                                           live["conv1.weight"]), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not np.array_equal(view.values["relu4"], shown), timeout=WAIT_MS)
    expected = Explainer(window.controller.current_model().network()).analyse(
        place.controller.digit).activations
    for name in ("conv1", "pool2", "fc2"):
        np.testing.assert_allclose(view.values[name], expected[name], atol=1e-5)


# --- the dark theme reaches the heat maps (issue 17, item 5) ---------------------------

def test_heat_maps_have_dark_paper_in_the_dark_theme(qtbot, qapp):
    from gui.draw.cams import HeatMapRow
    from gui.draw.learning import LearningStrip
    from gui.style import restyle
    from gui.theme import dark_palette
    row, strip = HeatMapRow(["conv1"]), LearningStrip()
    for widget in (row, strip):
        qtbot.addWidget(widget)
    digit = np.zeros((28, 28), np.float32)
    strip.show_frames(digit, [(1, digit, 3, 0.9)])
    assert row.images["conv1"].image.min() == 255              # light: white paper
    before = qapp.palette()
    try:
        qapp.setPalette(dark_palette())
        restyle(row)
        # The maps are drawn again on dark paper, the bar takes the dark map.
        qtbot.waitUntil(lambda: row.images["conv1"].image.max() < 40, timeout=3000)
        qtbot.waitUntil(lambda: strip.image.image[-1, 0].max() < 60, timeout=3000)  # a gap
        bars = [item for item in row.view.scene().items() if isinstance(item, pg.ColorBarItem)]
        assert [bar.colorMap().name for bar in bars] == ["inferno"]
        # Strokes show light on the dark paper.
        row.show_map("conv1", np.ones((28, 28), np.float32), digit)
        assert row.images["conv1"].image.min() > 100
        row.show_empty()
    finally:
        qapp.setPalette(before)
    qtbot.waitUntil(lambda: row.images["conv1"].image.min() == 255, timeout=3000)
