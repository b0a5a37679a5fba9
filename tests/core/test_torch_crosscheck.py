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
    logits = ours.forward(images)
    loss, grad = cross_entropy(logits, labels)
    grad_input = ours.backward(grad, need_input_grad=True)

    x = torch.from_numpy(images).requires_grad_(True)
    t_logits = theirs(x)
    t_loss = nn.functional.cross_entropy(t_logits, torch.from_numpy(labels))
    t_loss.backward()
    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(grad_input, x.grad.numpy(), rtol=1e-8, atol=1e-14)
    for name, g in ours.named_grads():
        np.testing.assert_allclose(g, dict(theirs.named_parameters())[name].grad.numpy(),
                                   rtol=1e-8, atol=1e-14, err_msg=name)


def test_sgd_step_matches_pytorch(pair):
    ours, theirs = pair
    rng = np.random.default_rng(1)
    optimizer = SGD(ours, lr=0.05, momentum=0.9, weight_decay=5e-4)
    t_optimizer = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    for _ in range(3):
        images, labels = rng.random((4, 1, 28, 28)), rng.integers(0, 10, 4)
        _, grad = cross_entropy(ours.forward(images), labels)
        ours.backward(grad)
        optimizer.step()
        t_optimizer.zero_grad()
        nn.functional.cross_entropy(theirs(torch.from_numpy(images)), torch.from_numpy(labels)).backward()
        t_optimizer.step()
    for name, value in ours.named_params():
        np.testing.assert_allclose(value, dict(theirs.named_parameters())[name].detach().numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=name)
