"""The backward pass of one image, as a value: the loss's gradient at every layer's output.

:func:`gradient_flow` runs a recorded forward pass and a recorded backward pass
of the cross-entropy loss for one image and a label of the caller's choice
("what if this were a 4?"), and keeps, per layer in forward order, the
layer's output, the gradient of the loss with respect to that output, its L2
norm, and for ReLU and max-pool layers which units let gradient through.

A recorded pass runs every layer on its own (never the fused
:class:`~cnn_core.plan.ReluPool`), so the gradient at each ReLU's output is
the engine's own, not a reconstruction.
"""
from dataclasses import dataclass

import numpy as np

from .layers import MaxPool2D, ReLU, public_maps
from .losses import cross_entropy, softmax
from .network import NUM_CLASSES, Network


@dataclass(frozen=True)
class LayerGradient:
    """One layer of the backward pass of one image.

    Attributes
    ----------
    name, kind : str
        The layer's name and type (``"conv"``, ``"relu"``, ``"maxpool"``,
        ``"flatten"``, ``"dense"``).
    output : ndarray
        The layer's forward output, ``(C, H, W)`` for maps or ``(F,)`` for units.
    output_grad : ndarray
        dL/d output, the same shape as ``output``.
    norm : float
        The L2 norm of ``output_grad``.
    routing : ndarray of bool or None
        Which units pass gradient down.  ReLU: ``input > 0``, the shape of
        the output; max-pool: the winner of each 2×2 window (the first maximum
        in row-major order, as the engine routes), the shape of the input
        ``(C, 2H, 2W)``; None for other layers.
    """

    name: str
    kind: str
    output: np.ndarray
    output_grad: np.ndarray
    norm: float
    routing: object


@dataclass(frozen=True)
class GradientFlow:
    """The backward pass of one image for one label.

    Attributes
    ----------
    label : int
        The class the loss is taken for.
    probabilities : ndarray, (10,)
        The softmax of the logits.
    loss : float
        ``-log p(label)``.
    dlogits : ndarray, (10,)
        dL/dlogits = softmax − one-hot(label).
    layers : tuple of LayerGradient
        Every layer, in forward order.
    """

    label: int
    probabilities: np.ndarray
    loss: float
    dlogits: np.ndarray
    layers: tuple

    def layer(self, name):
        """The :class:`LayerGradient` of layer ``name`` (``KeyError`` if there is none)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)


def _one(array):
    """One image's slice of a public array: maps ``(C, 1, H, W)`` -> ``(C, H, W)``,
    rows ``(1, F)`` -> ``(F,)``; read-only, so the record cannot change."""
    single = np.array(array[:, 0] if array.ndim == 4 else array[0])
    single.setflags(write=False)
    return single


def _winners(pool, cache):
    """The max-pool's winners ``(C, 2H, 2W)``: where the layer's own backward pass sends
    a gradient of ones (exactly one input per window)."""
    x, pairs = cache                        # (C, 2H, 2W, 1) and (C, 2H, W, 1)
    ones = np.ones(pairs[:, 0::2].shape, x.dtype)
    return _one(public_maps(pool.backward(ones, cache)[0])) != 0


def gradient_flow(model, image, label):
    """The backward pass of the cross-entropy loss of one image for ``label``.

    Parameters
    ----------
    model : Network or ModelRecord
        The network (used as is) or a model record (a private network is built).
    image : ndarray, (28, 28)
        Pixel values in [0, 1].
    label : int
        The class to take the loss for, 0-9.

    Returns
    -------
    GradientFlow
    """
    label = int(label)
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"the label must be a class from 0 to {NUM_CLASSES - 1}, not {label}")
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise ValueError(f"the image must be 28 × 28, not {' × '.join(map(str, image.shape))}")
    network = model if isinstance(model, Network) else model.network()
    forward_pass = network.forward(image[None, None], record=True)
    loss, dlogits = cross_entropy(forward_pass.logits, np.array([label]))
    backward_pass = network.backward(forward_pass, dlogits, record=True, param_grads=False)
    layers = []
    for step, cache in zip(forward_pass.steps, forward_pass.caches):
        layer, name = step.layer, step.name
        grad = _one(backward_pass.output_grads[name])
        routing = None
        if isinstance(layer, ReLU):
            routing = _one(public_maps(cache)) if cache.ndim == 4 else _one(cache)
        elif isinstance(layer, MaxPool2D):
            routing = _winners(layer, cache)
        layers.append(LayerGradient(name, layer.kind, _one(forward_pass.outputs[name]), grad,
                                    float(np.linalg.norm(grad.astype(np.float64))), routing))
    return GradientFlow(label, _one(softmax(forward_pass.logits)), float(loss), _one(dlogits), tuple(layers))
