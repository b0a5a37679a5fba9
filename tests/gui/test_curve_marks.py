"""The curves tell the truth about a run: setting changes are marked where they happened."""
import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest

from gui.records import BatchChunk, Divergence, frozen_array
from gui.train.curves import TrainingCurves, setting_changes

BPE = 4   # batches per epoch


def chunk(first_step, lr, momentum, peak_lr=None):
    """Batches ``first_step + 1 ...`` trained with per-batch ``lr`` and ``momentum``."""
    k = len(lr)
    step = np.arange(first_step + 1, first_step + 1 + k)
    last = int(step[-1])
    return BatchChunk(
        position=frozen_array(step / BPE), step=frozen_array(step, int),
        loss=frozen_array(np.linspace(2.0, 1.0, k)), accuracy=frozen_array(np.full(k, 0.5)),
        lr=frozen_array(lr), peak_lr=frozen_array(lr if peak_lr is None else peak_lr),
        momentum=frozen_array(momentum), grad_norms={}, dead_relu={},
        epoch=(last - 1) // BPE + 1, batch=(last - 1) % BPE + 1, batches_per_epoch=BPE,
        total_epochs=3, samples_per_second=float("nan"), seconds_left=float("nan"))


@pytest.fixture
def curves(qtbot):
    widget = TrainingCurves()
    qtbot.addWidget(widget)
    return widget


def marks(curves):
    return [(x, label) for x, label, _ in curves.changes]


def test_no_mark_while_the_settings_stay(curves):
    curves.add_batches(chunk(0, [0.1] * 5, [0.9] * 5))
    assert marks(curves) == []


def test_a_rate_change_is_marked_at_the_batch_it_took_effect(curves):
    # Batches 1-3 at 0.1, batch 4 onwards at 0.2: the change sits at the end of batch 3.
    curves.add_batches(chunk(0, [0.1, 0.1, 0.1, 0.2, 0.2], [0.9] * 5))
    assert marks(curves) == [(3 / BPE, "lr 0.2")]
    for (line, plot) in zip(curves.changes[0][2], (curves.loss_plot, curves.accuracy_plot)):
        assert line in plot.items and line.value() == pytest.approx(0.75)
        assert line.label.toPlainText() == "lr 0.2"


def test_a_change_between_chunks_and_of_both_settings(curves):
    curves.add_batches(chunk(0, [0.1, 0.1], [0.9, 0.9]))
    curves.add_batches(chunk(2, [0.05, 0.05], [0.5, 0.5]))
    curves.add_batches(chunk(4, [0.05], [0.0]))
    assert marks(curves) == [(2 / BPE, "lr 0.05, momentum 0.5"), (4 / BPE, "momentum 0")]


def test_the_schedule_alone_is_no_change(curves):
    # One-cycle moves lr every batch; the set (peak) rate stays: no mark until it moves.
    lr = np.array([0.01, 0.04, 0.1, 0.08, 0.12])
    peak = np.array([0.1, 0.1, 0.1, 0.1, 0.15])
    curves.add_batches(chunk(0, lr, [0.9] * 5, peak_lr=peak))
    assert marks(curves) == [(4 / BPE, "lr 0.15")]


def test_rewinding_forgets_the_marks_of_the_lost_batches(curves):
    curves.add_batches(chunk(0, [0.1, 0.2, 0.2, 0.2, 0.3, 0.3], [0.9] * 6))
    assert [x for x, _ in marks(curves)] == [1 / BPE, 4 / BPE]
    curves.truncate(1)                 # back to the end of epoch 1 (x = 1)
    assert marks(curves) == [(1 / BPE, "lr 0.2")]
    assert len(curves.loss_plot.items) == len(set(curves.loss_plot.items))
    # Epoch 2 trained again at 0.3 from its first batch: marked once, at x = 1.
    curves.add_batches(chunk(4, [0.3, 0.3], [0.9] * 2))
    assert marks(curves) == [(1 / BPE, "lr 0.2"), (1.0, "lr 0.3")]
    curves.clear()
    assert marks(curves) == []
    assert not [i for i in curves.loss_plot.items
                if isinstance(i, pg.InfiniteLine) and getattr(i, "label", None)]


def test_setting_changes_against_a_direct_comparison():
    rng = np.random.default_rng(0)
    lr = rng.choice([0.1, 0.2], size=50)
    mu = rng.choice([0.0, 0.9], size=50)
    position = np.arange(1, 51) / BPE
    changes, last = setting_changes(position, lr, mu)
    expected = [position[i - 1] for i in range(1, 50) if lr[i] != lr[i - 1] or mu[i] != mu[i - 1]]
    assert [x for x, _ in changes] == expected
    assert last == (position[-1], lr[-1], mu[-1])


# --- a divergence stays visible ---------------------------------------------------------

def diverge(curves, position, peak_lr, restored_epoch):
    """As the window does: the divergence first, then the run's rewind."""
    curves.show_divergence(Divergence(position, peak_lr / 4, peak_lr, restored_epoch))
    curves.truncate(restored_epoch)


def test_a_divergence_leaves_its_batches_and_a_clipped_spike(curves):
    loss = np.array([2.0, 1.5, 1.2, 1.0, 3.0, 8.0])
    c = chunk(0, [0.1] * 6, [0.9] * 6)
    curves.add_batches(dataclasses.replace(c, loss=frozen_array(loss)))
    diverge(curves, 7 / BPE, 2.0, restored_epoch=1)
    # The run's own curve went back to the end of epoch 1 ...
    assert list(curves.series["loss"]["batch"].x) == [0.25, 0.5, 0.75, 1.0]
    # ... but the abandoned batches 5-6 and the blow-up at batch 7 stay, in red.
    (divergence, items), = curves.divergences
    x, y = items["loss"].getOriginalDataset()
    top = 10.0 ** curves._ranges["loss"][1]
    assert list(x) == [1.25, 1.5, 1.75]
    assert list(y) == [3.0, 8.0, top]
    assert list(items["loss_marker"].getOriginalDataset()[1]) == [top]
    assert items["label"].toPlainText() == "diverged, lr 2"
    assert items["accuracy_line"].value() == pytest.approx(1.75)
    assert list(items["accuracy"].getOriginalDataset()[0]) == [1.25, 1.5]


def test_the_spike_follows_the_axis_top_and_goes_with_a_new_session(curves):
    curves.add_batches(chunk(0, [0.1] * 2, [0.9] * 2))
    diverge(curves, 3 / BPE, 1.0, restored_epoch=0)
    before = curves._ranges["loss"][1]
    c = chunk(0, [0.1] * 2, [0.9] * 2)
    curves.add_batches(dataclasses.replace(c, loss=frozen_array([900.0, 900.0])))
    top = curves._ranges["loss"][1]
    assert top > before
    _, items = curves.divergences[0]
    assert items["loss"].getOriginalDataset()[1][-1] == pytest.approx(10.0 ** top)
    assert items["label"].pos().y() == pytest.approx(top)
    curves.clear()
    assert curves.divergences == []
    assert items["label"] not in curves.loss_plot.items
    assert items["loss"] not in curves.loss_plot.items


def test_the_learning_rate_field_points_at_the_rate_that_diverged(qtbot):
    from gui.train.settings import TrainSettingsForm
    form = TrainSettingsForm()
    qtbot.addWidget(form)
    field = form.fields["lr"]
    form.show_divergence(Divergence(1.5, 0.123, 0.5, 1))
    assert field.toolTip().startswith("Training diverged at learning rate 0.5 "
                                      "(the schedule had it at 0.123 then)")
    assert field.property("tone") == "error"
    qtbot.keyClicks(field, "1")        # the person changes the rate: the field is plain again
    assert field.property("tone") is None and "diverged" not in field.toolTip()


# --- through the real window ----------------------------------------------------------

def test_a_rate_changed_mid_run_is_marked_where_the_engine_used_it(window, qtbot):
    from .conftest import WAIT_MS, batch_points, press, set_fields, trainer_of, wait_idle
    set_fields(window, epochs=20)      # one-cycle: the rate moves every batch by itself
    press(window, "start")
    qtbot.waitUntil(lambda: batch_points(window) >= 1, timeout=WAIT_MS)
    field = window.train_page.settings.fields["lr"]
    field.setText("0.0123")
    field.editingFinished.emit()
    qtbot.waitUntil(lambda: len(window.train_page.curves.changes) > 0, timeout=WAIT_MS)
    press(window, "stop")
    wait_idle(qtbot, window)
    curves = window.train_page.curves
    (x, label, _), = curves.changes
    assert label == "lr 0.0123"
    # At the end of the last batch trained with the old rate: the engine's own record.
    history = window.controller.session.batch_history
    first_new = next(r for r in history if r.lr == trainer_of(window).learning_rate(r.step - 1))
    assert x == pytest.approx((first_new.step - 1) / first_new.batches_per_epoch)


def test_a_divergence_in_the_app_keeps_its_spike_and_points_at_the_rate(window, qtbot):
    from .conftest import press, set_fields, wait_idle
    set_fields(window, lr="100", momentum=0.99)
    press(window, "start")
    wait_idle(qtbot, window)
    curves = window.train_page.curves
    (divergence, items), = curves.divergences
    assert divergence.peak_lr == pytest.approx(100)
    assert items["label"].toPlainText() == "diverged, lr 100"
    x, y = items["loss"].getOriginalDataset()
    assert x[-1] == divergence.position and y[-1] == 10.0 ** curves._ranges["loss"][1]
    field = window.train_page.settings.fields["lr"]
    assert "diverged at learning rate 100" in field.toolTip()
    assert field.property("tone") == "error"
    # Reset: new weights, a new story; the field is plain and the curves are empty.
    press(window, "reset")
    assert curves.divergences == [] and field.property("tone") is None
    assert "diverged" not in field.toolTip()


def test_the_change_that_led_to_a_divergence_stays_marked(curves):
    curves.add_batches(chunk(0, [0.1] * 5 + [3.0], [0.9] * 6))
    diverge(curves, 7 / BPE, 3.0, restored_epoch=1)
    assert marks(curves) == []        # not the run's any more: it went back to x = 1
    (_, items), = curves.divergences
    assert items["change 1.25"].value() == pytest.approx(1.25)
    assert items["change 1.25"] in curves.loss_plot.items
    assert items["accuracy change 1.25"] in curves.accuracy_plot.items
    curves.clear()
    assert items["change 1.25"] not in curves.loss_plot.items
