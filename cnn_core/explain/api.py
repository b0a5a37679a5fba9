"""The one entry point the GUI and the command line call.

An :class:`Explainer` holds its own frozen copy of the weights, so training
never changes them under an explanation.  A pass is a value
(:class:`~cnn_core.network.ForwardPass`), so one explainer serves any number
of threads at once.  Make one per weight snapshot and call it as often as the
pen moves; :func:`explain` is the one-shot form.
"""
import inspect
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..losses import softmax
from . import attribution
from .activations import image_major
from .cam import CAM_METHODS, record_pass
from .faithfulness import perturbation_curves, random_heatmaps
from .passes import as_batch, last_conv_layer

PIXEL_METHODS = {
    "saliency": attribution.saliency,
    "smoothgrad": attribution.smooth_grad,
    "integrated-gradients": attribution.integrated_gradients,
    "occlusion": attribution.occlusion,
}
#: Every method :func:`explain` knows, CAMs first.
METHODS = tuple(CAM_METHODS) + tuple(PIXEL_METHODS)


@dataclass(frozen=True)
class Explanation:
    """One image explained by one method.

    Attributes
    ----------
    heatmap : ndarray, float32, (28, 28)
        Evidence for the explained score, scaled to [0, 1]; draw it over ``image``.
    raw : ndarray, float32
        The method's own map: ``(h, w)`` at the layer's resolution for a CAM
        (non-negative), ``(28, 28)`` signed attributions otherwise.
    probabilities : ndarray, float64, (10,)
    predicted : int
    target : int
        The class explained.
    contrast : int or None
        The class explained against, in contrast mode.
    layer : str or None
        The layer of a CAM; ``None`` for pixel methods.
    image : ndarray, float32, (28, 28)
        The input that was explained.
    signed : ndarray, float32, (28, 28), or None
        Pixel methods: ``raw`` divided by its largest magnitude, in [-1, 1]:
        evidence for the score positive, against it negative, on one scale.
        ``None`` for a CAM, which keeps only evidence for the score.
    """

    method: str
    heatmap: np.ndarray
    raw: np.ndarray
    probabilities: np.ndarray
    predicted: int
    target: int
    contrast: object
    layer: object
    image: np.ndarray
    signed: object = None


@dataclass(frozen=True)
class Analysis:
    """Everything the Draw & Explain view shows for one image, from one pass.

    ``activations`` maps every layer name to its output, ``(C, H, W)`` or
    ``(F,)``; ``cams`` maps every conv layer name to ``(raw (h, w),
    heatmap (28, 28))``.
    """

    activations: dict
    cams: dict
    probabilities: np.ndarray
    predicted: int
    target: int
    contrast: object
    method: str


def empty_map_note(layer, target, contrast=None):
    """Why a heat map is empty, in words.

    A CAM keeps only the positive part of its weighted channel sum; at an
    intermediate layer that sum is often negative everywhere (Grad-CAM at
    conv3 is empty for most digits of the shipped model), and then no region
    is marked.  Such a map has no deletion AUC: its order of equal scores says
    nothing.
    """
    where = f" at {layer}" if layer else ""
    over = f" over class {contrast}" if contrast is not None else ""
    return f"no region{where} raises the score of class {target}{over}"


def check_method(method):
    """Return ``method`` if :func:`explain` knows it, else raise :class:`ConfigError`."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return method


def _check_options(method, options):
    """Reject options a pixel method does not take, naming the ones it does."""
    accepted = list(inspect.signature(PIXEL_METHODS[method]).parameters)[4:]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"{method} has no option {unknown[0]!r}; it takes {', '.join(accepted)}")


class Explainer:
    """Explanations from a frozen copy of a network's weights.

    Parameters
    ----------
    network : Network
        Copied at once; later changes to it are not seen (call
        :meth:`set_weights` with a new snapshot).

    Calls from several threads may run at once.
    """

    def __init__(self, network):
        self.network = network.copy()

    def set_weights(self, state):
        """Explain with a ``state_dict`` snapshot (e.g. from a training record) from now on.

        The snapshot goes into a new copy that then replaces the old one, so an
        explanation already running finishes on the weights it started with.
        """
        network = self.network.copy()
        network.load_state_dict(state)
        self.network = network

    def explain(self, image, method="gradcam", layer=None, target=None, contrast=None, **options):
        """Explain one image; see :func:`explain`."""
        method = check_method(method)
        network = self.network              # one set of weights for the whole call
        batch = self._one_image(image, network)
        if method in CAM_METHODS:
            if options:
                raise ConfigError(f"{method} takes no options ({', '.join(options)})")
            layer = last_conv_layer(network) if layer is None else layer
            maps, recorded = CAM_METHODS[method](network, batch, layer, target, contrast)
            heatmap, raw, logits = maps.heatmap[0], maps.raw[0], recorded.logits
            targets, contrasts, signed = recorded.targets, recorded.contrasts, None
        else:
            _check_options(method, options)
            result = PIXEL_METHODS[method](network, batch, target, contrast, **options)
            heatmap, raw, logits = result.heatmap[0], result.raw[0], result.logits
            targets, contrasts, layer = result.targets, result.contrasts, None
            signed = result.signed[0]
        probabilities = softmax(logits.astype(np.float64))[0]
        return Explanation(method, heatmap, raw, probabilities, int(probabilities.argmax()),
                           int(targets[0]), None if contrasts is None else int(contrasts[0]),
                           layer, batch[0, 0].copy(), signed)

    def analyse(self, image, target=None, contrast=None, method="gradcam"):
        """Activations of every layer and a CAM at every conv layer, from one pass.

        Parameters
        ----------
        image : array_like, (28, 28)
        target, contrast : int or None
            As in :func:`explain`.
        method : str
            Which CAM: ``"gradcam"``, ``"gradcam++"``, ``"hirescam"`` or ``"layercam"``.

        Returns
        -------
        Analysis
        """
        if method not in CAM_METHODS:
            raise ConfigError(f"analyse needs a CAM method ({', '.join(CAM_METHODS)}), not {method!r}")
        network = self.network
        batch = self._one_image(image, network)
        recorded = record_pass(network, batch, target, contrast)
        cams = CAM_METHODS[method].from_pass(network, recorded)
        outputs = image_major(recorded.outputs)
        probabilities = softmax(recorded.logits.astype(np.float64))[0]
        contrasts = recorded.contrasts
        return Analysis({name: value[0] for name, value in outputs.items()},
                        {name: (m.raw[0], m.heatmap[0]) for name, m in cams.items()},
                        probabilities, int(probabilities.argmax()), int(recorded.targets[0]),
                        None if contrasts is None else int(contrasts[0]), method)

    @staticmethod
    def _one_image(image, network):
        batch = as_batch(image, network.dtype)
        if len(batch) != 1:
            raise ConfigError(f"explain one image at a time, not {len(batch)}")
        return batch

    def deletion_curve(self, explanation, mode="deletion", random_order=False, seed=0):
        """Deletion (or insertion) curve of an explanation, or of a random order.

        Returns
        -------
        Curves
            For one image: ``probabilities`` ``(1, S)``, ``auc`` ``(1,)``.
        """
        heatmap = random_heatmaps(1, seed) if random_order else explanation.heatmap[None]
        return perturbation_curves(self.network, explanation.image, heatmap,
                                   [explanation.target], mode)


def heatmap_function(method, layer=None, **options):
    """``f(network, images, targets) -> heatmaps (N, 28, 28)`` for a named method.

    For :func:`~cnn_core.explain.sanity.sanity_check` and batch evaluations.
    """
    method = check_method(method)
    if method in CAM_METHODS:
        if options:
            raise ConfigError(f"{method} takes no options ({', '.join(options)})")
        cam = CAM_METHODS[method]

        def cam_heatmaps(network, images, targets):
            return cam(network, images, layer, targets)[0].heatmap
        return cam_heatmaps

    _check_options(method, options)

    def pixel_heatmaps(network, images, targets):
        return PIXEL_METHODS[method](network, images, targets, **options).heatmap
    return pixel_heatmaps


def explain(network, image, method="gradcam", layer=None, target=None, contrast=None, **options):
    """Explain why ``network`` gives ``image`` the score it does.

    Works on a private copy of the weights, so ``network`` may be training
    in another thread.  (For repeated calls on the same weights, keep an
    :class:`Explainer` and call its :meth:`~Explainer.explain`.)

    Parameters
    ----------
    network : Network
    image : array_like, (28, 28)
        Preprocessed, ink 1 on paper 0 (see :func:`cnn_core.preprocessing.preprocess`).
    method : str
        One of :data:`METHODS`: ``gradcam``, ``gradcam++``, ``hirescam``,
        ``layercam``, ``saliency``, ``smoothgrad``, ``integrated-gradients``,
        ``occlusion``.
    layer : str or None
        CAM methods only: a conv layer (``conv1``..``conv4``); default the last.
    target : int or None
        The class to explain; default the predicted one.
    contrast : int or None
        Explain ``score[target] - score[contrast]``: "why 7 and not 1".
    **options
        Passed to the pixel method: ``samples``, ``noise``, ``seed``
        (smoothgrad); ``steps``, ``baseline`` (integrated-gradients);
        ``patch``, ``stride``, ``fill`` (occlusion).

    Returns
    -------
    Explanation

    Raises
    ------
    ConfigError
        Unknown method or layer, a class outside 0–9, contrast equal to target.
    ImageError
        The image is not 28×28 or holds NaN.
    """
    return Explainer(network).explain(image, method, layer, target, contrast, **options)
