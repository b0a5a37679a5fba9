"""Deletion and insertion curves (Petsiuk et al. 2018, RISE): is a heat map faithful?

Deletion paints pixels black in the order a map ranks them, most important
first, and records the probability of the explained class; a faithful map
makes it fall fast, so the area under the curve is small.  Insertion starts
from the black page and restores pixels in the same order; there a large
area is good.  A random order is the yardstick: a map that does no better
than chance explains nothing.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..losses import softmax
from ..network import CHUNK
from .passes import SIDE, as_batch

#: Pixels changed between two points of a curve: 784 / 16 = 49 steps.
PIXELS_PER_STEP = 16
MODES = ("deletion", "insertion")


@dataclass(frozen=True)
class Curves:
    """Deletion or insertion curves for a batch of images."""

    mode: str
    fractions: np.ndarray      # (S,) fraction of pixels changed, 0 to 1
    probabilities: np.ndarray  # (N, S) probability of each image's class
    auc: np.ndarray            # (N,) area under each curve (trapezoid)


def pixel_order(heatmap, seed=0):
    """Pixel indices (flat, ``(784,)``) from most to least important.

    Ties (a flat background of zeros is common) are broken at random with a
    fixed ``seed``, so they favour no corner of the image.
    """
    heat = np.asarray(heatmap, np.float64).ravel()
    tiebreak = np.random.default_rng(seed).random(heat.size)
    return np.lexsort((tiebreak, -heat))


def random_heatmaps(count, seed=0):
    """Heat maps ``(count, 28, 28)`` of uniform noise: a random pixel order."""
    return np.random.default_rng(seed).random((count, SIDE, SIDE)).astype(np.float32)


def perturbation_curves(network, images, heatmaps, targets, mode="deletion",
                        pixels_per_step=PIXELS_PER_STEP, fill=0.0, chunk=CHUNK):
    """Deletion or insertion curves, all steps of an image in batched passes.

    Parameters
    ----------
    network : Network
        A frozen copy.
    images : array_like, (N, 1, 28, 28) or (28, 28)
    heatmaps : array_like, (N, 28, 28)
        Higher means more important.
    targets : array_like of int, (N,)
        The class whose probability is tracked (usually the one explained).
    mode : {"deletion", "insertion"}
    pixels_per_step : int
    fill : float
        The value of a deleted pixel (black: the empty page).

    Returns
    -------
    Curves
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be 'deletion' or 'insertion', not {mode!r}")
    batch = as_batch(images, network.dtype)
    heatmaps = np.asarray(heatmaps).reshape(len(batch), SIDE * SIDE)
    targets = np.broadcast_to(np.asarray(targets, np.int64), (len(batch),))
    pixels = SIDE * SIDE
    counts = np.unique(np.append(np.arange(0, pixels, pixels_per_step), pixels))
    fractions = counts / pixels
    probabilities = np.empty((len(batch), len(counts)))
    for i, image in enumerate(batch):
        rank = np.empty(pixels, np.int64)
        rank[pixel_order(heatmaps[i])] = np.arange(pixels)
        changed = rank[None, :] < counts[:, None]          # (S, 784)
        flat = image.reshape(1, pixels)
        if mode == "deletion":
            steps = np.where(changed, fill, flat)
        else:
            steps = np.where(changed, flat, fill)
        logits = network.predict_logits(steps.reshape(-1, 1, SIDE, SIDE).astype(batch.dtype), chunk)
        probabilities[i] = softmax(logits.astype(np.float64))[:, targets[i]]
    return Curves(mode, fractions, probabilities, trapezoid(probabilities, fractions))


def trapezoid(values, x):
    """Trapezoid-rule integral of ``values (..., S)`` over ``x (S,)``."""
    values = np.asarray(values, np.float64)
    return ((values[..., 1:] + values[..., :-1]) * 0.5 * np.diff(x)).sum(axis=-1)


def compare_with_random(network, images, heatmaps, targets, mode="deletion", seed=0, **options):
    """Mean AUC of the given maps and of random pixel orders, over a batch.

    Returns
    -------
    method_auc, random_auc : float
        For deletion the method should be clearly lower; for insertion higher.
    """
    batch = as_batch(images, network.dtype)
    method = perturbation_curves(network, batch, heatmaps, targets, mode, **options)
    chance = perturbation_curves(network, batch, random_heatmaps(len(batch), seed), targets,
                                 mode, **options)
    return float(method.auc.mean()), float(chance.auc.mean())
