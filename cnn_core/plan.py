"""The steps a network runs, chosen once when it is built.

A step is one layer, or a ReLU fused with the max-pool after it
(:class:`ReluPool`).  Every step has the same three methods:

- ``forward(x, workspace) -> (out, cache)``;
- ``backward(grad, cache, grads, need_input_grad, accumulate, deferred) -> grad_x``,
  where ``grads`` maps ``state_dict`` names to gradient buffers (or is
  ``None``) and ``deferred`` collects the dense layers' rows (or is ``None``;
  see :func:`cnn_core.layers.dense_weight_gradient`);
- ``fired(cache) -> {relu name: bool units}``, the ReLU units that were
  positive for at least one image.

``name`` is the layer whose output the step produces, ``index`` that
layer's position in the network.
"""
import numpy as np

from .layers import Dense, MaxPool2D, ReLU


class LayerStep:
    """One layer run on its own."""

    def __init__(self, layer, index):
        self.layer, self.index, self.name = layer, index, layer.name
        self._grad_names = [(key, f"{layer.name}.{key}") for key in layer.params]

    def forward(self, x, workspace=None):
        return self.layer.forward(x, self.layer.params, workspace)

    def backward(self, grad, cache, grads=None, need_input_grad=True, accumulate=False,
                 deferred=None):
        own = None if grads is None else {key: grads[name] for key, name in self._grad_names}
        options = {}
        if deferred is not None and isinstance(self.layer, Dense):
            options["deferred"] = deferred.setdefault(self.name, [])
        return self.layer.backward(grad, cache, self.layer.params, own, need_input_grad,
                                   accumulate, **options)[0]

    def fired(self, cache):
        return {self.name: ReLU.fired(cache)} if isinstance(self.layer, ReLU) else {}


class ReluPool:
    """A ReLU followed by a max-pool, run as one step with the ReLU applied after pooling.

    The maximum commutes with max(·, 0), so pooling first gives the same
    values and rectifies four times fewer.  The gradients are the same too:
    a window whose maximum is positive routes to the same first maximum
    either way, and one whose maximum is not has no gradient either way.
    Passes that keep no feature maps (training) take this step; passes that
    keep the ReLU's full-size maps (for the pictures) run the two layers.
    Cache: the pool's, and the mask ``pooled > 0``.
    """

    def __init__(self, relu, pool, index):
        self.relu, self.pool, self.index, self.name = relu, pool, index, pool.name

    def forward(self, x, workspace=None):
        pooled, pool_cache = self.pool.forward(x)
        rectified = pooled > 0
        return np.maximum(pooled, 0, out=pooled), (pool_cache, rectified)

    def backward(self, grad, cache, grads=None, need_input_grad=True, accumulate=False,
                 deferred=None):
        pool_cache, rectified = cache
        return self.pool.backward(grad * rectified, pool_cache)[0]  # the ReLU's, then the pool's

    def fired(self, cache):
        (x, _), _ = cache                   # the pool's input is the ReLU's
        return {self.relu.name: (x > 0).any(axis=3)}


def layer_steps(layers):
    """Every layer a step of its own: passes that record each layer's output."""
    return tuple(LayerStep(layer, index) for index, layer in enumerate(layers))


def fused_steps(layers):
    """As :func:`layer_steps`, but a ReLU followed by a max-pool is one :class:`ReluPool`."""
    steps, index = [], 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        if isinstance(layer, ReLU) and isinstance(following, MaxPool2D):
            steps.append(ReluPool(layer, following, index + 1))
            index += 2
        else:
            steps.append(LayerStep(layer, index))
            index += 1
    return tuple(steps)
