"""The model-randomisation sanity check of Adebayo et al. (2018), "Sanity Checks
for Saliency Maps".

Re-initialise the weights layer by layer, from the output back to the input
(cascading), and recompute the maps each time.  A map that explains *the
model* must change as the model is destroyed: its Spearman rank correlation
with the original map falls.  A map that stays the same (an edge detector of
the input does) explains the input, not the model, and fails.
"""
from dataclasses import dataclass

import numpy as np

from .passes import as_batch

#: A method passes when, with every layer re-initialised, the mean rank
#: correlation with its original maps is below this.
PASS_THRESHOLD = 0.5


@dataclass(frozen=True)
class SanityReport:
    """How one method's maps changed as the layers were re-initialised.

    ``steps[i]`` is the layer re-initialised at step ``i`` (cumulatively,
    from the top), and ``correlations[i]`` the mean Spearman correlation
    between the maps then and the original maps, over the images.
    """

    method: str
    steps: list
    correlations: np.ndarray    # (len(steps),)
    passed: bool


def spearman(a, b):
    """Spearman rank correlation of two arrays of the same size (ties get mean ranks).

    Two constant arrays are perfectly correlated if equal and not at all
    otherwise; a constant array against a varying one correlates 0.
    """
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    norm = np.sqrt((ra @ ra) * (rb @ rb))
    if norm == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(ra @ rb / norm)


def _ranks(values):
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, ranks) / counts)[inverse]


def cascading_layers(network):
    """Names of the layers with weights, from the output back to the input."""
    return [layer.name for layer in reversed(network.layers) if layer.params]


def randomise(layer, rng):
    """Re-initialise a conv or dense layer in place: He-normal weights, random biases.

    The biases are drawn with the spread the trained ones had, not set to
    zero as at the start of training: a zero-bias ReLU network maps the
    black page to exactly zero, so every gradient vanishes off the ink and
    any gradient map of the random model would copy the digit's outline,
    which the check would wrongly blame on the method.
    """
    weight, bias = layer.params["weight"], layer.params["bias"]
    fan_in = weight[0].size
    spread = float(bias.std()) or 0.01
    weight[...] = rng.standard_normal(weight.shape) * np.sqrt(2.0 / fan_in)
    bias[...] = rng.normal(0.0, spread, bias.shape)


def sanity_check(network, images, method, name=None, targets=None, seed=0,
                 threshold=PASS_THRESHOLD):
    """Run the cascading-randomisation check for one method.

    Parameters
    ----------
    network : Network
        Not modified: the check works on its own copy.
    images : array_like, (N, 1, 28, 28)
    method : callable
        ``method(network, images, targets) -> heatmaps (N, 28, 28)``.
    name : str or None
        How to call the method in the report (default: its ``__name__``).
    targets : array_like of int or None
        Classes to explain; default the original network's predictions, kept
        fixed while the weights are destroyed.
    seed : int
        Seed of the re-initialisation (see :func:`randomise`).
    threshold : float
        The method passes if the final mean correlation is below this.

    Returns
    -------
    SanityReport
    """
    model = network.copy()
    batch = as_batch(images, model.dtype)
    if targets is None:
        targets = model.predict_logits(batch).argmax(axis=1)
    targets = np.broadcast_to(np.asarray(targets, np.int64), (len(batch),))
    original = np.asarray(method(model, batch, targets))
    rng = np.random.default_rng(seed)
    steps, correlations = cascading_layers(model), []
    for layer_name in steps:
        randomise(model.layer(layer_name), rng)
        maps = np.asarray(method(model, batch, targets))
        correlations.append(np.mean([spearman(m, o) for m, o in zip(maps, original)]))
    correlations = np.array(correlations)
    return SanityReport(name or getattr(method, "__name__", "method"), steps, correlations,
                        bool(correlations[-1] < threshold))


def sanity_check_methods(network, images, methods, targets=None, seed=0,
                         threshold=PASS_THRESHOLD):
    """:func:`sanity_check` for each of ``methods`` (name -> callable); returns a dict of reports."""
    return {name: sanity_check(network, images, method, name, targets, seed, threshold)
            for name, method in methods.items()}
