"""The curves tell the truth about a run: setting changes are marked where they happened."""
import numpy as np
import pyqtgraph as pg
import pytest

from gui.records import BatchChunk, frozen_array
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
