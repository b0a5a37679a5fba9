"""Training from the Train place: start, pause, step, stop, timeline."""
import gc
import weakref

import numpy as np

from .conftest import (WAIT_MS, batch_points, conv1_weight, epoch_points, press, trainer_of,
                       wait_idle, wait_paused)

BATCHES_PER_EPOCH = 256 // 32


def test_start_trains_and_the_plots_receive_points(window, qtbot):
    press(window, "start")
    wait_idle(qtbot, window)
    curves = window.train_page.curves
    assert batch_points(window) == 2 * BATCHES_PER_EPOCH   # every batch, none lost
    assert epoch_points(window) == 2
    x, loss = curves.series["loss"]["batch"].item.getOriginalDataset()
    assert np.all(np.diff(x) > 0) and np.all(np.isfinite(loss)) and np.all(loss > 0)
    _, accuracy = curves.series["accuracy"]["validation"].item.getOriginalDataset()
    assert np.all((0 <= accuracy) & (accuracy <= 100))
    assert len(curves._boundaries) == 2
    assert window.train_page.health.grad_curves["conv1"].getOriginalDataset()[0] is not None
    assert window.train_page.progress.run_bar.value() == 2 * BATCHES_PER_EPOCH


def test_pause_stops_the_batch_count(window, qtbot):
    from .conftest import set_fields
    set_fields(window, epochs=20)
    press(window, "start")
    qtbot.waitUntil(lambda: batch_points(window) >= 2, timeout=WAIT_MS)
    press(window, "pause")
    assert window.train_page.buttons.actions["pause"].text() == "Resume"
    wait_paused(qtbot, window)
    count = batch_points(window)
    assert trainer_of(window).step_count == count
    qtbot.wait(1000)   # a running loop would add several batches in this time
    assert batch_points(window) == count
    press(window, "pause")   # resume
    qtbot.waitUntil(lambda: batch_points(window) > count, timeout=WAIT_MS)
    press(window, "stop")
    wait_idle(qtbot, window)


def test_step_batch_and_step_epoch_advance_exactly(window, qtbot):
    press(window, "step_batch")
    wait_paused(qtbot, window)
    assert batch_points(window) == 1 and trainer_of(window).step_count == 1
    press(window, "step_batch")
    wait_paused(qtbot, window)
    assert batch_points(window) == 2
    press(window, "step_epoch")   # finishes the first epoch
    wait_paused(qtbot, window)
    assert batch_points(window) == BATCHES_PER_EPOCH and epoch_points(window) == 1
    press(window, "step_epoch")   # one whole epoch: the last one, so the run ends
    wait_idle(qtbot, window)
    assert batch_points(window) == 2 * BATCHES_PER_EPOCH and epoch_points(window) == 2


def test_stop_then_start_continues(window, qtbot):
    from .conftest import set_fields
    set_fields(window, epochs=3)
    press(window, "step_batch")
    wait_paused(qtbot, window)
    press(window, "step_batch")
    wait_paused(qtbot, window)
    press(window, "stop")
    wait_idle(qtbot, window)
    assert trainer_of(window).step_count == 2
    trainer = trainer_of(window)
    press(window, "start")
    wait_idle(qtbot, window)
    assert trainer_of(window) is trainer
    assert batch_points(window) == 3 * BATCHES_PER_EPOCH
    steps = window.train_page.curves.series["loss"]["batch"].item.getOriginalDataset()[0]
    assert np.allclose(steps * BATCHES_PER_EPOCH, np.arange(1, 3 * BATCHES_PER_EPOCH + 1))


def test_timeline_restores_the_weights_of_the_chosen_epoch(window, qtbot):
    seen = []
    window.controller.model_changed.connect(seen.append)
    press(window, "start")
    wait_idle(qtbot, window)
    trainer = trainer_of(window)
    epoch1 = conv1_weight_from_state(trainer.snapshots[1])
    final = conv1_weight(trainer.network)
    assert not np.array_equal(epoch1, final)

    timeline = window.train_page.timeline
    assert timeline.slider.maximum() == 2
    timeline.slider.setValue(1)
    shown = window.controller.current_model()
    np.testing.assert_array_equal(conv1_weight(shown), epoch1)
    assert seen[-1] is shown and "epoch 1" in shown.description
    np.testing.assert_array_equal(window.train_page.kernels.tiles.kernels, epoch1[:, 0])

    timeline.slider.setValue(2)   # the right end is live again
    np.testing.assert_array_equal(conv1_weight(window.controller.current_model()), final)

    timeline.slider.setValue(1)
    window.controller.rewind_to_viewed()   # the button asks first: see test_nothing_lost
    qtbot.waitUntil(lambda: window.controller.latest_epoch == 1, timeout=WAIT_MS)
    np.testing.assert_array_equal(conv1_weight(trainer.network), epoch1)
    assert epoch_points(window) == 1 and batch_points(window) == BATCHES_PER_EPOCH
    press(window, "start")   # trains epoch 2 again from the restored weights
    wait_idle(qtbot, window)
    assert epoch_points(window) == 2


def test_learning_rate_changes_while_training(window, qtbot):
    from .conftest import set_fields
    set_fields(window, epochs=20)
    press(window, "start")
    qtbot.waitUntil(lambda: batch_points(window) >= 1, timeout=WAIT_MS)
    field = window.train_page.settings.fields["lr"]
    assert field.isEnabled()
    field.setText("0.01")
    field.editingFinished.emit()
    # The session applies it between batches: the trainer reads it before its next one.
    qtbot.waitUntil(lambda: trainer_of(window).config.lr == 0.01, timeout=WAIT_MS)
    press(window, "stop")
    wait_idle(qtbot, window)


def test_reset_gives_fresh_weights_and_clears_the_plots(window, qtbot):
    press(window, "step_epoch")
    wait_paused(qtbot, window)
    press(window, "stop")
    wait_idle(qtbot, window)
    assert not window.train_page.settings.fields["batch_size"].isEnabled()
    window.train_page.settings.fields["seed"].setValue(3)
    press(window, "reset")
    assert batch_points(window) == 0 and epoch_points(window) == 0
    from cnn_core.network import Network
    np.testing.assert_array_equal(conv1_weight(window.controller.current_model()),
                                  conv1_weight(Network(seed=3)))
    assert window.train_page.settings.fields["batch_size"].isEnabled()


def conv1_weight_from_state(state):
    return np.array(state["conv1.weight"])


def test_start_after_the_last_epoch_says_how_to_go_on(window, qtbot):
    press(window, "start")
    wait_idle(qtbot, window)
    press(window, "start")
    assert window.controller.state == "idle"
    assert "raise epochs" in window.train_page.settings.error.text().lower()


def test_older_epochs_leave_memory_yet_timeline_pin_gif_and_rewind_have_them(window, qtbot,
                                                                            tmp_path, monkeypatch):
    import tempfile

    from PIL import Image

    from cnn_core.snapshots import PREFIX
    spill_parent = tmp_path / "tmp"
    spill_parent.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_parent))   # the store's folder goes here

    from .conftest import set_fields
    from .test_draw import draw_seven, open_draw_place, wait_analysed
    set_fields(window, epochs=4)
    at_end, alive = {}, {}

    def remember(summary):
        at_end[summary.record.epoch] = {k: v.copy() for k, v in summary.state.items()}
        alive[summary.record.epoch] = weakref.ref(summary.state["fc1.weight"])
    window.controller.epoch_finished.connect(remember)
    press(window, "start")
    wait_idle(qtbot, window)
    store = window.controller.snapshots
    assert store.in_memory == [0, 3, 4] and store.on_disk == [1, 2]
    # One store for the whole app: the trainer's is the controller's, one spill folder.
    assert trainer_of(window).snapshots is store
    assert len(list(spill_parent.glob(f"{PREFIX}*"))) == 1

    def kept():
        gc.collect()
        return [epoch for epoch, ref in alive.items() if ref() is not None]
    # An evaluation that lags behind the epochs holds its epoch's weights until it ends.
    qtbot.waitUntil(lambda: kept() == [3, 4], timeout=WAIT_MS)

    window.train_page.timeline.slider.setValue(1)
    shown = window.controller.current_model().state_dict()
    assert all(shown[k].tobytes() == v.tobytes() for k, v in at_end[1].items())
    assert window.exports.export_kernels_gif(str(tmp_path / "kernels.gif"))
    with Image.open(tmp_path / "kernels.gif") as image:
        assert image.n_frames == 5
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    place.learning.pin.click()                 # every frame computed now, two from disk
    assert [f[0] for f in place.learning.frames] == [0, 1, 2, 3, 4]

    window.controller.rewind_to_viewed()   # the button asks first: see test_nothing_lost
    qtbot.waitUntil(lambda: window.controller.latest_epoch == 1, timeout=WAIT_MS)
    restored = trainer_of(window).network.state_dict()
    assert all(restored[k].tobytes() == v.tobytes() for k, v in at_end[1].items())
    assert list(store) == [0, 1] and [f[0] for f in place.learning.frames] == [0, 1]
