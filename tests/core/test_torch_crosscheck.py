"""The same weights in the equivalent ``torch.nn`` network give the same logits and gradients.

Skipped where PyTorch is not installed; it is never a run-time dependency.
"""
import numpy as np
import pytest

from cnn_core.losses import cross_entropy
from cnn_core.network import Network
from cnn_core.optimizers import SGD

torch = pytest.importorskip("torch")
nn = torch.nn


class TorchTwin(nn.Module):
    """The seed's network, with attribute names matching the model file's keys."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1)
        self.conv3, self.conv4 = nn.Conv2d(16, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(3136, 128), nn.Linear(128, 10)

    def forward(self, x):
        relu, pool = torch.relu, nn.functional.max_pool2d
        x = pool(relu(self.conv2(relu(self.conv1(x)))), 2)
        x = pool(relu(self.conv4(relu(self.conv3(x)))), 2)
        return self.fc2(relu(self.fc1(x.flatten(1))))


@pytest.fixture
def pair():
    ours = Network(seed=4).copy(np.float64)
    theirs = TorchTwin().double()
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def test_logits_and_all_gradients_match_pytorch(pair):
    ours, theirs = pair
    rng = np.random.default_rng(0)
    images, labels = rng.random((6, 1, 28, 28)), np.array([0, 1, 2, 3, 4, 5])
    images[:, :, :4] = 0      # a blank band, so max-pool ties are exercised as on MNIST
    forward_pass = ours.forward(images)
    logits = forward_pass.logits
    loss, grad = cross_entropy(logits, labels)
    backward_pass = ours.backward(forward_pass, grad, need_input_grad=True)
    grad_input = backward_pass.input_grad

    x = torch.from_numpy(images).requires_grad_(True)
    t_logits = theirs(x)
    t_loss = nn.functional.cross_entropy(t_logits, torch.from_numpy(labels))
    t_loss.backward()
    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(grad_input, x.grad.numpy(), rtol=1e-8, atol=1e-14)
    assert backward_pass.param_grads.keys() == dict(theirs.named_parameters()).keys()
    for name, g in backward_pass.param_grads.items():
        np.testing.assert_allclose(g, dict(theirs.named_parameters())[name].grad.numpy(),
                                   rtol=1e-8, atol=1e-14, err_msg=name)


def test_recorded_outputs_and_output_gradients_match_pytorch(pair):
    """Every layer's output and output gradient in a recorded pass, against PyTorch's
    intermediate tensors and their ``.grad`` (channel-major ``(C, N, H, W)`` for maps)."""
    ours, theirs = pair
    images = np.random.default_rng(3).random((3, 1, 28, 28))
    forward_pass = ours.forward(images, record=True)
    seed = np.random.default_rng(4).standard_normal((3, 10))
    recorded = ours.backward(forward_pass, seed, record=True, param_grads=False).output_grads

    relu, pool = torch.relu, nn.functional.max_pool2d
    steps = [("conv1", theirs.conv1), ("relu1", relu), ("conv2", theirs.conv2), ("relu2", relu),
             ("pool1", lambda x: pool(x, 2)), ("conv3", theirs.conv3), ("relu3", relu),
             ("conv4", theirs.conv4), ("relu4", relu), ("pool2", lambda x: pool(x, 2)),
             ("flatten", lambda x: x.flatten(1)), ("fc1", theirs.fc1), ("relu5", relu),
             ("fc2", theirs.fc2)]
    x, tensors = torch.from_numpy(images), {}
    for name, function in steps:
        x = tensors[name] = function(x)
        x.retain_grad()
    x.backward(torch.from_numpy(seed))
    assert list(forward_pass.outputs) == list(recorded)[::-1] == [name for name, _ in steps]
    for name, tensor in tensors.items():
        def ours_layout(t):
            return t.numpy().transpose(1, 0, 2, 3) if t.ndim == 4 else t.numpy()
        np.testing.assert_allclose(forward_pass.outputs[name], ours_layout(tensor.detach()),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(recorded[name], ours_layout(tensor.grad),
                                   rtol=1e-8, atol=1e-14, err_msg=name)


def test_sgd_step_matches_pytorch(pair):
    ours, theirs = pair
    rng = np.random.default_rng(1)
    optimizer = SGD(ours, lr=0.05, momentum=0.9, weight_decay=5e-4)
    t_optimizer = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    for _ in range(3):
        images, labels = rng.random((4, 1, 28, 28)), rng.integers(0, 10, 4)
        forward_pass = ours.forward(images)
        _, grad = cross_entropy(forward_pass.logits, labels)
        optimizer.step(ours.backward(forward_pass, grad).param_grads)
        t_optimizer.zero_grad()
        nn.functional.cross_entropy(theirs(torch.from_numpy(images)), torch.from_numpy(labels)).backward()
        t_optimizer.step()
    for name, value in ours.named_params():
        np.testing.assert_allclose(value, dict(theirs.named_parameters())[name].detach().numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=name)
