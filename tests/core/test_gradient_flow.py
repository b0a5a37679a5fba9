"""The backward pass of one image: dL/dlogits, every layer's gradient, its routing and norm."""
import numpy as np
import pytest

from cnn_core.gradient_flow import gradient_flow
from cnn_core.losses import cross_entropy
from cnn_core.model_record import ModelRecord
from cnn_core.network import Network


@pytest.fixture(scope="module")
def network():
    return Network(seed=7)


@pytest.fixture(scope="module")
def image():
    digit = np.random.default_rng(5).random((28, 28)).astype(np.float32)
    digit[:6] = 0           # a blank band: max-pool windows that tie, as on MNIST
    return digit


def previous(flow, name):
    """The layer before ``name``: its output is ``name``'s input."""
    names = [layer.name for layer in flow.layers]
    return flow.layers[names.index(name) - 1]


def test_dlogits_is_softmax_minus_one_hot(network, image):
    flow = gradient_flow(network, image, 4)
    logits = network.forward(image[None, None]).logits[0].astype(np.float64)
    softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    one_hot = np.eye(10)[4]
    np.testing.assert_allclose(flow.dlogits, softmax - one_hot, atol=1e-6)
    np.testing.assert_allclose(flow.probabilities, softmax, atol=1e-6)
    assert flow.loss == pytest.approx(-np.log(softmax[4]), rel=1e-5)
    assert flow.label == 4
    assert flow.layer("fc2").output_grad.tolist() == flow.dlogits.tolist()


def test_every_output_grad_equals_the_engines_backward_pass(network, image):
    flow = gradient_flow(network, image, 2)
    forward_pass = network.forward(image[None, None], record=True)
    _, dlogits = cross_entropy(forward_pass.logits, np.array([2]))
    grads = network.backward(forward_pass, dlogits, record=True, param_grads=False).output_grads
    assert [layer.name for layer in flow.layers] == [layer.name for layer in network.layers]
    for layer in flow.layers:
        engine = grads[layer.name]
        engine = engine[:, 0] if engine.ndim == 4 else engine[0]
        assert np.array_equal(layer.output_grad, engine), layer.name
        output = forward_pass.outputs[layer.name]
        assert np.array_equal(layer.output, output[:, 0] if output.ndim == 4 else output[0])


def test_relu_passes_no_gradient_where_its_input_is_not_positive(network, image):
    flow = gradient_flow(network, image, 9)
    relus = [layer for layer in flow.layers if layer.kind == "relu"]
    assert len(relus) == 5
    for relu in relus:
        below = previous(flow, relu.name)           # the ReLU's input and its gradient
        off = below.output <= 0
        assert off.any() and (~off).any(), relu.name
        assert np.array_equal(relu.routing, ~off), relu.name
        assert np.all(below.output_grad[off] == 0), relu.name
        assert np.array_equal(below.output_grad[~off], relu.output_grad[~off]), relu.name


def first_max_winners(maps):
    """Winners of every 2×2 window of ``maps (C, H, W)``: the first maximum in row-major
    order (PyTorch's choice on ties), worked out window by window."""
    winners = np.zeros(maps.shape, bool)
    channels, height, width = maps.shape
    for c in range(channels):
        for i in range(0, height, 2):
            for j in range(0, width, 2):
                window = maps[c, i:i + 2, j:j + 2].ravel()
                di, dj = divmod(int(np.argmax(window)), 2)
                winners[c, i + di, j + dj] = True
    return winners


def test_max_pool_sends_gradient_only_to_the_winners(network, image):
    flow = gradient_flow(network, image, 0)
    for name in ("pool1", "pool2"):
        pool, below = flow.layer(name), previous(flow, name)
        winners = first_max_winners(below.output)
        assert np.array_equal(pool.routing, winners), name
        assert np.all(below.output_grad[~winners] == 0), name
        # Each window's gradient lands whole on its winner.
        upsampled = pool.output_grad.repeat(2, axis=1).repeat(2, axis=2)
        assert np.array_equal(below.output_grad[winners], upsampled[winners]), name


def test_norms_are_the_l2_norms_of_the_gradients(network, image):
    flow = gradient_flow(network, image, 1)
    for layer in flow.layers:
        expected = np.sqrt(np.sum(layer.output_grad.astype(np.float64) ** 2))
        assert layer.norm == pytest.approx(expected, rel=1e-12), layer.name
        assert layer.norm > 0, layer.name


def test_a_model_record_gives_the_same_flow_as_its_network(network, image):
    record = ModelRecord.of(network.architecture, network.state_dict(), "test")
    ours, theirs = gradient_flow(network, image, 3), gradient_flow(record, image, 3)
    assert ours.loss == theirs.loss
    for a, b in zip(ours.layers, theirs.layers):
        assert np.array_equal(a.output_grad, b.output_grad), a.name


@pytest.mark.parametrize("label, shape, words", [(10, (28, 28), "from 0 to 9"),
                                                 (-1, (28, 28), "from 0 to 9"),
                                                 (3, (14, 14), "28 × 28")])
def test_bad_input_is_named_in_one_line(network, label, shape, words):
    with pytest.raises(ValueError, match=words):
        gradient_flow(network, np.zeros(shape, np.float32), label)


def test_gradients_match_pytorch_autograd(network, image):
    torch = pytest.importorskip("torch")
    from tests.core.test_torch_crosscheck import TorchTwin
    ours = network.copy(np.float64)
    theirs = TorchTwin().double()
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    flow = gradient_flow(ours, image.astype(np.float64), 6)

    relu, pool = torch.relu, torch.nn.functional.max_pool2d
    steps = [("conv1", theirs.conv1), ("relu1", relu), ("conv2", theirs.conv2), ("relu2", relu),
             ("pool1", lambda x: pool(x, 2)), ("conv3", theirs.conv3), ("relu3", relu),
             ("conv4", theirs.conv4), ("relu4", relu), ("pool2", lambda x: pool(x, 2)),
             ("flatten", lambda x: x.flatten(1)), ("fc1", theirs.fc1), ("relu5", relu),
             ("fc2", theirs.fc2)]
    x, tensors = torch.from_numpy(image.astype(np.float64)[None, None]), {}
    for name, function in steps:
        x = tensors[name] = function(x)
        x.retain_grad()
    loss = torch.nn.functional.cross_entropy(x, torch.tensor([6]))
    loss.backward()
    assert flow.loss == pytest.approx(loss.item(), rel=1e-12)
    for name, tensor in tensors.items():
        np.testing.assert_allclose(flow.layer(name).output_grad, tensor.grad.numpy()[0],
                                   rtol=1e-9, atol=1e-15, err_msg=name)
