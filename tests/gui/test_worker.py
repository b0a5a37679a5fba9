"""The training worker on its own: reports by time, never per batch without limit."""
import time

import numpy as np
import pytest

from cnn_core.network import Network
from cnn_core.session import TrainingSession
from cnn_core.trainer import TrainConfig
from cnn_core.control import TrainingControl
from gui.training_worker import KERNEL_INTERVAL, MODEL_INTERVAL, SCALAR_INTERVAL, TrainingWorker


def test_reports_are_rate_limited_and_lose_no_batch(qtbot):
    # Run in this thread, with direct connections, so each report is timed as it is sent.
    worker = TrainingWorker(TrainingSession(Network(seed=0), "random weights (seed 0)"))
    reports = {"chunks": [], "kernels": 0, "models": [], "epochs": 0, "ended": []}
    worker.batches_trained.connect(lambda chunk: reports["chunks"].append(chunk))
    worker.kernels_changed.connect(lambda frame: reports.__setitem__("kernels", reports["kernels"] + 1))
    worker.model_changed.connect(reports["models"].append)
    worker.epoch_finished.connect(lambda summary: reports.__setitem__("epochs", reports["epochs"] + 1))
    worker.run_ended.connect(reports["ended"].append)
    config = TrainConfig(epochs=3, batch_size=8, train_size=256, augment=False)
    started = time.perf_counter()
    worker.run(config, TrainingControl())
    elapsed = time.perf_counter() - started

    assert reports["ended"][0].status == "finished"
    steps = np.concatenate([chunk.step for chunk in reports["chunks"]])
    np.testing.assert_array_equal(steps, np.arange(1, 3 * 32 + 1))   # every batch, in order
    # Extra flushes only at each epoch's end and at the end of the run.
    assert len(reports["chunks"]) <= elapsed / SCALAR_INTERVAL + 3 + 2
    assert reports["kernels"] <= elapsed / KERNEL_INTERVAL + 2
    assert len(reports["models"]) <= elapsed / MODEL_INTERVAL + 2
    # The model is sent as an immutable record of the weights at the end of the run.
    last = reports["models"][-1]
    assert last.description == "after epoch 3" and last.epoch == 3
    assert not any(value.flags.writeable for value in last.weights.values())
    assert reports["epochs"] == 3
    chunk = reports["chunks"][-1]
    assert not chunk.loss.flags.writeable and set(chunk.grad_norms) >= {"conv1", "fc2"}


def test_a_diverging_run_shows_the_banner(window, qtbot):
    from .conftest import press, set_fields, wait_idle
    set_fields(window, lr="100", momentum=0.99)
    press(window, "start")
    wait_idle(qtbot, window)
    banner = window.train_page.banner
    assert banner.isVisible()
    assert "learning rate" in banner.label.text().lower()


def timed_worker():
    """A worker run in this thread that also keeps the trainer's own time of each batch."""
    worker = TrainingWorker(TrainingSession(Network(seed=0), "random weights (seed 0)"))
    seconds, chunks = [], []
    on_batch = worker._on_batch

    def timed(record):
        seconds.append(record.seconds)
        on_batch(record)
    worker._on_batch = timed
    worker.batches_trained.connect(chunks.append)
    return worker, seconds, chunks


def test_speed_counts_training_time_only_not_validation_or_pauses(qtbot, monkeypatch):
    import threading
    monkeypatch.setattr("gui.training_worker.SPEED_WINDOW", 1e9)   # every batch counts
    # Two batches an epoch: the validation after each epoch takes longer than both.
    config = TrainConfig(epochs=3, batch_size=32, train_size=64, augment=False)
    worker, seconds, chunks = timed_worker()
    worker.run(config, TrainingControl())
    expected = 32 * (len(seconds) - 1) / sum(seconds[1:])   # the first batch warms up
    assert chunks[-1].samples_per_second == pytest.approx(expected, rel=0.05)

    # Batch by batch with a pause before each: the pauses do not count either.
    worker, seconds, chunks = timed_worker()
    control = TrainingControl(paused=True)
    asleep = threading.Event()
    worker.waiting.connect(asleep.set)

    def press():
        for _ in range(2 * 2):
            asleep.wait(30)
            asleep.clear()
            time.sleep(0.2)
            control.step_batch()
    presser = threading.Thread(target=press)
    presser.start()
    worker.run(TrainConfig(epochs=2, batch_size=32, train_size=64, augment=False), control)
    presser.join()
    expected = 32 * (len(seconds) - 1) / sum(seconds[1:])
    assert np.isfinite(chunks[-1].samples_per_second)
    assert chunks[-1].samples_per_second == pytest.approx(expected, rel=0.05)
