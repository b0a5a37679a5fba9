"""What a conv channel looks for: the input that excites it most, and the
validation patches that do.

Feature visualisation follows Olah et al. 2017 ("Feature Visualization",
Distill) in miniature: gradient ascent on the input with jitter, blur and an
L2 penalty, from a seeded random start, so the same call gives the same
picture.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..layers import Conv2D, MaxPool2D
from ..network import CHUNK
from .backprop import backward
from .passes import SIDE, as_batch, check_map_layer, forward_to, layer_index

_BLUR = np.array([0.25, 0.5, 0.25], np.float32)


def _check_channel(network, layer, channel):
    index = check_map_layer(network, layer)
    channels = _channels(network, index)
    if not 0 <= channel < channels:
        raise ConfigError(f"{layer} has channels 0 to {channels - 1}, not {channel}")
    return index


def _channels(network, index):
    for layer in network.layers[index::-1]:
        if isinstance(layer, Conv2D):
            return layer.out_channels
    return 1


def feature_visualisation(network, layer, channel, steps=96, step_size=0.05, l2=0.02,
                          jitter=2, blur_every=4, seed=0):
    """The 28×28 input that maximises the mean of one channel at ``layer``.

    Parameters
    ----------
    network : Network
        A frozen copy (training must not change it mid-way).
    layer : str
        A conv (or ReLU / pool) layer; for a conv layer the objective is its
        pre-ReLU output, whose gradient never dies.
    channel : int
    steps, step_size : int, float
        Gradient-ascent steps; each moves the pixels by ``step_size`` times
        the gradient scaled to unit mean magnitude.
    l2 : float
        Fraction of each pixel taken away per step: a pull towards black
        that keeps the image sparse, like ink.
    jitter : int
        Each step rolls the image by up to this many pixels, so the result
        does not depend on one exact alignment.
    blur_every : int
        Blur the image every this many steps (0: never), damping the
        high-frequency patterns that gradient ascent favours.
    seed : int
        Seed of the random start and the jitter.

    Returns
    -------
    image : ndarray, float32, (28, 28) in [0, 1]
    """
    index = _check_channel(network, layer, channel)
    rng = np.random.default_rng(seed)
    image = (0.1 * rng.random((SIDE, SIDE))).astype(network.dtype)
    for step in range(steps):
        dy, dx = rng.integers(-jitter, jitter + 1, size=2)
        shifted = np.roll(image, (dy, dx), axis=(0, 1))
        forward_pass = forward_to(network, shifted[None, None], index)
        out = forward_pass.output
        seed_grad = np.zeros_like(out)
        seed_grad[channel] = 1.0 / out[channel].size
        grad = np.roll(backward(network, forward_pass, seed_grad)[0][0, 0], (-dy, -dx), axis=(0, 1))
        grad /= np.abs(grad).mean() + 1e-8
        image += step_size * grad - l2 * image
        if blur_every and (step + 1) % blur_every == 0:
            image = _blur(image)
        np.clip(image, 0.0, 1.0, out=image)
    return image.astype(np.float32)


def _blur(image):
    """Separable [1, 2, 1] / 4 blur with edge replication, ``(H, W)``."""
    padded = np.pad(image, 1, mode="edge")
    rows = _BLUR[0] * padded[:-2] + _BLUR[1] * padded[1:-1] + _BLUR[2] * padded[2:]
    return _BLUR[0] * rows[:, :-2] + _BLUR[1] * rows[:, 1:-1] + _BLUR[2] * rows[:, 2:]


def receptive_field(network, layer):
    """Geometry of a unit's receptive field at ``layer`` in input pixels.

    Returns
    -------
    size : int
        Side of the square of input pixels one unit sees.
    jump : int
        Input pixels between neighbouring units.
    first : float
        Input coordinate of the centre of unit 0.
    """
    size, jump, first = 1, 1, 0.0
    for layer_obj in network.layers[:layer_index(network, layer) + 1]:
        if isinstance(layer_obj, Conv2D):       # 3×3, stride 1, padding 1
            size += 2 * jump
        elif isinstance(layer_obj, MaxPool2D):  # 2×2, stride 2
            size += jump
            first += 0.5 * jump
            jump *= 2
    return size, jump, first


@dataclass(frozen=True)
class TopPatches:
    """The image patches that excite one channel most, strongest first."""

    patches: np.ndarray      # (k, size, size) float32, zero outside the image
    indices: np.ndarray      # (k,) index into the images searched
    positions: np.ndarray    # (k, 2) unit (row, column) at the layer
    values: np.ndarray       # (k,) the channel's activation there
    corners: np.ndarray      # (k, 2) input (row, column) of each patch's top-left


def top_patches(network, images, layer, channel, k=9, chunk=CHUNK):
    """The ``k`` receptive-field crops, one per image, that excite a channel most.

    Parameters
    ----------
    network : Network
        A frozen copy.
    images : array_like, (N, 1, 28, 28)
        Usually the validation split (``Split.as_float()``).
    layer : str
        A conv, ReLU or pool layer; activations are read from its output.
    channel : int
    k : int
        How many patches (fewer if there are fewer images).

    Returns
    -------
    TopPatches
    """
    index = _check_channel(network, layer, channel)
    batch = as_batch(images, network.dtype)
    best_value, best_flat = [], []
    with network.workspaces.lease() as workspace:
        for start in range(0, len(batch), chunk):
            maps = forward_to(network, batch[start:start + chunk], index, workspace).output[channel]
            flat = maps.reshape(len(maps), -1)
            best_flat.append(flat.argmax(axis=1))
            best_value.append(flat.max(axis=1))
    values, flat_pos = np.concatenate(best_value), np.concatenate(best_flat)
    width = maps.shape[-1]
    chosen = np.argsort(-values, kind="stable")[:k]
    positions = np.stack(np.divmod(flat_pos[chosen], width), axis=1)
    size, jump, first = receptive_field(network, layer)
    corners = np.rint(first + positions * jump - (size - 1) / 2).astype(np.int64)
    patches = np.stack([_crop(batch[i, 0], top, left, size)
                        for i, (top, left) in zip(chosen, corners)]) if len(chosen) else \
        np.zeros((0, size, size), np.float32)
    return TopPatches(patches.astype(np.float32), chosen, positions, values[chosen], corners)


def _crop(image, top, left, size):
    """``image[top:top+size, left:left+size]``, zero where it leaves the image."""
    out = np.zeros((size, size), image.dtype)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, image.shape[0]), min(left + size, image.shape[1])
    if y1 > y0 and x1 > x0:
        out[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1]
    return out
