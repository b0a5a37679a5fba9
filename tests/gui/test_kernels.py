"""The Train page's kernels: what is drawn equals the weights, large enough to read,
a deeper layer's chosen channel, and the change since the previous epoch."""
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from cnn_core.kernels import kernel_mosaic
from cnn_core.network import Network
from gui.images import mosaic
from gui.records import kernel_frame
from gui.train.kernel_data import (EpochWeights, cell_at, fit_grid, kernels_from_mosaic,
                                   stack_norms)
from gui.train.kernel_tiles import CELL

from .conftest import WAIT_MS, press, wait_paused


def moved(state, seed, scale=0.01):
    """``state`` with every array nudged by noise: a later point of training."""
    rng = np.random.default_rng(seed)
    return {k: (v + scale * rng.standard_normal(v.shape)).astype(v.dtype)
            for k, v in state.items()}


def summary(epoch, state):
    return SimpleNamespace(record=SimpleNamespace(epoch=epoch), state=state)


@pytest.fixture
def network():
    return Network(seed=3)


@pytest.fixture
def grids(qtbot, network):
    from gui.train.kernels import KernelGrids
    params = [layer.name for layer in network.layers if layer.params]
    widget = KernelGrids(network.conv_layer_names(), params)
    widget.resize(900, 260)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    widget.start_session(network.state_dict())
    return widget


def show(widget, state, initial):
    widget.show_frame(kernel_frame(state, initial, widget.conv_names))


# --- the numbers, no Qt -----------------------------------------------------------------

@pytest.mark.parametrize("shape", [(8, 1, 3, 3), (16, 8, 3, 3), (1, 5, 3, 3), (3, 2, 5, 5)])
def test_kernels_come_back_out_of_their_mosaic(shape):
    weight = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(kernels_from_mosaic(kernel_mosaic(weight)[0], shape), weight)


def test_a_mosaic_of_other_weights_is_refused():
    with pytest.raises(ValueError, match="does not hold"):
        kernels_from_mosaic(kernel_mosaic(np.zeros((8, 1, 3, 3)))[0], (16, 8, 3, 3))


def test_stack_norms_are_each_kernels_length():
    weight = np.random.default_rng(1).standard_normal((6, 4, 3, 3))
    expected = [[np.linalg.norm(weight[f, c].ravel()) for f in range(6)] for c in range(4)]
    np.testing.assert_allclose(stack_norms(weight), expected)


@pytest.mark.parametrize("count, width, height, expected", [
    (8, 800, 100, (1, 8)), (8, 200, 200, (3, 3)), (32, 400, 200, (4, 8)), (1, 10, 10, (1, 1))])
def test_fit_grid_makes_the_tiles_largest(count, width, height, expected):
    assert fit_grid(count, width, height, gap_fraction=0) == expected


def test_cell_at_names_the_cell_of_every_mosaic_pixel():
    # Each cell holds its own address, tile * 100 + row * 10 + col; gaps are NaN.
    count, side, columns = 7, 3, 3
    labels = (100 * np.arange(count)[:, None, None] + 10 * np.arange(side)[None, :, None]
              + np.arange(side)[None, None, :]).astype(np.float32)
    image = mosaic(labels, columns)
    for y, x in np.ndindex(*image.shape):
        found = cell_at(x + 0.5, y + 0.5, side, columns, count)
        if np.isnan(image[y, x]):
            assert found is None, (x, y)
        else:
            tile, row, col = found
            assert image[y, x] == 100 * tile + 10 * row + col
    assert cell_at(-1, 0, side, columns, count) is None


def test_previous_epoch_of_the_weights_on_show():
    w0, w1, w2 = ({"conv1": np.full((2, 1, 3, 3), v, np.float32)} for v in (0.0, 1.0, 2.0))
    middle = {"conv1": np.full((2, 1, 3, 3), 1.5, np.float32)}
    history = EpochWeights()
    history.start({"conv1.weight": w0["conv1"], "conv1.bias": np.zeros(2)})
    assert history.previous(w0) == (None, None)         # epoch 0 has nothing before it
    assert history.previous(middle)[0] == 0             # during epoch 1
    history.add(1, {"conv1.weight": w1["conv1"]})
    history.add(2, {"conv1.weight": w2["conv1"]})
    assert history.previous(w2)[0] == 1                 # just after epoch 2
    epoch, before = history.previous(w1)                # the timeline on epoch 1
    assert epoch == 0 and np.array_equal(before["conv1"], w0["conv1"])
    assert history.previous(middle)[0] == 2             # during epoch 3
    history.truncate(1)                                 # a rewind to epoch 1
    assert history.previous(middle)[0] == 1


# --- the widget -------------------------------------------------------------------------

def drawn_cells(tiles):
    """Every drawn pixel of the tiles' image, as ``(tile, row, col, value)``."""
    image = tiles.image.image
    for y, x in zip(*np.nonzero(~np.isnan(image))):
        yield (*tiles.cell_at(x + 0.5, y + 0.5), image[y, x])


def test_conv1_tiles_are_its_weights(grids, network):
    state = network.state_dict()
    show(grids, state, state)
    weight = state["conv1.weight"]
    np.testing.assert_array_equal(grids.tiles.kernels, weight[:, 0])
    cells = list(drawn_cells(grids.tiles))
    assert len(cells) == weight.size * CELL * CELL
    for tile, row, col, value in cells:
        assert value == weight[tile, 0, row, col]
    limit = np.abs(weight).max()
    assert grids.tiles.image.getLevels() == pytest.approx((-limit, limit))
    assert grids.colour_bar.levels() == pytest.approx((-limit, limit))
    assert not grids.overview_view.isVisible()        # one input channel: no overview


def hover(widget, position):
    """A mouse move with no button down (QTest's does not reach an offscreen widget)."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(position),
                        QPointF(widget.mapToGlobal(position)), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_hover_reads_the_weight_under_the_mouse(grids, network, qtbot):
    state = network.state_dict()
    show(grids, state, state)
    weight, tiles, view = state["conv1.weight"], grids.tiles, grids.detail_view
    side = 3 * CELL + 1

    def move_to(tile, row, col):
        # Where the cell is now: the first moves may come before the layout settles.
        tile_row, tile_col = divmod(tile, tiles.columns)
        centre = QPointF(tile_col * side + (col + 0.5) * CELL,
                         tile_row * side + (row + 0.5) * CELL)
        hover(view.viewport(), view.mapFromScene(tiles.box.mapViewToScene(centre)))

    for tile, row, col in ((0, 0, 0), (5, 2, 1), (7, 1, 2)):
        expected = f"conv1 kernel {tile}, row {row} col {col}: w = {weight[tile, 0, row, col]:+.4f}"
        # pyqtgraph drops mouse moves that come too quickly: move until one gets through.
        qtbot.waitUntil(lambda: move_to(tile, row, col) or grids.readout.text() == expected,
                        timeout=WAIT_MS)


def test_a_deeper_layers_chosen_channel_shows_its_kernels(grids, network):
    state = network.state_dict()
    show(grids, state, state)
    grids.select_layer("conv2")
    weight = state["conv2.weight"]
    assert grids.overview_view.isVisible()
    norms = [[np.sqrt(np.sum(weight[f, c].astype(np.float64) ** 2))
              for f in range(weight.shape[0])] for c in range(weight.shape[1])]
    np.testing.assert_allclose(grids.overview.image, norms, rtol=1e-6)
    grids.overview.clicked.emit(5.4, 2.0)               # a click on column 5 of the overview
    assert grids.channel == 5
    assert grids.outline.rect() == QRectF(5, 0, 1, weight.shape[1])
    for tile, row, col, value in drawn_cells(grids.tiles):
        assert value == weight[5, tile, row, col]
    assert len(grids.tiles.kernels) == weight.shape[1]
    assert "output 5" in grids.detail_title.text
    assert "← input 3, row 1 col 2: w = " + f"{weight[5, 3, 1, 2]:+.4f}" in (
        grids.describe_cell(3, 1, 2))


def test_the_change_since_the_previous_epoch(grids, network):
    s0 = network.state_dict()
    s1, s_mid = moved(s0, 1), moved(moved(s0, 1), 2)
    show(grids, s0, s0)
    grids.set_difference(True)
    assert not grids.tiles.kernels.any()               # epoch 0: nothing before it
    assert "no earlier epoch" in grids.detail_title.text
    grids.add_epoch(summary(1, s1))
    show(grids, s_mid, s0)                             # during epoch 2: now - epoch 1
    change = s_mid["conv1.weight"] - s1["conv1.weight"]
    np.testing.assert_allclose(grids.tiles.kernels, change[:, 0], atol=1e-7)
    # A symmetric scale, rounded up to 1, 2 or 5 × 10ⁿ: it covers the change, snugly.
    low, high = grids.colour_bar.levels()
    assert low == -high and np.abs(change).max() <= high < 2.5 * np.abs(change).max()
    assert f"{high / 10 ** np.floor(np.log10(high)):.6f}" in ("1.000000", "2.000000", "5.000000")
    assert grids.tiles.image.getLevels() == pytest.approx((low, high))
    assert "epoch 1" in grids.detail_title.text
    show(grids, s1, s0)                                # back on epoch 1: epoch 1 - epoch 0
    grids.select_layer("conv3")
    grids.select_channel(7)
    change = s1["conv3.weight"] - s0["conv3.weight"]
    np.testing.assert_allclose(grids.tiles.kernels, change[7], atol=1e-7)
    grids.set_difference(False)
    np.testing.assert_array_equal(grids.tiles.kernels, s1["conv3.weight"][7])


def test_conv1_tiles_are_large_at_1280_by_720(window, qtbot):
    window.resize(1280, 720)
    kernels = window.train_page.kernels
    tiles = kernels.tiles
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=WAIT_MS)
    qtbot.wait(50)
    side = tiles.image.mapRectToDevice(QRectF(0, 0, 3 * CELL, 3 * CELL))
    assert min(side.width(), side.height()) >= 48, side


def test_training_changes_the_kernels_and_the_difference_shows_it(window, qtbot):
    kernels = window.train_page.kernels
    before = kernels.weights["conv1"].copy()
    press(window, "step_epoch")
    wait_paused(qtbot, window)
    qtbot.waitUntil(lambda: window.controller.latest_epoch == 1, timeout=WAIT_MS)
    snapshots = window.controller.snapshots
    qtbot.waitUntil(lambda: np.array_equal(kernels.weights["conv1"],
                                           snapshots[1]["conv1.weight"]), timeout=WAIT_MS)
    assert not np.array_equal(kernels.weights["conv1"], before)
    kernels.difference_box.setChecked(True)
    np.testing.assert_allclose(
        kernels.tiles.kernels,
        (snapshots[1]["conv1.weight"] - snapshots[0]["conv1.weight"])[:, 0], atol=1e-7)
    assert "epoch 0" in kernels.detail_title.text
