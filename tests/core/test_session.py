"""The training session: history with the settings in force, rewind, immutable model records,
one snapshot store, and changes from another thread applied between batches."""
import dataclasses
import tempfile
import threading
import types

import numpy as np
import pytest

from cnn_core.control import TrainingControl
from cnn_core.data import Split, load_sample
from cnn_core.errors import ConfigError
from cnn_core.network import Network
from cnn_core.session import TrainingSession
from cnn_core.snapshots import PREFIX
from cnn_core.trainer import TrainConfig

WAIT = 60   # seconds; generous for a loaded machine, returns as soon as the event is set
BATCHES = 4  # per epoch: 128 images in batches of 32


@pytest.fixture(scope="module")
def tiny_data():
    train, val = load_sample()
    return (Split(train.images[:128], train.labels[:128], "train"),
            Split(val.images[:64], val.labels[:64], "validation"))


def make_session(tiny_data, seed=0):
    return TrainingSession(Network(seed=seed), f"random weights (seed {seed})",
                           load_data=lambda name: tiny_data, workers=1)


def config(**settings):
    return TrainConfig(**{"epochs": 3, "batch_size": 32, "train_size": 128, "augment": False,
                          "schedule": "constant", "lr": 0.05, "momentum": 0.9, **settings})


class SteppedRun:
    """A session's run on its own thread, paused, moved on one batch at a time."""

    def __init__(self, session, run_config):
        self.session, self.control = session, TrainingControl(paused=True)
        self.asleep = threading.Event()
        self.result = None
        # A daemon: a failed assertion must not leave the test run waiting for it.
        self.thread = threading.Thread(target=self._run, args=(run_config,), daemon=True)
        self.thread.start()
        self.wait_asleep()

    def _run(self, run_config):
        self.result = self.session.run(run_config, self.control, before_wait=self.asleep.set)

    def wait_asleep(self):
        if not self.asleep.wait(WAIT):
            self.control.stop()
            raise AssertionError("the loop never went to sleep")

    def step(self, batches=1):
        for _ in range(batches):
            self.asleep.clear()
            self.control.step_batch()
            self.wait_asleep()

    def stop(self):
        self.control.stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        return self.result


def test_every_batch_record_carries_the_rate_and_momentum_it_was_trained_with(tiny_data):
    session = make_session(tiny_data)
    run = SteppedRun(session, config())
    run.step(3)
    # Paused, the loop owns nothing: the change applies at once...
    assert session.set_live(lr=0.01, momentum=0.5) is True
    run.step(2)
    assert run.stop().status == "stopped"
    records = session.batch_history
    assert [r.step for r in records] == [1, 2, 3, 4, 5]
    assert [r.lr for r in records] == [0.05, 0.05, 0.05, 0.01, 0.01]
    assert [r.momentum for r in records] == [0.9, 0.9, 0.9, 0.5, 0.5]
    # ...and it is what the optimizer used, not only what was written down.
    assert (session.trainer.optimizer.lr, session.trainer.optimizer.momentum) == (0.01, 0.5)


def test_a_change_from_another_thread_waits_for_the_batch_in_flight(tiny_data):
    session = make_session(tiny_data)
    run_config = config(epochs=1)
    in_batch, asked = threading.Event(), threading.Event()
    answers = []

    def on_batch(record):
        if record.batch == 2:           # the loop is busy: hold it until the change is asked
            in_batch.set()
            assert asked.wait(WAIT)

    def ask():
        assert in_batch.wait(WAIT)
        answers.append(session.set_live(lr=0.02, momentum=0.0))
        asked.set()

    helper = threading.Thread(target=ask)
    helper.start()
    result = session.run(run_config, TrainingControl(), on_batch=on_batch)
    helper.join(WAIT)
    assert result.status == "finished"
    assert answers == [False]           # queued, not applied under the running batch
    assert [(r.lr, r.momentum) for r in session.batch_history] == [
        (0.05, 0.9), (0.05, 0.9), (0.02, 0.0), (0.02, 0.0)]
    # The caller's settings object is never the one the trainer reads.
    assert (run_config.lr, run_config.momentum) == (0.05, 0.9)
    assert session.config.lr == 0.02 and session.config is not run_config


def test_rewind_restores_weights_history_and_counters(tiny_data):
    session = make_session(tiny_data)
    at_epoch_end = {}
    run = SteppedRun(session, config())
    run.step(BATCHES)                   # epoch 1 done
    at_epoch_end[1] = session.network.state_dict()
    run.step(BATCHES + 3)               # epoch 2 done, 3 batches into epoch 3
    assert (session.epoch, session.batch, len(session.batch_history)) == (2, 3, 2 * BATCHES + 3)

    assert session.rewind(1) is True    # paused: applied at once
    for name, value in at_epoch_end[1].items():
        assert session.network.state_dict()[name].tobytes() == value.tobytes(), name
    assert (session.epoch, session.batch, session.trainer.step_count) == (1, 0, BATCHES)
    assert [r.epoch for r in session.epoch_history] == [1]
    assert [r.step for r in session.batch_history] == list(range(1, BATCHES + 1))
    assert list(session.snapshots) == [0, 1]
    assert session.model_record().description == "after epoch 1"

    run.step()                          # the paused run goes on from there
    assert run.stop().status == "stopped"
    last = session.batch_history[-1]
    assert (last.epoch, last.batch, last.step) == (2, 1, BATCHES + 1)


def test_rewind_to_an_epoch_without_snapshot_says_so(tiny_data):
    session = make_session(tiny_data)
    with pytest.raises(ConfigError, match="no snapshot of epoch 4"):
        session.rewind(4)


def test_the_model_record_cannot_change(tiny_data):
    session = make_session(tiny_data)
    session.run(config(epochs=1))
    record = session.model_record()
    kept = {name: value.copy() for name, value in record.weights.items()}
    with pytest.raises(ValueError):
        record.weights["conv1.weight"][0, 0, 0, 0] = 1.0
    with pytest.raises(TypeError):
        record.weights["conv1.weight"] = np.zeros(3)
    with pytest.raises(TypeError):
        record.architecture[0]["out_channels"] = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.epoch = 7
    assert (record.epoch, record.batch, record.metrics.epoch) == (1, 0, 1)

    session.run(config(epochs=2))       # training goes on; the record does not move
    for name, value in record.weights.items():
        assert value.tobytes() == kept[name].tobytes(), name
    assert not np.array_equal(session.network.state_dict()["conv1.weight"],
                              kept["conv1.weight"])
    # Its network is a private, writable copy.
    network = record.network()
    network.layer("conv1").params["weight"][...] = 0
    assert record.weights["conv1.weight"].tobytes() == kept["conv1.weight"].tobytes()


def test_one_snapshot_store_and_one_spill_folder(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    session = make_session(tiny_data)
    result = session.run(config(epochs=5))
    assert result.status == "finished"
    assert session.trainer.snapshots is session.snapshots
    assert list(session.snapshots) == [0, 1, 2, 3, 4, 5]
    assert session.snapshots.on_disk == [1, 2, 3]
    assert len(list(tmp_path.glob(f"{PREFIX}*"))) == 1
    # An epoch read back from disk is the state the epoch record describes.
    record = session.epoch_record(2)
    assert record.metrics.epoch == 2 and record.epoch == 2


def test_reset_while_paused_ends_the_run_and_forgets_the_session(tiny_data):
    session = make_session(tiny_data)
    reports = []
    session.on_reset = reports.append
    run = SteppedRun(session, config())
    run.step(BATCHES + 1)
    fresh = Network(seed=5)
    assert session.reset(fresh, "random weights (seed 5)") is True
    assert run.stop().status == "stopped"
    assert reports == ["random weights (seed 5)"]
    assert session.network is fresh and session.trainer is None
    assert list(session.snapshots) == [0] and session.batch_history == []
    assert session.epoch_history == [] and session.epoch == 0
    np.testing.assert_array_equal(session.snapshots[0]["conv1.weight"],
                                  Network(seed=5).state_dict()["conv1.weight"])


def test_divergence_drops_the_batches_it_undid(tiny_data):
    session = make_session(tiny_data)
    session.run(config(epochs=1))
    result = session.run(config(epochs=2, lr=100.0, momentum=0.99))
    assert result.status == "diverged"
    assert session.epoch == 1 and session.batch == 0
    assert all(r.epoch <= 1 for r in session.batch_history)
    assert len(session.batch_history) == BATCHES


def test_data_settings_are_fixed_once_the_run_has_begun(tiny_data):
    session = make_session(tiny_data)
    session.run(config(epochs=1))
    with pytest.raises(ConfigError, match="fixed once a run has begun"):
        session.run(config(epochs=2, batch_size=16))
    with pytest.raises(ConfigError, match="cannot change during a run"):
        session.set_live(batch_size=16)


def test_a_reset_asked_for_during_a_batch_ends_the_run_after_it(tiny_data):
    session = make_session(tiny_data)
    answers, fresh = [], Network(seed=9)

    def on_batch(record):
        if record.step == 2:            # on the loop's thread, inside the batch's reports
            answers.append(session.reset(fresh, "random weights (seed 9)"))
    result = session.run(config(), TrainingControl(), on_batch=on_batch)
    assert answers == [False] and result.status == "stopped"
    assert session.network is fresh and session.trainer is None and session.batch_history == []


def test_extra_images_join_the_next_fresh_trainer_and_outlive_a_reset(tiny_data):
    train, _ = tiny_data
    # As the draw place sends it: float images (N, 1, 28, 28) and their labels.
    extra = types.SimpleNamespace(images=train.as_float()[:32], labels=train.labels[:32])
    session = make_session(tiny_data)
    session.set_extra_training(extra)
    session.run(config(epochs=1))
    assert len(session.trainer.train_labels) == 128 + 32
    assert session.trainer.batches_per_epoch == BATCHES + 1
    session.reset(Network(seed=1), "random weights (seed 1)")
    assert session.extra_training is extra
