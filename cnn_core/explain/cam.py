"""Class activation maps: one base class, and each method says only how it weighs channels.

The base class runs the network once forward and once backward, recording
every layer, so the maps of all conv layers come from a single pass.  A
subclass implements :meth:`CAM.weights`, turning the feature maps ``A`` and
the gradients ``dS/dA`` of the explained score ``S`` into weights that
broadcast against ``A``; the map is ``relu(sum_c weights * A)``.  This is the
structure of pytorch-grad-cam.

References: Selvaraju et al. 2017 (Grad-CAM), Chattopadhay et al. 2018
(Grad-CAM++), Draelos & Carin 2020 (HiResCAM), Jiang et al. 2021 (LayerCAM).
"""
from dataclasses import dataclass

import numpy as np

from .backprop import backward
from .passes import (as_batch, feature_layer, last_conv_layer, layer_index, normalise,
                     resolve_targets, score_seed, upsample)


@dataclass(frozen=True)
class RecordedPass:
    """One forward and backward pass with every layer's output and gradient.

    ``outputs`` and ``gradients`` map layer names to channel-major records
    ``(C, N, H, W)`` or rows ``(N, F)`` (views of the pass's own arrays).
    """

    logits: np.ndarray       # (N, 10), a copy
    targets: np.ndarray      # (N,)
    contrasts: np.ndarray    # (N,) or None
    outputs: dict
    gradients: dict


def record_pass(network, images, target=None, contrast=None, until=None):
    """Forward and backward ``images`` once, recording every layer.

    Parameters
    ----------
    network : Network
    images : array_like, (N, 1, 28, 28) or (28, 28)
    target, contrast : int, sequence or None
        See :func:`~cnn_core.explain.passes.resolve_targets`.
    until : int or None
        Index of the lowest layer whose output gradient is needed; the
        backward pass stops there (default: it goes down to the input).
    """
    batch = as_batch(images, network.dtype)
    forward_pass = network.forward(batch, record=True)
    targets, contrasts = resolve_targets(forward_pass.logits, target, contrast)
    _, gradients = backward(network, forward_pass, score_seed(targets, contrasts, network.dtype),
                            need_input_grad=False, record=True, until=until)
    return RecordedPass(forward_pass.logits, targets, contrasts, forward_pass.outputs, gradients)


@dataclass(frozen=True)
class CamMaps:
    """Maps of one layer for a batch.

    ``raw`` is at the layer's resolution, unscaled (the method's own units);
    ``heatmap`` is upsampled to 28×28 and scaled to [0, 1] per image.
    """

    layer: str               # the layer the caller named
    raw: np.ndarray          # (N, h, w) float32, >= 0
    heatmap: np.ndarray      # (N, 28, 28) float32 in [0, 1]


class CAM:
    """Base class of the class activation map methods.

    Call an instance as ``cam(network, images, layer, target, contrast)``, or
    use :meth:`from_pass` to get several layers from one recorded pass.
    """

    name = "cam"

    def weights(self, activations, gradients):
        """Weights for the feature maps.

        Parameters
        ----------
        activations, gradients : ndarray, (N, C, h, w)
            Feature maps ``A`` and ``dS/dA``.

        Returns
        -------
        ndarray broadcastable to ``(N, C, h, w)``
        """
        raise NotImplementedError

    def from_pass(self, network, recorded, layers=None):
        """Maps at several layers from one :func:`record_pass`.

        Parameters
        ----------
        layers : list of str or None
            Layer names (conv, ReLU or pool); ``None`` means every conv layer.

        Returns
        -------
        dict of str -> CamMaps
        """
        layers = network.conv_layer_names() if layers is None else layers
        return {name: self._maps(network, recorded, name) for name in layers}

    def __call__(self, network, images, layer=None, target=None, contrast=None):
        """Maps at one layer (default: the last conv layer); returns ``(CamMaps, RecordedPass)``."""
        layer = last_conv_layer(network) if layer is None else layer
        source = feature_layer(network, layer)  # rejects a bad layer before the pass
        recorded = record_pass(network, images, target, contrast,
                               until=layer_index(network, source))
        return self._maps(network, recorded, layer, source), recorded

    def _maps(self, network, recorded, layer, source=None):
        source = source or feature_layer(network, layer)
        # Channel-major records seen image-major, without copying.
        activations = recorded.outputs[source].transpose(1, 0, 2, 3)
        gradients = recorded.gradients[source].transpose(1, 0, 2, 3)
        weighted = self.weights(activations, gradients) * activations
        raw = np.maximum(weighted.sum(axis=1), 0).astype(np.float32)
        return CamMaps(layer, raw, normalise(upsample(raw)))


class GradCAM(CAM):
    """Grad-CAM: each channel weighted by its spatially averaged gradient."""

    name = "gradcam"

    def weights(self, activations, gradients):
        # The mean as sum / count, which is what np.mean computes, minus its overhead.
        return gradients.sum(axis=(2, 3), keepdims=True) / (gradients.shape[2] * gradients.shape[3])


class GradCAMPlusPlus(CAM):
    """Grad-CAM++: positive gradients weighted by the closed-form alpha of the paper.

    The alphas assume an exponential of the score, as in the paper and
    pytorch-grad-cam, which makes higher derivatives powers of the gradient.
    """

    name = "gradcam++"

    def weights(self, activations, gradients):
        g2 = gradients * gradients
        total = activations.sum(axis=(2, 3), keepdims=True)
        denominator = 2 * g2 + total * g2 * gradients
        # No epsilon in the denominator: one shrank alpha wherever g**2 is small
        # (0.05 % off the paper's weights on the shipped model, 0.14 % in
        # test_explain_reference).  alpha multiplies relu(g), so it is needed only
        # where g > 0; where g**2 underflows the denominator is 0, and so is the term.
        alpha = np.divide(g2, denominator, out=np.zeros_like(g2),
                          where=(gradients > 0) & (denominator != 0))
        return (alpha * np.maximum(gradients, 0)).sum(axis=(2, 3), keepdims=True)


class HiResCAM(CAM):
    """HiResCAM: the gradient itself, element by element (faithful to the score)."""

    name = "hirescam"

    def weights(self, activations, gradients):
        return gradients


class LayerCAM(CAM):
    """LayerCAM: the positive part of the gradient, element by element."""

    name = "layercam"

    def weights(self, activations, gradients):
        return np.maximum(gradients, 0)


CAM_METHODS = {cls.name: cls() for cls in (GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM)}
