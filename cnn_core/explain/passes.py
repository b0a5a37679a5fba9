"""Shared plumbing: input checks, class targets, recorded passes and map resizing.

Every function here runs passes on the network it is given and changes
nothing in it; explanations take a frozen copy of the weights
(:meth:`cnn_core.network.Network.copy`) so that training never changes them
mid-way.  Images are PyTorch-shaped ``(N, 1, 28, 28)``; a single
``(28, 28)`` image or a stack ``(N, 28, 28)`` is accepted too.
"""
import functools

import numpy as np

from ..errors import ConfigError, ImageError, SameClassError
from ..layers import Conv2D, ReLU
from ..network import CHUNK, INPUT_SHAPE, NUM_CLASSES
from ..preprocessing import resampling_matrix
from .backprop import backward

SIDE = INPUT_SHAPE[1]


def as_batch(images, dtype=np.float32):
    """Return ``images`` as a contiguous ``(N, 1, 28, 28)`` array of ``dtype``.

    Accepts one image ``(28, 28)``, a stack ``(N, 28, 28)`` or a batch
    ``(N, 1, 28, 28)``; raises :class:`ImageError` for anything else or for
    NaN / infinite pixels.
    """
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[None, None]
    elif array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1:] != INPUT_SHAPE or len(array) == 0:
        raise ImageError(f"expected 28×28 images, got an array of shape {np.shape(images)}")
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ImageError("the image contains NaN or infinite values")
    return array


def check_digit(value, what="target"):
    """Return ``value`` as an int class index, or raise :class:`ConfigError`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"the {what} class must be a digit 0 to 9, not {value!r}")
    if not 0 <= value < NUM_CLASSES:
        raise ConfigError(f"the {what} class must be a digit 0 to 9, not {value}")
    return int(value)


def resolve_targets(logits, target=None, contrast=None):
    """Turn the caller's class choices into per-image index arrays.

    Parameters
    ----------
    logits : ndarray, (N, 10)
        Scores of the images being explained.
    target : int, sequence of int or None
        Class to explain; ``None`` means each image's predicted class.
    contrast : int, sequence of int or None
        Class to explain *against* ("why 7 and not 1"), or ``None``.

    Returns
    -------
    targets : ndarray of int, (N,)
    contrasts : ndarray of int, (N,) or None
    """
    n = len(logits)
    targets = logits.argmax(axis=1) if target is None else _per_image(target, n, "target")
    if contrast is None:
        return targets, None
    contrasts = _per_image(contrast, n, "contrast")
    if np.any(contrasts == targets):
        digit = int(contrasts[np.argmax(contrasts == targets)])
        raise SameClassError(f"the contrast class must differ from the explained class ({digit})")
    return targets, contrasts


def _per_image(value, n, what):
    values = np.atleast_1d(np.asarray(value))
    if values.ndim != 1 or len(values) not in (1, n):
        raise ConfigError(f"give one {what} class, or one per image ({n}), not {values.shape}")
    return np.array([check_digit(v.item(), what) for v in np.broadcast_to(values, (n,))], np.int64)


def score_seed(targets, contrasts, dtype=np.float32):
    """Gradient of the explained score with respect to the logits, ``(N, 10)``.

    The score is the target's logit, or ``logit[target] - logit[contrast]``.
    Logits rather than probabilities, as in Grad-CAM: the softmax would mix in
    every other class.
    """
    seed = np.zeros((len(targets), NUM_CLASSES), dtype)
    rows = np.arange(len(targets))
    seed[rows, targets] = 1
    if contrasts is not None:
        seed[rows, contrasts] = -1
    return seed


def class_scores(logits, targets, contrasts=None):
    """The explained score of each image, ``(N,)`` float64 (see :func:`score_seed`)."""
    rows = np.arange(len(targets))
    scores = logits[rows, targets].astype(np.float64)
    if contrasts is not None:
        scores -= logits[rows, contrasts]
    return scores


def per_image_choices(target, contrast, n):
    """Split the class choices for ``n`` images into one ``(target, contrast)`` per image.

    Each is an int or ``None``; a single value applies to every image.
    """
    targets = [None] * n if target is None else [int(t) for t in _per_image(target, n, "target")]
    contrasts = [None] * n if contrast is None else \
        [int(c) for c in _per_image(contrast, n, "contrast")]
    return list(zip(targets, contrasts))


def gradients_beside(network, image, inputs, target=None, contrast=None, chunk=CHUNK):
    """Input gradients of variants of one image, with the image itself in the batch.

    The image rides along in the first chunk, so its logits (which decide the
    default target) cost no pass of their own, and every call with the same
    number of variants runs the same batch sizes.

    Parameters
    ----------
    image : ndarray, (1, 28, 28)
    inputs : ndarray, (M, 1, 28, 28)
        Variants of ``image`` (noisy copies, points on a path).
    target, contrast : int or None

    Returns
    -------
    logits : ndarray, (10,)
        Of ``image``.
    target, contrast : int, int or None
        As resolved for ``image``.
    gradients : ndarray, (M, 28, 28)
        Of the explained score, for each variant.
    """
    stacked = np.concatenate([image[None], inputs])
    grads = []
    with network.workspaces.lease() as workspace:
        for start in range(0, len(stacked), chunk):
            part = stacked[start:start + chunk]
            forward_pass = network.forward(part, workspace=workspace)
            logits = forward_pass.logits
            if start == 0:
                own = logits[0].copy()
                targets, contrasts = resolve_targets(logits[:1], target, contrast)
            seed = score_seed(np.repeat(targets, len(part)),
                              None if contrasts is None else np.repeat(contrasts, len(part)),
                              network.dtype)
            grads.append(backward(network, forward_pass, seed)[0][:, 0])
            del forward_pass    # before the next pass: see cnn_core.share.run_share
    return own, int(targets[0]), None if contrasts is None else int(contrasts[0]), \
        np.concatenate(grads)[1:]


def logits_beside(network, image, inputs, chunk=CHUNK):
    """Logits of ``image (1, 28, 28)`` and of its variants ``inputs (M, 1, 28, 28)``,
    in the same batches (see :func:`gradients_beside`); returns ``(10,)`` and ``(M, 10)``."""
    logits = network.predict_logits(np.concatenate([image[None], inputs]), chunk)
    return logits[0], logits[1:]


# --- layers -------------------------------------------------------------------------

def map_layer_names(network):
    """Names of the layers whose outputs are feature maps ``(C, N, H, W)``."""
    return [name for name, shape in network.output_shapes.items() if len(shape) == 3]


def layer_index(network, name):
    """Position of layer ``name`` in the network, or :class:`ConfigError`."""
    for index, layer in enumerate(network.layers):
        if layer.name == name:
            return index
    choices = ", ".join(layer.name for layer in network.layers)
    raise ConfigError(f"unknown layer {name!r}; the network has {choices}")


def check_map_layer(network, name):
    """Return the index of layer ``name`` if it outputs feature maps, else raise :class:`ConfigError`."""
    if name not in map_layer_names(network):
        known = any(layer.name == name for layer in network.layers)
        what = f"layer {name} has no feature maps" if known else f"unknown layer {name!r}"
        raise ConfigError(f"{what}; choose one of {', '.join(network.conv_layer_names())}")
    return layer_index(network, name)


def last_conv_layer(network):
    """The name of the network's last conv layer, where a CAM looks by default.

    Raises
    ------
    ConfigError
        The network has no conv layer (a model file may hold dense layers only).
    """
    names = network.conv_layer_names()
    if not names:
        raise ConfigError("this model has no conv layer, and a class activation map needs one")
    return names[-1]


def feature_layer(network, name=None):
    """The layer whose output a CAM weighs, for a layer named by the caller.

    A conv layer followed by a ReLU stands for its rectified maps (the
    features Grad-CAM was defined on); a ReLU or pool layer stands for itself.
    ``None`` means the last conv layer.

    Raises
    ------
    ConfigError
        ``name`` is not a layer with feature maps.
    """
    name = last_conv_layer(network) if name is None else name
    index = check_map_layer(network, name)
    following = network.layers[index + 1] if index + 1 < len(network.layers) else None
    if isinstance(network.layers[index], Conv2D) and isinstance(following, ReLU):
        return following.name
    return name


def forward_to(network, images, index, workspace=None):
    """Run ``images (N, 1, 28, 28)`` through layers ``0..index`` (``workspace``: as in
    :meth:`Network.forward <cnn_core.network.Network.forward>`).

    Used to reach an inner layer without paying for the rest of the network;
    :func:`~cnn_core.explain.backprop.backward` on the pass goes back.

    Returns
    -------
    ForwardPass
        Its ``output`` is layer ``index``'s, ``(C, N, H, W)`` (a view) or rows.
    """
    return network.forward(images, stop=index, workspace=workspace)


# --- maps ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _upsampling(n_in, n_out):
    matrix = resampling_matrix(n_in, n_out)
    matrix.setflags(write=False)
    return matrix


def upsample(maps, side=SIDE):
    """Resize maps ``(N, h, w)`` to ``(N, side, side)`` bilinearly (half-pixel centres).

    The same interpolation as OpenCV's ``resize`` with ``INTER_LINEAR`` when
    enlarging; a map already ``side`` wide is returned as is.
    """
    maps = np.asarray(maps, np.float32)
    _, h, w = maps.shape
    if (h, w) == (side, side):
        return maps
    return _upsampling(h, side) @ maps @ _upsampling(w, side).T


def symmetric(maps):
    """Scale each signed map ``(N, H, W)`` by its largest magnitude, into [-1, 1].

    The sign is kept (evidence for the score positive, against it negative)
    and one scale serves both signs, so equal colours on either side of zero
    mean equal amounts; all-zero maps stay zero.
    """
    maps = np.asarray(maps, np.float32)
    peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    scale = np.divide(1.0, peak, out=np.zeros_like(peak), where=peak > 0)
    return maps * scale[:, None, None]


def normalise(maps):
    """Scale each map ``(N, H, W)`` so its maximum is 1; all-zero maps stay zero.

    Negative values are clipped to 0 first: a heat map shows evidence *for*
    the explained score.
    """
    maps = np.maximum(np.asarray(maps, np.float32), 0)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    scale = np.divide(1.0, peak, out=np.zeros_like(peak), where=peak > 0)
    return maps * scale[:, None, None]
