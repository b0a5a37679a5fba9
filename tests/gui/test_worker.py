"""The training worker on its own: reports by time, never per batch without limit."""
import time

import numpy as np

from cnn_core.network import Network
from cnn_core.trainer import TrainConfig
from cnn_core.control import TrainingControl
from gui.training_worker import KERNEL_INTERVAL, MODEL_INTERVAL, SCALAR_INTERVAL, TrainingWorker


def test_reports_are_rate_limited_and_lose_no_batch(qtbot):
    # Run in this thread, with direct connections, so each report is timed as it is sent.
    worker = TrainingWorker(Network(seed=0))
    reports = {"chunks": [], "kernels": 0, "models": 0, "epochs": 0, "ended": []}
    worker.batches_trained.connect(lambda chunk: reports["chunks"].append(chunk))
    worker.kernels_changed.connect(lambda frame: reports.__setitem__("kernels", reports["kernels"] + 1))
    worker.model_copied.connect(lambda net, text: reports.__setitem__("models", reports["models"] + 1))
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
    assert reports["models"] <= elapsed / MODEL_INTERVAL + 2
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
