"""Pixel attributions: saliency, SmoothGrad, Integrated Gradients and occlusion.

Each function explains the score ``S`` of a target class (default: the
predicted one), or ``S = logit[target] - logit[contrast]`` in contrast mode,
and returns an :class:`Attribution`: the method's own signed map ``raw``, the
same map scaled into [-1, 1] (``signed``: evidence for and against, for
display) and a ``heatmap`` in [0, 1] for ranking pixels.

Common parameters: ``network`` is the network to explain;
``images`` is one image ``(28, 28)`` or a batch ``(N, 1, 28, 28)``;
``target`` and ``contrast`` are a digit, one digit per image, or ``None``.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .backprop import backward
from .passes import (SIDE, as_batch, class_scores, gradients_beside, logits_beside, normalise,
                     per_image_choices, resolve_targets, score_seed, symmetric)

#: Integrated Gradients steps used when the caller names none.  The network is
#: piecewise linear, so the path integral has kinks that the midpoint rule
#: averages out only with enough steps: 64 keeps the completeness gap under
#: 1 % of ``S(x) - S(baseline)`` on the validation digits (tested).
IG_STEPS = 64


@dataclass(frozen=True)
class Attribution:
    """Per-pixel attribution for a batch.

    ``raw`` is signed, in the method's units; ``signed`` is ``raw`` divided by
    its largest magnitude per image, in [-1, 1] (positive: evidence for the
    score, negative: against it); ``heatmap`` is what the method ranks pixels
    by, scaled to [0, 1] per image.
    """

    raw: np.ndarray          # (N, 28, 28) float32
    heatmap: np.ndarray      # (N, 28, 28) float32
    logits: np.ndarray       # (N, 10) of the images themselves
    targets: np.ndarray      # (N,)
    contrasts: np.ndarray    # (N,) or None

    @property
    def signed(self):
        """``raw`` on a symmetric scale, ``(N, 28, 28)`` in [-1, 1]."""
        return symmetric(self.raw)


def saliency(network, images, target=None, contrast=None):
    """Gradient of the score with respect to the pixels (Simonyan et al. 2014).

    ``raw`` is the gradient; ``heatmap`` its normalised absolute value.
    """
    batch = as_batch(images, network.dtype)
    forward_pass = network.forward(batch)
    logits = forward_pass.logits
    targets, contrasts = resolve_targets(logits, target, contrast)
    raw = backward(network, forward_pass, score_seed(targets, contrasts, network.dtype))[0][:, 0]
    return Attribution(raw, normalise(np.abs(raw)), logits, targets, contrasts)


def _each_image(network, images, target, contrast, explain_one):
    """Run ``explain_one(image (1, 28, 28), target, contrast)`` for each image.

    ``explain_one`` returns ``(logits (10,), target, contrast, raw (28, 28),
    heat (28, 28))``; the results are stacked into an :class:`Attribution`.
    """
    batch = as_batch(images, network.dtype)
    results = [explain_one(image, t, c) for image, (t, c)
               in zip(batch, per_image_choices(target, contrast, len(batch)))]
    logits, targets, contrasts, raw, heat = zip(*results)
    return Attribution(np.stack(raw).astype(np.float32), normalise(np.stack(heat)),
                       np.stack(logits), np.array(targets, np.int64),
                       None if contrast is None else np.array(contrasts, np.int64))


def smooth_grad(network, images, target=None, contrast=None, samples=25, noise=0.15, seed=0):
    """SmoothGrad (Smilkov et al. 2017): gradients averaged over noisy copies.

    Parameters
    ----------
    samples : int
        Noisy copies per image, all in one batch.
    noise : float
        Standard deviation of the Gaussian noise, as a fraction of the pixel
        range (1.0).
    seed : int
        Seed of the noise: the same call gives the same map.

    Returns
    -------
    Attribution
        ``raw`` is the mean gradient; ``heatmap`` the normalised mean of the
        absolute gradients (the paper's visualisation).
    """
    if samples < 1 or not noise >= 0:
        raise ConfigError(f"SmoothGrad needs samples >= 1 and noise >= 0, not {samples}, {noise}")
    rng = np.random.default_rng(seed)

    def explain_one(image, target, contrast):
        noisy = image + rng.normal(0.0, noise, (samples,) + image.shape).astype(image.dtype)
        logits, target, contrast, grads = gradients_beside(network, image, noisy, target, contrast)
        return logits, target, contrast, grads.mean(axis=0), np.abs(grads).mean(axis=0)
    return _each_image(network, images, target, contrast, explain_one)


def integrated_gradients(network, images, target=None, contrast=None, steps=IG_STEPS,
                         baseline=None):
    """Integrated Gradients (Sundararajan et al. 2017) along the straight path.

    The path integral is the midpoint rule over ``steps`` points, all run as
    one batch per image.  Completeness: ``raw.sum()`` approximates
    ``S(image) - S(baseline)``.

    Parameters
    ----------
    steps : int
        Points on the path (default :data:`IG_STEPS`).
    baseline : array_like, (28, 28) or None
        The reference image; ``None`` is black (all zeros), which for MNIST is
        the empty page.

    Returns
    -------
    Attribution
        ``raw`` is the signed attribution; ``heatmap`` its normalised
        positive part (pixels that raise the score).
    """
    if steps < 1:
        raise ConfigError(f"Integrated Gradients needs at least 1 step, not {steps}")
    base = np.zeros((1, SIDE, SIDE), network.dtype) if baseline is None else \
        as_batch(baseline, network.dtype)[0]
    alphas = ((np.arange(steps) + 0.5) / steps).astype(network.dtype)[:, None, None, None]

    def explain_one(image, target, contrast):
        path = base + alphas * (image - base)
        logits, target, contrast, grads = gradients_beside(network, image, path, target, contrast)
        raw = (image[0] - base[0]) * grads.mean(axis=0, dtype=np.float64)
        return logits, target, contrast, raw, raw
    return _each_image(network, images, target, contrast, explain_one)


def completeness_gap(network, attribution, images, baseline=None):
    """How far IG's attributions miss ``S(x) - S(baseline)``, relatively, per image.

    Returns ``|sum(raw) - (S(x) - S(b))| / |S(x) - S(b)|``, ``(N,)``.
    """
    batch = as_batch(images, network.dtype)
    base = np.zeros_like(batch[:1]) if baseline is None else as_batch(baseline, batch.dtype)
    base_logits = np.repeat(network.predict_logits(base), len(batch), axis=0)
    a = attribution
    change = (class_scores(a.logits, a.targets, a.contrasts)
              - class_scores(base_logits, a.targets, a.contrasts))
    total = a.raw.reshape(len(batch), -1).sum(axis=1, dtype=np.float64)
    return np.abs(total - change) / np.maximum(np.abs(change), 1e-12)


def occlusion(network, images, target=None, contrast=None, patch=4, stride=2, fill=0.0):
    """Occlusion sensitivity (Zeiler & Fergus 2014): how much the score drops
    when a ``patch × patch`` square is painted ``fill``.

    Patches slide by ``stride`` and always reach the far edges.  A patch that
    changes no pixel (all already ``fill``, e.g. black page around a digit)
    cannot change the score, so it is not run at all.

    Returns
    -------
    Attribution
        ``raw`` is, per pixel, the mean score drop of the patches covering
        it (positive: the pixel helped the score); ``heatmap`` its normalised
        positive part.
    """
    if not 1 <= patch <= SIDE or stride < 1:
        raise ConfigError(f"occlusion needs a patch of 1 to {SIDE} pixels and a stride of at "
                          f"least 1, not patch {patch}, stride {stride}")
    starts = list(range(0, SIDE - patch + 1, stride))
    if starts[-1] != SIDE - patch:
        starts.append(SIDE - patch)
    corners = [(y, x) for y in starts for x in starts]
    coverage = np.zeros((SIDE, SIDE), np.float32)
    for y, x in corners:
        coverage[y:y + patch, x:x + patch] += 1

    def explain_one(image, target, contrast):
        changes = image[0] != fill
        live = [(y, x) for y, x in corners if changes[y:y + patch, x:x + patch].any()]
        copies = np.repeat(image[None], len(live), axis=0)
        for row, (y, x) in enumerate(live):
            copies[row, 0, y:y + patch, x:x + patch] = fill
        logits, occluded = logits_beside(network, image, copies)
        targets, contrasts = resolve_targets(logits[None], target, contrast)
        drops = class_scores(logits[None], targets, contrasts) - class_scores(
            occluded, np.repeat(targets, len(live)),
            None if contrasts is None else np.repeat(contrasts, len(live)))
        total = np.zeros((SIDE, SIDE), np.float64)
        for (y, x), drop in zip(live, drops):
            total[y:y + patch, x:x + patch] += drop
        raw = total / coverage
        return logits, int(targets[0]), None if contrasts is None else int(contrasts[0]), raw, raw
    return _each_image(network, images, target, contrast, explain_one)
