"""What the Train place says must be what is on show and where the run really is.

Continue from here while paused, Progress and Dead ReLUs on an earlier epoch, the
paused position and speed, stale messages after Reset, the run's end message in the
status bar, and the hint under "Weights from:" for an already-trained model.
"""
import numpy as np

from .conftest import (WAIT_MS, batch_points, conv1_weight, epoch_points, press, set_fields,
                       trainer_of, wait_idle, wait_paused)

BATCHES_PER_EPOCH = 256 // 32


def step(window, qtbot, name, times=1):
    for _ in range(times):
        press(window, name)
        wait_paused(qtbot, window)


# --- 6. The run's end message and the autosave note ------------------------------------

def test_a_diverged_run_and_its_autosave_read_as_one_sentence(window, qtbot):
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    set_fields(window, epochs=3)
    step(window, qtbot, "step_epoch")               # epoch 1 ends: autosaved
    fields = window.train_page.settings.fields
    for name, value in (("lr", "100"), ("momentum", "0.99")):
        fields[name].setText(value)
        fields[name].editingFinished.emit()
    press(window, "pause")                          # resume with the rate raised
    wait_idle(qtbot, window)
    ended = [m for m in messages if m.startswith("Training diverged")]
    assert ended, messages
    assert "were put back; autosaved epoch 1 to " in ended[-1]
    assert not any(".;" in m for m in messages), messages
    banner = window.train_page.banner.label.text()
    assert banner.endswith("were put back.</small>")
