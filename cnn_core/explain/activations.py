"""What every layer sees: activations per image, and the kernels as mosaics."""
import numpy as np

from ..kernels import kernel_mosaic
from .passes import as_batch


def batch_activations(network, images):
    """Every layer's output for a batch, image-major.

    Parameters
    ----------
    network : Network
    images : array_like, (N, 1, 28, 28), (N, 28, 28) or (28, 28)

    Returns
    -------
    outputs : dict of str -> ndarray
        Layer name -> ``(N, C, H, W)`` for conv, ReLU and pool layers, or
        ``(N, F)`` for dense ones.
    logits : ndarray, (N, 10)
    """
    forward_pass = network.forward(as_batch(images, network.dtype), record=True)
    return image_major(forward_pass.outputs), forward_pass.logits


def activations(network, image):
    """Every layer's output for one image ``(28, 28)``.

    Returns
    -------
    outputs : dict of str -> ndarray
        ``(C, H, W)`` for conv, ReLU and pool layers, ``(F,)`` for dense ones.
    logits : ndarray, (10,)
    """
    outputs, logits = batch_activations(network, image)
    return {name: value[0] for name, value in outputs.items()}, logits[0]


def image_major(recorded):
    """Copy recorded channel-major outputs into image-major arrays.

    ``(C, N, H, W)`` becomes ``(N, C, H, W)``; rows ``(N, F)`` are copied as
    they are, so every result is a contiguous array of its own.
    """
    # np.array copies even when the transpose is already contiguous (one image).
    return {name: np.array(value.transpose(1, 0, 2, 3) if value.ndim == 4 else value)
            for name, value in recorded.items()}


def kernel_mosaics(network):
    """One tiled picture per conv layer of its 3×3 kernels.

    Returns
    -------
    mosaics : dict of str -> (ndarray, float)
        Layer name -> ``(mosaic, limit)`` from :func:`cnn_core.kernels.kernel_mosaic`:
        show each with levels ``(-limit, limit)`` on a diverging colour map
        so zero is neutral and sign and magnitude read correctly.
    """
    return {name: kernel_mosaic(network.layer(name).params["weight"])
            for name in network.conv_layer_names()}
