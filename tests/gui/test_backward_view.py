"""The backward view: what its columns show against the engine's own backward pass,
and the Draw & Explain tab that follows the canvas and the chosen label."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from cnn_core import paths
from cnn_core.losses import cross_entropy
from cnn_core.model_files import load_model
from cnn_core.model_record import ModelRecord
from gui.draw.inputs import validation_example
from gui.network import layout
from gui.network.backward_view import BackwardView, short_text
from gui.style import nice_top

from .conftest import WAIT_MS
from .test_draw import draw_seven, line, stroke, wait_analysed


@pytest.fixture(scope="module")
def shipped():
    """The shipped model as a record, and validation image #3 (a 3)."""
    network, _ = load_model(paths.SHIPPED_MODEL)
    digit, _ = validation_example(3)
    return network, ModelRecord.of(network.architecture, network.state_dict(), "shipped"), digit


def engine_pass(network, digit, label):
    """The engine's own probabilities and output gradients for one image, by layer name,
    one image's slice: ``(probabilities (10,), {name: (C, H, W) or (F,)})``."""
    forward_pass = network.forward(digit[None, None], record=True)
    _, dlogits = cross_entropy(forward_pass.logits, np.array([label]))
    grads = network.backward(forward_pass, dlogits, record=True, param_grads=False).output_grads
    probabilities = np.exp(forward_pass.logits[0] - forward_pass.logits[0].max())
    return (probabilities / probabilities.sum(),
            {name: grad[:, 0] if grad.ndim == 4 else grad[0] for name, grad in grads.items()})


@pytest.fixture
def view(qtbot):
    view = BackwardView()
    qtbot.addWidget(view)
    view.resize(820, 620)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_dlogits_are_shown_as_softmax_minus_one_hot(view, shipped):
    network, record, digit = shipped
    view.show_pass(record, digit, 5)        # a 3, taken as a 5: a large gradient
    probabilities, _ = engine_pass(network, digit, 5)
    expected = probabilities - np.eye(10)[5]
    shown = [item.text() for item in view.maps.numbers]
    assert shown == [short_text(value, 3) + ("  ← label" if unit == 5 else "")
                     for unit, value in enumerate(expected)]
    assert shown[5].startswith("−1") and shown[3].startswith("+1")
    loss = -np.log(np.float64(probabilities[5]))
    assert f"Loss for label <b>5</b>: {loss:.3g}, p(5) = {probabilities[5]:.3g}" in (
        view.summary.text())
    assert "the network says 3, p = 1)" in view.summary.text()


def test_each_column_states_its_scale_and_norm(view, shipped):
    network, record, digit = shipped
    view.show_pass(record, digit, 8)
    _, grads = engine_pass(network, digit, 8)
    columns = view.maps.columns
    assert [column.name for column in columns] == [
        spec["name"] for spec in network.architecture if spec["type"] != "flatten"]
    for column in columns:
        grad = grads[column.name].astype(np.float64)
        top = nice_top(np.abs(grad).max())
        assert view.maps.items[column.name].scale_label.text() == f"±{top:g}", column.name
        assert view.maps.norms[column.name].text() == f"{np.linalg.norm(grad):.2g}", column.name


def test_relu_and_pool_columns_say_what_they_stopped(view, shipped):
    network, record, digit = shipped
    view.show_pass(record, digit, 1)
    outputs = network.forward(digit[None, None], record=True).outputs
    names = [spec["name"] for spec in network.architecture]
    for name in names:
        caption = view.maps.captions.get(name)
        if name.startswith("relu"):
            below = outputs[names[names.index(name) - 1]]
            assert caption.text() == f"{np.mean(below <= 0):.0%} off", name
        elif name.startswith("pool"):
            assert caption.text() == "1 in 4 wins"
        else:
            assert caption is None, name
    assert "switched off" in view.legend.text() and "winner" in view.legend.text()


def test_hovering_a_map_shows_the_value_and_its_channel_range(view, shipped, qtbot):
    network, record, digit = shipped
    view.show_pass(record, digit, 0)
    _, grads = engine_pass(network, digit, 0)
    maps = view.maps
    element = (2, 5, 7)
    column = maps.by_name["conv3"]
    left, top, width, height = layout.element_rect(column, maps.places["conv3"], element)
    scene = maps.box.mapViewToScene(QPointF(left + width / 2, top + height / 2))
    QTest.mouseMove(maps.graphics.viewport(), maps.graphics.mapFromScene(scene))
    qtbot.waitUntil(lambda: view.hover.text().startswith("conv3 channel 2"), timeout=WAIT_MS)
    channel = grads["conv3"][2]
    assert short_text(float(grads["conv3"][element]), 4) in view.hover.text()
    assert (f"from {short_text(float(channel.min()), 3)} to "
            f"{short_text(float(channel.max()), 3)}") in view.hover.text()


def test_a_clicked_value_stays_on_the_hover_line(view, shipped, qtbot):
    network, record, digit = shipped
    view.show_pass(record, digit, 7)
    _, grads = engine_pass(network, digit, 7)
    maps, element = view.maps, (40,)
    column = maps.by_name["fc1"]
    left, top, width, height = layout.element_rect(column, maps.places["fc1"], element)
    scene = maps.box.mapViewToScene(QPointF(left + width / 2, top + height / 2))
    QTest.mouseClick(maps.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=maps.graphics.mapFromScene(scene))
    qtbot.waitUntil(lambda: maps.selection == ("fc1", element), timeout=WAIT_MS)
    words = f"fc1 unit 40: dL/d pre-activation {short_text(float(grads['fc1'][40]), 4)}"
    assert view.hover.text() == words
    other = layout.element_rect(maps.by_name["conv1"], maps.places["conv1"], (0, 3, 3))
    QTest.mouseMove(maps.graphics.viewport(), maps.graphics.mapFromScene(
        maps.box.mapViewToScene(QPointF(other[0] + 0.5, other[1] + 0.5))))
    qtbot.waitUntil(lambda: view.hover.text().startswith("conv1 channel 0"), timeout=WAIT_MS)
    # Off the values (left of conv1): the scene's own signal, as a second synthetic move
    # in a row is sometimes not delivered offscreen.
    maps.graphics.scene().sigMouseMoved.emit(maps.box.mapViewToScene(
        QPointF(-5, layout.DATA_TOP + 5)))
    assert view.hover.text() == words        # the clicked value's words come back


def test_the_words_of_a_value_say_why_it_passes_no_gradient(view, shipped):
    network, record, digit = shipped
    view.show_pass(record, digit, 3)
    outputs = network.forward(digit[None, None], record=True).outputs
    conv2, relu2 = outputs["conv2"][:, 0], outputs["relu2"][:, 0]
    off = tuple(int(i) for i in np.argwhere(conv2 <= 0)[0])
    assert "(switched off: passes no gradient)" in view.maps.describe_value("relu2", off)
    # A lit unit of relu2 that is not the maximum of its 2×2 window.
    windows = relu2.reshape(16, 14, 2, 14, 2).max(axis=(2, 4)).repeat(2, 1).repeat(2, 2)
    lost = tuple(int(i) for i in np.argwhere((relu2 > 0) & (relu2 < windows))[0])
    words = view.maps.describe_value("relu2", lost)
    assert "(not its window's winner: gets no gradient)" in words
    assert "switched off" not in words
    won = tuple(int(i) for i in np.argwhere((relu2 > 0) & (relu2 == windows))[0])
    words = view.maps.describe_value("relu2", won)
    assert "switched off" not in words and "winner" not in words


def test_a_bad_label_is_said_in_one_line_and_the_view_keeps_its_pass(view, shipped):
    _, record, digit = shipped
    view.show_pass(record, digit, 2)
    shown = [item.text() for item in view.maps.numbers]
    assert view.show_pass(record, digit, 12) is None
    assert view.summary.text() == ("Cannot show the backward pass: the label must be a class "
                                   "from 0 to 9, not 12")
    assert [item.text() for item in view.maps.numbers] == shown
    view.show_pass(record, digit, 2)
    assert view.summary.text().startswith("Loss for label")


# --- the Draw & Explain tab -----------------------------------------------------------

@pytest.fixture
def place(qtbot, shipped):
    """The Draw & Explain place alone, with the shipped model."""
    from gui.draw.place import DrawExplainPlace
    network, record, _ = shipped
    place = DrawExplainPlace(network)
    qtbot.addWidget(place)
    place.show_model(record)
    place.resize(1280, 680)
    place.show()
    qtbot.waitExposed(place)
    yield place
    place.shutdown()


def test_the_tab_follows_the_canvas_and_the_chosen_label(place, qtbot, shipped):
    network = shipped[0]
    tab = place.backward_tab
    assert place.views.tabText(place.views.indexOf(tab)) == "Backward pass"
    draw_seven(place.canvas)
    analysis = wait_analysed(qtbot, place)
    assert tab.view.flow is None            # hidden: nothing computed yet
    place.views.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.view.flow is not None, timeout=WAIT_MS)
    predicted = int(np.argmax(analysis.probabilities))
    assert tab.view.flow.label == predicted
    assert tab.label_choice.currentText() == f"its prediction ({predicted})"
    assert "(the network's answer)" in tab.view.summary.text()
    np.testing.assert_allclose(tab.view.flow.probabilities, analysis.probabilities, atol=1e-6)

    tab.label_choice.setCurrentText("4")    # "what if this were a 4?"
    assert tab.view.flow.label == 4
    digit = place.controller.digit
    probabilities, _ = engine_pass(network, digit, 4)
    assert tab.view.maps.numbers[4].text() == short_text(probabilities[4] - 1, 3) + "  ← label"

    before = tab.view.flow
    stroke(place.canvas, line((0.2, 0.5), (0.8, 0.5)))      # the pen moves on
    qtbot.waitUntil(lambda: tab.view.flow is not before and np.allclose(
        tab.view.flow.probabilities, place.controller.analysis.probabilities, atol=1e-6),
        timeout=WAIT_MS)
    assert tab.view.flow.label == 4
    assert not np.allclose(tab.view.flow.probabilities, before.probabilities)


def test_another_architecture_gets_its_own_columns(view, shipped):
    from cnn_core.network import Network
    from .test_other_architecture import SMALL
    network, record, digit = shipped
    small = Network(SMALL, seed=3)
    view.show_pass(ModelRecord.of(SMALL, small.state_dict(), "small"), digit, 2)
    assert [column.name for column in view.maps.columns] == [
        "edges", "edges_on", "halve", "strokes", "strokes_on", "halve_again", "hidden",
        "hidden_on", "scores"]
    _, grads = engine_pass(small, digit, 2)
    assert view.maps.norms["hidden"].text() == f"{np.linalg.norm(grads['hidden']):.2g}"
    assert set(view.maps.captions) == {"edges_on", "halve", "strokes_on", "halve_again",
                                       "hidden_on"}
    view.show_pass(record, digit, 2)        # back to the seed's network
    assert view.maps.columns[0].name == "conv1" and view.maps.columns[-1].name == "fc2"
