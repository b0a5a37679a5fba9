"""What the Draw & Explain worker thread computes: maps with their faithfulness,
and feature visualisations.  Plain functions on frozen data, no Qt.
"""
import time
from dataclasses import dataclass

import numpy as np

from cnn_core.data import load_sample
from cnn_core.errors import SameClassError
from cnn_core.explain import (CAM_METHODS, Explainer, feature_visualisation,
                              perturbation_curves, top_patches)

#: Methods too slow to follow the pen: they update when it lifts.
COSTLY_METHODS = ("integrated-gradients", "occlusion")


@dataclass(frozen=True)
class MapChoice:
    """What the method panel asks for: a method, the conv ``layer`` a CAM is taken at
    (one of the model's), and ``target``/``contrast`` (None: predicted/none)."""

    method: str
    layer: str
    target: object = None
    contrast: object = None

    @property
    def is_cam(self):
        return self.method in CAM_METHODS

    @property
    def costly(self):
        return self.method in COSTLY_METHODS


@dataclass(frozen=True)
class MapResult:
    """One explanation and its deletion AUC, with a random pixel order's for scale
    (both None for an empty map, which gives no order to delete pixels in)."""

    choice: MapChoice
    explanation: object         # cnn_core.explain.Explanation
    auc: object                 # float or None
    random_auc: object          # float or None
    seconds: float
    note: object = None         # str: why the map is not quite what was chosen


@dataclass(frozen=True)
class StripScores:
    """Deletion AUC of each conv layer's CAM in the strip, for one digit."""

    digit: np.ndarray
    aucs: dict                  # layer -> float


@dataclass(frozen=True)
class ChannelFeatures:
    """What excites one channel: its feature visualisation and top validation patches."""

    layer: str
    channel: int
    image: np.ndarray           # (28, 28) in [0, 1]
    patches: np.ndarray         # (k, s, s) in [0, 1]
    values: np.ndarray          # (k,) activation of each patch


class WorkerCache:
    """The worker thread's own explainer and data; touched by that thread only.

    One explainer is kept per network on show, so a burst of requests on the
    same weights reuses its buffers.
    """

    def __init__(self):
        self._network = self._explainer = None
        self._validation = None

    def explainer(self, network):
        """An :class:`Explainer` holding its own copy of ``network``'s weights."""
        if network is not self._network:
            self._network, self._explainer = network, Explainer(network)
        return self._explainer

    def validation_images(self):
        """The bundled validation images, ``(1000, 1, 28, 28)`` float32."""
        if self._validation is None:
            self._validation = load_sample()[1].as_float()
        return self._validation


def dropping_same_contrast(explain, contrast):
    """``explain(contrast)``, or ``explain(None)`` when the contrast is the class explained.

    "Explain the predicted class rather than 4" meets a drawing of a 4: the panels
    show the class alone and say why.  Returns ``(result, note)``; ``note`` is that
    reason, or None when the contrast was kept.
    """
    try:
        return explain(contrast), None
    except SameClassError as exc:
        return explain(None), f"{exc}, so it is shown without a contrast"


def explain_map(cache, network, digit, choice):
    """Explain ``digit`` as ``choice`` says and score the map; returns :class:`MapResult`."""
    started = time.perf_counter()
    explainer = cache.explainer(network)
    layer = choice.layer if choice.is_cam else None
    explanation, note = dropping_same_contrast(
        lambda contrast: explainer.explain(digit, choice.method, layer, choice.target, contrast),
        choice.contrast)
    auc = random_auc = None
    if explanation.heatmap.any():
        auc = float(explainer.deletion_curve(explanation).auc[0])
        random_auc = float(explainer.deletion_curve(explanation, random_order=True).auc[0])
    return MapResult(choice, explanation, auc, random_auc, time.perf_counter() - started, note)


def strip_scores(cache, network, digit, heatmaps, target):
    """Deletion AUC of several heat maps of one digit, in one batched pass.

    Parameters
    ----------
    heatmaps : dict of str -> ndarray (28, 28)
        Non-empty maps only: an empty one has no AUC.
    target : int
        The class whose probability the deletion tracks.
    """
    explainer = cache.explainer(network)
    names = list(heatmaps)
    stack = np.stack([heatmaps[name] for name in names])
    images = np.repeat(np.asarray(digit, np.float32)[None, None], len(names), axis=0)
    curves = perturbation_curves(explainer.network, images, stack, [target] * len(names))
    return StripScores(digit, dict(zip(names, map(float, curves.auc))))


def channel_features(cache, network, layer, channel, k=9):
    """Feature visualisation and top-``k`` validation patches of one channel."""
    private = network.copy()        # both functions use the network's own caches
    image = feature_visualisation(private, layer, channel)
    top = top_patches(private, cache.validation_images(), layer, channel, k=k)
    return ChannelFeatures(layer, channel, image, top.patches, top.values)
