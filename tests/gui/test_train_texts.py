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


# --- 1. Continue from here -------------------------------------------------------------

def test_continue_from_here_works_while_paused(window, qtbot):
    set_fields(window, epochs=4)
    step(window, qtbot, "step_epoch", 2)
    step(window, qtbot, "step_batch", 3)            # paused in the middle of epoch 3
    assert window.controller.state == "paused" and trainer_of(window).batch == 3
    timeline, progress = window.train_page.timeline, window.train_page.progress
    timeline.slider.setValue(1)
    button = timeline.rewind_button
    assert button.isEnabled()
    assert "paused run is stopped first" in button.toolTip()
    window.controller.rewind_to_viewed()   # the button asks first: see test_nothing_lost
    qtbot.waitUntil(lambda: window.controller.state == "idle"
                    and window.controller.latest_epoch == 1, timeout=WAIT_MS)
    trainer = trainer_of(window)
    assert (trainer.epoch, trainer.batch) == (1, 0)
    np.testing.assert_array_equal(conv1_weight(trainer.network),
                                  np.array(window.controller.snapshots[1]["conv1.weight"]))
    assert batch_points(window) == BATCHES_PER_EPOCH and epoch_points(window) == 1
    assert timeline.label.text().startswith("epoch 1 of 1 (live)")
    # Progress tells the rewound state, not the stopped run's.
    assert progress.epoch_text.text() == "back at the end of epoch 1"
    assert progress.run_text.text() == "epoch 1 of 4 done (25%)"
    assert progress.run_bar.value() == BATCHES_PER_EPOCH
    assert progress.state.text() == "Ready" and "left" not in progress.speed.text()
    assert window.statusBar().currentMessage() == ("Back at the end of epoch 1: Start trains "
                                                   "on from there")
    press(window, "start")                          # trains on from epoch 1
    wait_idle(qtbot, window)
    assert epoch_points(window) == 4 and batch_points(window) == 4 * BATCHES_PER_EPOCH


def test_continue_from_here_says_why_it_cannot_be_pressed(window, qtbot):
    button = window.train_page.timeline.rewind_button
    assert not button.isEnabled() and "earlier epoch" in button.toolTip()
    set_fields(window, epochs=50)
    press(window, "start")
    qtbot.waitUntil(lambda: window.controller.latest_epoch >= 1, timeout=WAIT_MS)
    window.train_page.timeline.slider.setValue(0)
    if window.controller.state == "running":
        assert not button.isEnabled()
        assert button.toolTip().startswith("Pause or Stop the run first")
    press(window, "stop")
    assert not button.isEnabled() and button.toolTip().startswith("Wait until")
    wait_idle(qtbot, window)
    assert button.isEnabled()


# --- 2. Progress and health follow the epoch on show -----------------------------------

def test_an_earlier_epoch_on_show_is_what_progress_and_dead_relus_show(window, qtbot):
    ends = {}
    window.controller.batches_trained.connect(
        lambda c: c.batch == c.batches_per_epoch and ends.__setitem__(c.epoch, dict(c.dead_relu)))
    press(window, "start")
    wait_idle(qtbot, window)
    page = window.train_page
    health, progress, timeline = page.health, page.progress, page.timeline
    assert set(ends) == {1, 2} and ends[1] != ends[2]
    assert health.dead_shown == ends[2] and not progress.on_show.isVisible()

    timeline.slider.setValue(1)
    assert health.dead_shown == ends[1]
    assert "epoch 1" in health.dead_plot.titleLabel.text and health.cursor.isVisible()
    assert progress.on_show.isVisible()
    assert "the end of epoch 1 (timeline), validation" in progress.on_show.text()
    assert "follow the run" in progress.on_show.text()

    timeline.slider.setValue(0)                     # nothing was measured before training
    assert health.dead_shown == {}
    assert "not measured for epoch 0" in health.dead_plot.titleLabel.text
    assert "starting weights" in progress.on_show.text()

    timeline.slider.setValue(2)                     # the live end again
    assert health.dead_shown == ends[2] and not health.cursor.isVisible()
    assert not progress.on_show.isVisible()
    assert health.dead_plot.titleLabel.text == "Dead ReLUs (last batch)"

    timeline.slider.setValue(1)
    window.controller.rewind_to_viewed()   # the button asks first: see test_nothing_lost
    qtbot.waitUntil(lambda: window.controller.latest_epoch == 1, timeout=WAIT_MS)
    assert health.dead_shown == ends[1]
    assert "epoch 1" in health.dead_plot.titleLabel.text
    assert not progress.on_show.isVisible()
    assert progress.run_text.text() == "epoch 1 of 2 done (50%)"


# --- 3. Where a paused run is ----------------------------------------------------------

def test_progress_says_where_the_run_is_paused(window, qtbot):
    progress = window.train_page.progress
    step(window, qtbot, "step_batch", 3)
    qtbot.waitUntil(lambda: progress.batches_seen == 3, timeout=WAIT_MS)
    assert progress.state.text() == f"Paused at epoch 1, batch 3 of {BATCHES_PER_EPOCH}"
    step(window, qtbot, "step_epoch")
    assert progress.state.text() == "Paused after epoch 1"
    step(window, qtbot, "step_batch")
    assert progress.state.text() == f"Paused at epoch 2, batch 1 of {BATCHES_PER_EPOCH}"
    press(window, "stop")
    wait_idle(qtbot, window)
    assert progress.state.text() == "Ready"


def test_the_status_bar_says_where_the_run_is_paused(window, qtbot):
    bar = window.statusBar()

    def says(start):
        qtbot.waitUntil(lambda: bar.currentMessage().startswith(start), timeout=WAIT_MS)
    step(window, qtbot, "step_batch", 3)
    qtbot.waitUntil(lambda: window.train_page.progress.batches_seen == 3, timeout=WAIT_MS)
    # Where it is, then (once the step's before/after is known) what the step did.
    says(f"Stepped one batch: epoch 1 batch 3/{BATCHES_PER_EPOCH}, loss ")
    step(window, qtbot, "step_epoch")
    says("Stepped to the end of epoch 1: train loss ")
    assert "; autosaved" in bar.currentMessage()
    step(window, qtbot, "step_batch")
    says(f"Stepped one batch: epoch 2 batch 1/{BATCHES_PER_EPOCH}, loss ")
    press(window, "stop")
    wait_idle(qtbot, window)


# --- 4. Reset clears stale messages ----------------------------------------------------

def test_reset_clears_the_all_epochs_done_message(window, qtbot):
    press(window, "start")
    wait_idle(qtbot, window)
    press(window, "start")
    error = window.train_page.settings.error
    assert error.isVisible() and "epochs are done" in error.text()
    press(window, "reset")
    assert not error.isVisible() and error.text() == ""


def test_going_back_clears_the_all_epochs_done_message(window, qtbot):
    press(window, "start")
    wait_idle(qtbot, window)
    press(window, "start")
    error = window.train_page.settings.error
    assert error.isVisible()
    window.train_page.timeline.slider.setValue(1)
    window.controller.rewind_to_viewed()   # the button asks first: see test_nothing_lost
    qtbot.waitUntil(lambda: window.controller.latest_epoch == 1, timeout=WAIT_MS)
    assert not error.isVisible()


# --- 5. Speed while paused -------------------------------------------------------------

def test_a_paused_run_shows_its_speed_without_a_countdown(window, qtbot):
    speed = window.train_page.progress.speed
    set_fields(window, epochs=50)
    press(window, "start")
    qtbot.waitUntil(lambda: "left" in speed.text(), timeout=WAIT_MS)
    press(window, "pause")
    wait_paused(qtbot, window)
    text = speed.text()
    assert text.endswith("images/s · paused") and "left" not in text
    qtbot.wait(600)
    assert speed.text() == text
    step(window, qtbot, "step_batch")
    assert speed.text().endswith("· paused")
    press(window, "pause")                          # resume: the time left is back
    qtbot.waitUntil(lambda: "left" in speed.text(), timeout=WAIT_MS)
    press(window, "stop")
    wait_idle(qtbot, window)
    assert speed.text().endswith("images/s in the last run")


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


# --- The hint under "Weights from:" ----------------------------------------------------

def test_a_trained_model_on_show_says_what_start_and_reset_do(window, qtbot):
    page = window.train_page
    assert "shipped" in page.model_label.text()
    assert page.model_hint.isVisible()
    assert "Start trains this model further" in page.model_hint.text()
    assert "Reset gives new random weights" in page.model_hint.text()
    step(window, qtbot, "step_batch")               # a run has begun
    assert not page.model_hint.isVisible()
    press(window, "stop")
    wait_idle(qtbot, window)
    assert not page.model_hint.isVisible()


def test_reset_hides_the_trained_model_hint(window, qtbot):
    page = window.train_page
    assert page.model_hint.isVisible()
    press(window, "reset")
    assert "random weights" in page.model_label.text()
    assert not page.model_hint.isVisible()
