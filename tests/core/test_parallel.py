"""Data parallelism: a batch split over threads and chunks gives the one-pass gradient."""
import numpy as np
import pytest

from cnn_core.losses import cross_entropy
from cnn_core.network import CHUNK, Network
from cnn_core.optimizers import SGD
from cnn_core.parallel import DataParallel


def one_pass(network, images, labels):
    """Loss, logits and gradients of the whole batch in a single forward/backward."""
    forward_pass = network.forward(images)
    loss, grad = cross_entropy(forward_pass.logits, labels)
    return loss, forward_pass.logits, network.backward(forward_pass, grad).param_grads


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    images = rng.random((2 * CHUNK + 5, 1, 28, 28), np.float32)   # chunks of 16, 16 and 5
    return images, rng.integers(0, 10, len(images))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_train_step_matches_one_pass_for_any_split(batch, workers):
    images, labels = batch
    network = Network(seed=1)
    loss, logits, grads = one_pass(network.copy(), images, labels)
    with DataParallel(network, workers) as parallel:
        got_loss, got_logits = parallel.train_step(images, labels)
        got_loss, got_logits = parallel.train_step(images, labels)   # no stale sums
        got_grads = parallel.grads
    assert got_loss == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(got_logits, logits, rtol=1e-5, atol=1e-5)
    assert got_grads.keys() == grads.keys()
    for name, grad in got_grads.items():
        np.testing.assert_allclose(grad, grads[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_repeated_steps_are_bit_identical(batch):
    images, labels = batch
    results = []
    for _ in range(2):
        network = Network(seed=1)
        with DataParallel(network, 2) as parallel:
            parallel.train_step(images, labels)
        results.append(np.concatenate([g.ravel() for g in parallel.grads.values()]))
    assert np.array_equal(*results)


def test_dead_relu_fractions_cover_every_chunk(batch):
    images, labels = batch
    network = Network(seed=1)
    # every ReLU applied to full-size maps
    fired = network.fired(network.forward(images, record=True))
    expected = {name: 1.0 - units.mean() for name, units in fired.items()}
    with DataParallel(network.copy(), 2) as parallel:
        parallel.train_step(images, labels)
        got = parallel.dead_relu_fractions()
    assert got.keys() == expected.keys()
    for name, fraction in expected.items():
        assert got[name] == pytest.approx(fraction), name


def test_backward_accumulate_adds_to_the_gradients(batch):
    images, labels = batch
    network = Network(seed=1)
    _, _, whole = one_pass(network, images, labels)
    grads = network.gradient_buffers()
    for part, accumulate in ((slice(0, 20), False), (slice(20, len(labels)), True)):
        forward_pass = network.forward(images[part])
        _, grad = cross_entropy(forward_pass.logits, labels[part])
        grad *= (part.stop - part.start) / len(labels)
        network.backward(forward_pass, grad, param_grads=grads, accumulate=accumulate)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, whole[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_predict_logits_matches_one_pass(batch):
    images, _ = batch
    network = Network(seed=1)
    expected = network.forward(images).logits
    with DataParallel(network, 2) as parallel:
        np.testing.assert_allclose(parallel.predict_logits(images), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(network.predict_logits(images), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_with_a_helper_thread_gives_the_same_weights(batch, momentum):
    images, labels = batch
    results = []
    for lend_threads in (False, True):
        network = Network(seed=1)
        optimizer = SGD(network, lr=0.05, momentum=momentum, weight_decay=5e-4)
        with DataParallel(network, 2) as parallel:
            assert parallel.executor is not None
            for _ in range(3):
                parallel.train_step(images, labels)
                optimizer.step(parallel.grads, parallel.executor if lend_threads else None)
        results.append(network.state_dict())
    assert not np.array_equal(results[0]["fc1.weight"], Network(seed=1).state_dict()["fc1.weight"])
    for name, value in results[0].items():
        np.testing.assert_array_equal(results[1][name], value, err_msg=name)


def test_firing_units_are_counted_only_when_asked(batch):
    images, labels = batch
    with DataParallel(Network(seed=1), 2, track_alive=False) as parallel:
        parallel.train_step(images, labels)
        assert parallel.dead_relu_fractions() == {}
    with DataParallel(Network(seed=1), 2) as parallel:
        parallel.train_step(images, labels)
        assert set(parallel.dead_relu_fractions()) == {"relu1", "relu2", "relu3", "relu4", "relu5"}


def test_a_failing_share_leaves_the_next_step_whole(batch):
    images, labels = batch
    bad = labels.copy()
    bad[-1] = 99
    network = Network(seed=1)
    _, _, whole = one_pass(network, images, labels)
    with DataParallel(network, 1) as parallel:
        with pytest.raises(IndexError):
            parallel.train_step(images, bad)
        parallel.train_step(images, labels)
        for name, grad in whole.items():
            np.testing.assert_allclose(parallel.grads[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)
