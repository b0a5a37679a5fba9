"""The One step tab: the batch of the last step before and after it, one kernel's update with
the optimizer's own numbers, the numerical check, and Step batch / Step epoch from every state
saying what they did."""
import re

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnn_core.data import load_sample
from cnn_core.network import Network
from cnn_core.trainer import TrainConfig, Trainer
from gui.train.kernel_update import exact
from gui.train.one_step import OneStepView

from .conftest import WAIT_MS, press, set_fields, trainer_of, wait_idle, wait_paused

BATCHES_PER_EPOCH = 256 // 32


@pytest.fixture(scope="module")
def step():
    """The last step of three batches of 32, momentum and weight decay on, the rate
    changed before the third."""
    train, val = load_sample()
    config = TrainConfig(epochs=1, batch_size=32, train_size=96, schedule="constant",
                         lr=0.05, momentum=0.9, weight_decay=5e-3, augment=True)
    trainer = Trainer(Network(seed=3), train.as_float()[:96], train.labels[:96],
                      val.as_float()[:32], val.labels[:32], config, workers=1)

    def on_batch(record):
        if record.batch == 2:
            trainer.config.lr = 0.1
    trainer.run(on_batch=on_batch)
    record = trainer.last_step
    assert record.lr == 0.1 and record.momentum_applied
    return record, {name: value.copy() for name, value in trainer.network.named_params()}


@pytest.fixture
def view(qtbot):
    widget = OneStepView()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    yield widget
    widget.shutdown()


def shown(qtbot, view, record):
    view.show()
    qtbot.waitExposed(view)
    view.show_step(record)
    qtbot.waitUntil(lambda: view.grid.count() == len(record.labels), timeout=WAIT_MS)


def test_the_batch_is_shown_before_and_after(qtbot, view, step):
    record, _ = step
    shown(qtbot, view, record)
    result = view.result
    assert f"{result.batch_loss_before:.4f} → {result.batch_loss_after:.4f}" in view.header.text()
    assert f"{int(result.better.sum())} images better" in view.header.text()
    changes = []
    for row in range(view.grid.count()):
        i = view.grid.batch_index(row)
        text = view.grid.item(row).text()
        assert text.startswith(f"{record.labels[i]}: {result.pred_before[i]}→"
                               f"{result.pred_after[i]}")
        assert f"{result.loss_before[i]:.2f}→{result.loss_after[i]:.2f}" in text
        changes.append(result.change[i])
    assert changes == sorted(changes)                       # most helped first
    assert sorted(view.grid.batch_index(r) for r in range(view.grid.count())) == list(range(32))


def test_clicking_a_thumbnail_emits_the_image_label_and_weights_before(qtbot, view, step):
    record, _ = step
    shown(qtbot, view, record)
    row = 5
    rect = view.grid.visualItemRect(view.grid.item(row))
    with qtbot.waitSignal(view.image_chosen, timeout=WAIT_MS) as signal:
        qtbot.mouseClick(view.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    image, label, model = signal.args
    i = view.grid.batch_index(row)
    assert image.shape == (28, 28) and image.dtype == np.float32
    np.testing.assert_array_equal(image, record.images[i, 0])
    assert label == record.labels[i]
    for name, value in record.params_before.items():
        np.testing.assert_array_equal(model.weights[name], value)
    assert (model.epoch, model.batch) == (0, 2)


def test_a_hidden_tab_works_nothing_out_until_shown(qtbot, view, step):
    record, _ = step
    view.show_step(record)          # never shown
    qtbot.wait(200)
    assert view.result is None and view.grid.count() == 0
    assert "shown when this tab is open" in view.header.text()
    view.show()
    qtbot.waitUntil(lambda: view.grid.count() == 32, timeout=WAIT_MS)


def choose(view, layer, out, inner, element):
    kernel = view.kernel
    kernel.layer.setCurrentIndex(kernel.layer.findText(layer))
    kernel.out_channel.setValue(out)
    if inner is not None:
        kernel.in_channel.setValue(inner)
    kernel.element.setValue(element)


@pytest.mark.parametrize("layer, out, inner, element, at", [
    ("conv2", 3, 5, 4, (3, 5, 1, 1)), ("conv4", 60, 31, 8, (60, 31, 2, 2)),
    ("fc1", 17, None, 2000, (17, 2000))])
def test_the_kernel_formula_shows_the_optimizers_numbers(qtbot, view, step, layer, out, inner,
                                                         element, at):
    record, ended = step
    shown(qtbot, view, record)
    choose(view, layer, out, inner, element)
    name = f"{layer}.weight"
    formula = view.kernel.formula.text()
    new = ended[name][at]               # what the optimizer wrote
    before = record.params_before[name][at]
    assert f"= {exact(new)}" in formula
    assert f"w′ = w − lr·v = {exact(before)} − 0.1 × " in formula
    assert f"v = μ·v + g = 0.9 × {exact(record.velocity_before[name][at])} + " in formula
    assert "every one to the last bit" in formula
    assert f"<u>{new:.4g}</u>" in view.kernel.grids["w_after"].text()
    assert "learning rate 0.1" in view.kernel.settings.text()


def test_the_check_button_shows_a_tiny_relative_error(qtbot, view, step):
    record, _ = step
    shown(qtbot, view, record)
    choose(view, "conv3", 2, 7, 4)
    view.kernel.check_button.click()
    qtbot.waitUntil(lambda: "relative error" in view.kernel.check_result.text(), timeout=WAIT_MS)
    text = view.kernel.check_result.text()
    error = float(re.search(r"relative error ([0-9.e+-]+)", text).group(1))
    assert error < 1e-6 and "they agree" in text
    flat = np.ravel_multi_index((2, 7, 1, 1), record.grads["conv3.weight"].shape)
    assert f"{record.grads['conv3.weight'].reshape(-1)[flat]:.7g}" in text


# --- Step batch and Step epoch from every state, in the window ---------------------------

def step_and_wait(qtbot, window, name):
    press(window, name)
    wait_paused(qtbot, window)
    view = window.train_page.one_step
    qtbot.waitUntil(lambda: view.result is not None
                    and view._step is window.controller.last_step, timeout=WAIT_MS)
    return view


def said(window, qtbot, text):
    qtbot.waitUntil(lambda: text in window.statusBar().currentMessage(), timeout=WAIT_MS)


@pytest.mark.slow
def test_step_batch_and_epoch_work_from_every_state(window, qtbot):
    set_fields(window, epochs=3)
    page = window.train_page
    page.views.setCurrentWidget(page.one_step)
    # Fresh (idle): one batch.
    view = step_and_wait(qtbot, window, "step_batch")
    said(window, qtbot, "Stepped one batch: epoch 1 batch 1/8, loss ")
    assert "batch 1 of 8" in view.header.text() and view.grid.count() == 32
    # A click on an image opens its backward pass, for its label, on the weights before.
    rect = view.grid.visualItemRect(view.grid.item(3))
    qtbot.mouseClick(view.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    shown_pass = window.backward_window
    qtbot.waitUntil(lambda: shown_pass is not None and shown_pass.isVisible(), timeout=WAIT_MS)
    i = view.grid.batch_index(3)
    assert shown_pass.view.flow.label == view._step.labels[i]
    assert f"label {view._step.labels[i]}" in shown_pass.windowTitle()
    shown_pass.close()
    # Paused: another.
    step_and_wait(qtbot, window, "step_batch")
    said(window, qtbot, "Stepped one batch: epoch 1 batch 2/8")
    # Paused: to the end of the epoch.
    press(window, "step_epoch")
    wait_paused(qtbot, window)
    said(window, qtbot, "Stepped to the end of epoch 1: train loss")
    # Paused with an earlier epoch on show: the step trains the live model, shown again.
    page.timeline.slider.setValue(0)
    qtbot.waitUntil(lambda: window.controller.current_model().epoch == 0, timeout=WAIT_MS)
    step_and_wait(qtbot, window, "step_batch")
    said(window, qtbot, "Stepped one batch: epoch 2 batch 1/8")
    assert window.controller.current_model() is not window.controller._viewed_model
    assert page.timeline.slider.value() == 1
    # Stopped: one batch, on from where it stopped.
    press(window, "stop")
    wait_idle(qtbot, window)
    step_and_wait(qtbot, window, "step_batch")
    said(window, qtbot, "Stepped one batch: epoch 2 batch 2/8")
    # Back on the timeline (the run stopped first), then a batch from there.
    page.timeline.slider.setValue(0)
    window.controller.rewind_to_viewed()    # what Continue from here does once answered
    qtbot.waitUntil(lambda: window.controller.state == "idle"
                    and window.controller.latest_epoch == 0, timeout=WAIT_MS)
    assert view._step is None and view.grid.count() == 0    # its weights are gone
    step_and_wait(qtbot, window, "step_batch")
    said(window, qtbot, "Stepped one batch: epoch 1 batch 1/8")
    assert trainer_of(window).step_count == 1
    # After Reset: an epoch, then a batch.
    press(window, "stop")
    wait_idle(qtbot, window)
    press(window, "reset")
    assert view._step is None and window.controller.last_step is None
    press(window, "step_epoch")
    wait_paused(qtbot, window)
    said(window, qtbot, "Stepped to the end of epoch 1")
    step_and_wait(qtbot, window, "step_batch")
    said(window, qtbot, "Stepped one batch: epoch 2 batch 1/8")
    press(window, "stop")
    wait_idle(qtbot, window)


def test_show_the_last_step_while_stopped_and_on_a_hidden_tab(window, qtbot):
    page = window.train_page
    press(window, "step_batch")         # the tab is hidden: nothing worked out but the words
    wait_paused(qtbot, window)
    said(window, qtbot, "Stepped one batch: epoch 1 batch 1/8")
    press(window, "stop")
    wait_idle(qtbot, window)
    view = page.one_step
    view.clear()
    page.views.setCurrentWidget(view)
    view.show_last.click()
    qtbot.waitUntil(lambda: view.grid.count() == 32, timeout=WAIT_MS)
    assert view._step is window.controller.last_step and "batch 1 of 8" in view.header.text()


def test_a_running_run_sends_its_step_only_when_it_ends(window, qtbot):
    page = window.train_page
    page.views.setCurrentWidget(page.one_step)      # even with the tab open
    sent = []
    window.controller.last_step_changed.connect(sent.append)
    press(window, "start")
    wait_idle(qtbot, window)
    assert len(sent) == 1
    assert (sent[0].epoch, sent[0].batch) == (2, BATCHES_PER_EPOCH)
    assert sent[0] is window.controller.last_step
    qtbot.waitUntil(lambda: page.one_step.grid.count() == 32, timeout=WAIT_MS)
