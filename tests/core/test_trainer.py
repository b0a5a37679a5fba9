"""The training loop: learning, control (pause, step, stop), divergence, reproducibility."""
import threading

import numpy as np
import pytest

from cnn_core.control import TrainingControl
from cnn_core.data import load_sample
from cnn_core.errors import ConfigError
from cnn_core.network import Network
from cnn_core.optimizers import one_cycle_schedule
from cnn_core.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def small_data():
    train, val = load_sample()
    return train.as_float()[:512], train.labels[:512], val.as_float()[:200], val.labels[:200]


def make_trainer(data, **settings):
    config = TrainConfig(**{"epochs": 2, "batch_size": 64, "train_size": 512, **settings})
    return Trainer(Network(seed=config.seed), *data, config=config)


def test_training_lowers_the_loss_and_learns(small_data):
    trainer = make_trainer(small_data, epochs=3, augment=False)
    losses = []
    result = trainer.run(on_batch=lambda r: losses.append(r.loss))
    assert result.status == "finished" and len(trainer.history) == 3
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert trainer.history[-1].val_accuracy > 0.7


def test_records_carry_what_the_gui_needs(small_data):
    trainer = make_trainer(small_data, epochs=1)
    trainer.track_health = True
    batches, epochs = [], []
    trainer.run(on_batch=batches.append, on_epoch=epochs.append)
    assert [b.batch for b in batches] == list(range(1, 9)) and batches[-1].step == 8
    assert set(batches[0].grad_norms) == {"conv1", "conv2", "conv3", "conv4", "fc1", "fc2"}
    assert all(v > 0 for v in batches[0].grad_norms.values())
    assert set(batches[0].dead_relu) == {"relu1", "relu2", "relu3", "relu4", "relu5"}
    assert all(0 <= v <= 1 for v in batches[0].dead_relu.values())
    assert epochs[0].epoch == 1 and 0 <= epochs[0].val_accuracy <= 1 and epochs[0].seconds > 0


def test_same_seed_gives_bit_identical_weights(small_data):
    a, b = make_trainer(small_data, epochs=1), make_trainer(small_data, epochs=1)
    a.run()
    b.run()
    for name, value in a.network.state_dict().items():
        assert np.array_equal(value, b.network.state_dict()[name]), name


def test_step_batch_runs_exactly_one_batch(small_data):
    trainer = make_trainer(small_data)
    control = TrainingControl(paused=True)
    records = []
    thread = threading.Thread(target=trainer.run, args=(control, records.append))
    thread.start()
    for expected in (1, 2, 3):
        control.step_batch()
        _wait_until(lambda: len(records) == expected)
    thread.join(0.3)
    assert len(records) == 3 and thread.is_alive()      # still paused, waiting
    control.stop()
    thread.join(5)
    assert not thread.is_alive() and trainer.batch == 3


def test_step_epoch_runs_to_the_end_of_the_epoch(small_data):
    trainer = make_trainer(small_data, epochs=3)
    control = TrainingControl(paused=True)
    control.step_batch()
    epochs = []
    thread = threading.Thread(target=trainer.run, args=(control, None, epochs.append))
    thread.start()
    _wait_until(lambda: trainer.batch == 1)
    control.step_epoch()
    _wait_until(lambda: len(epochs) == 1)
    thread.join(0.3)
    assert trainer.epoch == 1 and trainer.batch == 0 and thread.is_alive()
    control.step_epoch()
    _wait_until(lambda: len(epochs) == 2)
    control.stop()
    thread.join(5)
    assert trainer.epoch == 2 and not thread.is_alive()


def test_stop_then_run_continues_where_it_stopped(small_data):
    stopped = make_trainer(small_data, epochs=2)
    control = TrainingControl()
    stopped.run(control, on_batch=lambda r: control.stop() if r.step == 5 else None)
    assert stopped.step_count == 5
    assert stopped.run().status == "finished"
    straight = make_trainer(small_data, epochs=2)
    straight.run()
    for name, value in straight.network.state_dict().items():
        assert np.array_equal(value, stopped.network.state_dict()[name]), name


def test_snapshots_and_rewind(small_data):
    trainer = make_trainer(small_data, epochs=2)
    initial = trainer.network.state_dict()
    trainer.run()
    assert sorted(trainer.snapshots) == [0, 1, 2]
    assert np.array_equal(trainer.snapshots[0]["conv1.weight"], initial["conv1.weight"])
    trainer.rewind_to(1)
    assert trainer.epoch == 1 and len(trainer.history) == 1
    assert np.array_equal(trainer.network.state_dict()["fc1.weight"], trainer.snapshots[1]["fc1.weight"])


def test_rewind_to_an_epoch_kept_on_disk_restores_its_exact_weights(small_data):
    trainer = make_trainer(small_data, epochs=4)
    at_end = {}
    trainer.run(on_epoch=lambda r: at_end.setdefault(r.epoch, trainer.network.state_dict()))
    assert trainer.snapshots.in_memory == [0, 3, 4] and trainer.snapshots.on_disk == [1, 2]
    trainer.rewind_to(1)
    assert list(trainer.snapshots) == [0, 1] and trainer.epoch == 1
    for name, value in at_end[1].items():
        assert trainer.network.state_dict()[name].tobytes() == value.tobytes(), name
    assert trainer.run().status == "finished" and list(trainer.snapshots) == [0, 1, 2, 3, 4]


def test_divergence_stops_and_restores_finite_weights(small_data):
    trainer = make_trainer(small_data, lr=50.0, schedule="constant", momentum=0.9)
    result = trainer.run()
    assert result.status == "diverged"
    assert result.message.startswith("diverged at epoch 1 batch ")
    assert "learning rate 50 is too high" in result.message
    for name, value in trainer.network.named_params():
        assert np.isfinite(value).all(), name
    assert np.isfinite(trainer.network.forward(small_data[0][:8]).logits).all()


def test_divergence_later_in_a_run_goes_back_to_the_last_finished_epoch(small_data):
    """A rate raised mid-run can drive the loss far up for a step or more before it
    blows up (here 1.9, then over 100, then past the limit); the steps in between are
    ruined too, so the weights go back to the end of the last finished epoch."""
    trainer = make_trainer(small_data, epochs=1, schedule="constant", lr=0.05)
    assert trainer.run().status == "finished"
    epoch_one = trainer.snapshots[1]
    trainer.config.epochs, trainer.config.lr = 3, 1.0
    losses = []
    result = trainer.run(on_batch=lambda r: losses.append(r.loss))
    assert result.status == "diverged" and (trainer.epoch, trainer.batch) == (1, 0)
    assert len(losses) >= 2 and losses[-1] > 100, losses    # steps taken, the last ruinous
    assert result.message.endswith("The weights from the end of epoch 1 were put back.")
    for name, value in trainer.network.state_dict().items():
        np.testing.assert_array_equal(value, epoch_one[name], err_msg=name)


@pytest.mark.parametrize("settings, words", [
    ({"lr": -0.1}, "learning rate"), ({"batch_size": 0}, "batch size"), ({"epochs": 0}, "epochs"),
    ({"batch_size": 1000}, "larger than the training set"), ({"momentum": 1.5}, "momentum"),
    ({"train_size": 10_000}, "larger than the 512"), ({"lr": float("nan")}, "learning rate"),
])
def test_settings_out_of_range_are_refused(small_data, settings, words):
    with pytest.raises(ConfigError, match=words):
        make_trainer(small_data, **settings)


def test_one_cycle_schedule_rises_then_falls():
    factor = one_cycle_schedule(100)
    values = [factor(s) for s in range(100)]
    peak = int(np.argmax(values))
    assert 25 <= peak <= 32 and values[peak] == pytest.approx(1.0)
    assert values[0] == pytest.approx(1 / 25) and values[-1] < 1e-4


def _wait_until(condition, timeout=20.0):
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("timed out waiting")


def test_before_wait_runs_once_each_time_the_loop_is_about_to_block(small_data):
    trainer = make_trainer(small_data)
    calls = []
    control = TrainingControl(paused=True, before_wait=lambda: calls.append(trainer.batch))
    thread = threading.Thread(target=trainer.run, args=(control,))
    thread.start()
    _wait_until(lambda: calls == [0])
    control.step_batch()
    _wait_until(lambda: calls == [0, 1])
    control.stop()
    thread.join(5)
    assert calls == [0, 1] and not thread.is_alive()
