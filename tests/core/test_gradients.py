"""Every backward pass against central differences in float64 (the issue's 1e-6 bar)."""
import numpy as np
import pytest

from cnn_core.gradcheck import TOLERANCE, check_layers, check_network, relative_error
from cnn_core.layers import MaxPool2D, internal_maps, public_maps


@pytest.mark.parametrize("result", check_layers(seed=1), ids=lambda r: f"{r.name}-{r.what}")
def test_each_layer_matches_numerical_gradient(result):
    assert result.error < TOLERANCE


@pytest.mark.parametrize("result", check_network(seed=2), ids=lambda r: f"{r.what}")
def test_whole_network_matches_numerical_gradient(result):
    assert result.error < TOLERANCE


def test_gradcheck_detects_a_wrong_gradient():
    analytic = np.array([1.0, 2.0, 3.0])
    assert relative_error(analytic, analytic) == 0
    assert relative_error(analytic, analytic * 1.01) > TOLERANCE


def test_maxpool_sends_tied_gradient_to_the_first_maximum_only():
    pool = MaxPool2D("pool")
    x = np.zeros((1, 2, 2, 1))                  # a flat background: all four tie
    _, cache = pool.forward(x)
    grad, _ = pool.backward(np.ones((1, 1, 1, 1)), cache)
    assert grad.sum() == 1 and grad[0, 0, 0, 0] == 1


def test_maxpool_backward_matches_a_plain_loop_on_many_ties():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 3, 6, 6)).astype(np.float64)     # (C, N, H, W); ties galore
    grad = rng.standard_normal((2, 3, 3, 3))
    pool = MaxPool2D("pool")
    _, cache = pool.forward(internal_maps(x))                    # the layers' (C, H, W, N)
    expected = np.zeros_like(x)
    for c, n, i, j in np.ndindex(grad.shape):
        window = x[c, n, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        di, dj = divmod(int(np.argmax(window)), 2)               # first maximum, row-major
        expected[c, n, 2 * i + di, 2 * j + dj] = grad[c, n, i, j]
    np.testing.assert_array_equal(public_maps(pool.backward(internal_maps(grad), cache)[0]), expected)
