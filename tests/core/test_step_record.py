"""The last training step as a record: the kernel update equals the optimizer's to the bit,
the before/after losses equal an independent evaluation, the numerical check agrees, and
the record is forgotten when the weights go back."""
import numpy as np
import pytest

from cnn_core.data import Split, load_sample
from cnn_core.losses import cross_entropy
from cnn_core.network import Network
from cnn_core.session import TrainingSession
from cnn_core.step_record import before_after, kernel_update, numerical_check
from cnn_core.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def tiny_data():
    train, val = load_sample()
    return (Split(train.images[:128], train.labels[:128], "train"),
            Split(val.images[:64], val.labels[:64], "validation"))


def make_session(tiny_data, workers=1):
    return TrainingSession(Network(seed=0), "random weights (seed 0)",
                           load_data=lambda name: tiny_data, workers=workers)


def config(**settings):
    return TrainConfig(**{"epochs": 1, "batch_size": 32, "train_size": 128, "augment": True,
                          "schedule": "onecycle", "lr": 0.05, "momentum": 0.9,
                          "weight_decay": 5e-3, **settings})


@pytest.fixture(scope="module")
def trained(tiny_data):
    """One epoch of four batches on two workers (fc1's update split between threads),
    the rate changed from the loop after batch 2; the weights after batch 3 kept."""
    session = make_session(tiny_data, workers=2)
    seen = {}
    run_config = config(schedule="constant")

    def on_batch(record):
        seen[record.batch] = session.last_step
        if record.batch == 2:
            session.set_live(lr=0.2)    # queued: takes effect at batch 3
        if record.batch == 3:
            seen["weights after 3"] = session.network.state_dict()
    assert session.run(run_config, on_batch=on_batch).status == "finished"
    return session, seen


CHOICES = [("conv1.weight", (3, 0)), ("conv3.weight", (7, 11)), ("fc1.weight", (5,)),
           ("fc2.weight", (9,)), ("fc2.bias", (4,))]


@pytest.mark.parametrize("name, index", CHOICES)
def test_the_kernel_update_equals_the_optimizers_new_weights_bit_for_bit(trained, name, index):
    session, seen = trained
    step = session.last_step
    assert step is seen[4] and step.momentum_applied
    assert step.lr == session.batch_history[-1].lr == 0.2     # the changed rate
    assert session.batch_history[1].lr == 0.05
    update = kernel_update(step, name, index)
    ended = dict(session.network.named_params())[name][index]  # what the trainer ended with
    assert update.w_after.dtype == np.float32
    assert np.array_equal(update.w_after, ended)
    assert np.array_equal(update.w_optimizer, ended)
    # Momentum and weight decay both took part.
    assert not np.array_equal(update.velocity_after, update.g)
    assert not np.array_equal(update.g, update.grad)


def test_the_first_step_of_a_run_takes_the_gradient_as_its_velocity(trained):
    first = trained[1][1]
    assert not first.momentum_applied
    update = kernel_update(first, "conv2.weight", (1, 2))
    assert np.array_equal(update.velocity_after, update.g)
    assert np.array_equal(update.w_after, trained[1][2].params_before["conv2.weight"][1, 2])


def test_records_are_frozen_and_chained(trained):
    _, seen = trained
    for name, value in seen[4].params_before.items():
        assert not value.flags.writeable
        assert np.array_equal(value, seen["weights after 3"][name])
        assert np.array_equal(seen[3].params_after[name], value)
    with pytest.raises(ValueError):
        seen[4].images[0, 0, 0, 0] = 1


def test_before_after_equals_an_independent_evaluation(trained):
    session, seen = trained
    step = session.last_step
    result = before_after(step)
    for weights, losses, preds in ((seen["weights after 3"], result.loss_before, result.pred_before),
                                   (session.network.state_dict(), result.loss_after,
                                    result.pred_after)):
        network = Network()
        network.load_state_dict(weights)
        for i in range(len(step.labels)):   # one image at a time, as nothing else does
            logits = network.forward(step.images[i:i + 1]).logits
            loss, _ = cross_entropy(logits, step.labels[i:i + 1])
            assert losses[i] == pytest.approx(loss, rel=1e-5, abs=1e-6)
            assert preds[i] == logits.argmax()
    # The images are the augmented ones trained on: their loss is the step's own.
    assert result.batch_loss_before == pytest.approx(step.loss, rel=1e-5)
    assert result.better.sum() + result.worse.sum() > 0
    assert np.array_equal(result.better, result.loss_after < result.loss_before)


@pytest.mark.parametrize("name, flat_index", [("conv1.weight", 4), ("conv4.weight", 1234),
                                              ("fc1.weight", None), ("fc2.bias", 3)])
def test_the_numerical_check_agrees_in_float64(trained, name, flat_index):
    step = trained[0].last_step
    if flat_index is None:      # most of fc1's inputs are zero after ReLU: take a live one
        flat_index = int(np.abs(step.grads[name]).argmax())
    check = numerical_check(step, name, flat_index)
    assert check.backprop != 0
    assert check.relative_error < 1e-6
    assert check.numeric == pytest.approx(check.backprop, rel=1e-6)
    # The float32 step's own gradient is the same quantity, less precisely.
    assert check.step_gradient == pytest.approx(check.backprop, rel=1e-3, abs=1e-6)


def test_a_wrong_choice_is_named(trained):
    step = trained[0].last_step
    with pytest.raises(KeyError, match="conv9"):
        kernel_update(step, "conv9.weight", (0, 0))
    with pytest.raises(IndexError, match="fc2.bias has 10 entries"):
        numerical_check(step, "fc2.bias", 10)


def test_the_record_is_forgotten_on_rewind_and_reset(tiny_data):
    session = make_session(tiny_data)
    assert session.last_step is None
    session.run(config(epochs=2, augment=False), on_batch=lambda r: None)
    assert session.last_step.epoch == 2 and session.last_step.batch == 4
    session.rewind(1)
    assert session.last_step is None
    session.run(config(epochs=2, augment=False))
    assert session.last_step is not None
    session.reset(Network(seed=1), "random weights (seed 1)")
    assert session.last_step is None


def test_a_trainer_told_not_to_keeps_no_record(tiny_data):
    train, val = tiny_data
    trainer = Trainer(Network(seed=0), train.as_float(), train.labels, val.as_float(),
                      val.labels, config(augment=False), workers=1)
    trainer.keep_last_step = False
    trainer.run()
    assert trainer.batch == 0 and trainer.epoch == 1 and trainer.last_step is None
    trainer.keep_last_step = True
    trainer.config.epochs = 2
    trainer.run()
    assert trainer.last_step.epoch == 2 and trainer.last_step.batch == 4
