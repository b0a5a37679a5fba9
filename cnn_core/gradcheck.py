"""Check back-propagation against central differences, in float64.

Each layer is checked on its own with small random shapes (every input and
parameter entry is perturbed), then the whole network on two images (a random
subset of each parameter's entries, since there are 427,210 of them).  The error
reported is ``|analytic - numeric| / (|analytic| + |numeric|)`` over the checked
entries, which is about 1e-10 for a correct float64 backward pass.
"""
from dataclasses import dataclass

import numpy as np

from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from .losses import cross_entropy
from .network import Network

EPSILON = 1e-6
TOLERANCE = 1e-6


@dataclass(frozen=True)
class GradCheckResult:
    """The worst relative error of one checked quantity (a layer's input or parameter)."""

    name: str
    what: str
    error: float

    @property
    def ok(self):
        return self.error < TOLERANCE


def relative_error(analytic, numeric):
    """``‖a − n‖ / (‖a‖ + ‖n‖)``, 0 when both are 0."""
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denominator == 0 else float(np.linalg.norm(analytic - numeric) / denominator)


def numeric_gradient(f, array, indices=None):
    """Central-difference gradient of scalar ``f()`` with respect to ``array`` (changed in place).

    ``indices`` limits the check to some flat positions; the rest stay 0.
    """
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        saved = flat[i]
        flat[i] = saved + EPSILON
        up = f()
        flat[i] = saved - EPSILON
        down = f()
        flat[i] = saved
        flat_grad[i] = (up - down) / (2 * EPSILON)
    return grad


def check_layer(layer, x, rng):
    """Check one layer's input and parameter gradients on input ``x`` (float64).

    The scalar checked is ``sum(forward(x) * g)`` for a fixed random ``g``.
    """
    params = {key: rng.standard_normal(value.shape) for key, value in layer.params.items()}
    upstream = rng.standard_normal(layer.forward(x, params)[0].shape)

    def scalar():
        return float(np.sum(layer.forward(x, params)[0] * upstream))

    out, cache = layer.forward(x, params)
    grad_x, analytic = layer.backward(upstream, cache, params,
                                      {key: np.zeros_like(v) for key, v in params.items()})
    grad_x, analytic = np.array(grad_x), {key: value.copy() for key, value in analytic.items()}
    results = [GradCheckResult(layer.name, "input", relative_error(grad_x, numeric_gradient(scalar, x)))]
    for key, value in params.items():
        numeric = numeric_gradient(scalar, value)
        results.append(GradCheckResult(layer.name, key, relative_error(analytic[key], numeric)))
    return results


def check_layers(seed=0):
    """Check every layer type on small random inputs; returns a list of results."""
    rng = np.random.default_rng(seed)
    maps = lambda c: rng.standard_normal((c, 6, 6, 2))   # as the layers see them: (C, H, W, N)
    cases = [
        (Conv2D("conv (1→3)", 1, 3), maps(1)),
        (Conv2D("conv (2→3)", 2, 3), maps(2)),
        (ReLU("relu"), maps(3)),
        (MaxPool2D("maxpool"), maps(3)),
        (Flatten("flatten"), maps(3)),
        (Dense("dense", 5, 4), rng.standard_normal((3, 5))),
    ]
    results = []
    for layer, x in cases:
        results.extend(check_layer(layer, x, rng))
    return results


def check_network(network=None, samples_per_param=12, seed=0):
    """Check the whole network's loss gradient for every parameter tensor and the input.

    Runs on a float64 copy with two random images; ``samples_per_param``
    random entries of each tensor are perturbed.
    """
    rng = np.random.default_rng(seed)
    net = (network or Network(seed=seed)).copy(np.float64)
    for _, value in net.named_params():
        # Non-zero biases so no ReLU sits exactly at its kink on the blank border.
        value += 0.01 * rng.standard_normal(value.shape)
    images = rng.random((2, 1, 28, 28))
    labels = np.array([3, 7])

    def loss():
        return cross_entropy(net.forward(images).logits, labels)[0]

    forward_pass = net.forward(images)
    _, grad_logits = cross_entropy(forward_pass.logits, labels)
    backward_pass = net.backward(forward_pass, grad_logits, need_input_grad=True)
    grad_images, analytic = backward_pass.input_grad, backward_pass.param_grads
    results = []
    for name, value in net.named_params():
        picks = rng.choice(value.size, size=min(samples_per_param, value.size), replace=False)
        numeric = numeric_gradient(loss, value, picks)
        results.append(GradCheckResult("network", name,
                                       relative_error(analytic[name].reshape(-1)[picks],
                                                      numeric.reshape(-1)[picks])))
    picks = rng.choice(images.size, size=samples_per_param * 4, replace=False)
    numeric = numeric_gradient(loss, images, picks)
    results.append(GradCheckResult("network", "input", relative_error(
        grad_images.reshape(-1)[picks], numeric.reshape(-1)[picks])))
    return results


def format_table(results):
    """A plain-text table: layer, quantity, relative error, verdict."""
    lines = [f"{'layer':<14}{'gradient of':<16}{'rel. error':>12}  result"]
    for r in results:
        lines.append(f"{r.name:<14}{r.what:<16}{r.error:>12.2e}  {'ok' if r.ok else 'FAIL'}")
    return "\n".join(lines)
