"""What the Evaluate worker computes: predictions, metrics and the embedding (no Qt)."""
import time
from dataclasses import dataclass, replace

import numpy as np

from cnn_core.explain import PCAEmbedding, dense_features
from cnn_core.metrics import classification_report
from cnn_core.network import Network

from ..architecture import embedding_caption, embedding_layer

#: Images per step: the progress bar moves and a cancel is heard ten times an evaluation.
CHUNK = 100


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One model evaluated on the validation images.

    Attributes
    ----------
    description : str
        Which model it was.
    labels, predicted : ndarray of int, (N,)
    probabilities : ndarray, (N, 10)
    matrix : ndarray of int, (10, 10)
        Rows are true classes, columns predicted ones.
    per_class : list of dict
        ``precision``, ``recall``, ``f1``, ``support`` per digit.
    accuracy : float
    features : ndarray, float32, (N, F)
        The features the last dense layer reads (see :func:`gui.architecture.embedding_layer`).
    embedded : str
        Which layer those are, in words (``"fc1 after ReLU"``).
    points : ndarray, float32, (N, 2)
        The features projected on ``embedding``'s fixed axes.
    embedding : cnn_core.explain.PCAEmbedding
        Fitted; later evaluations reuse it so the axes stay put.
    seconds : float
    """

    description: str
    labels: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray
    matrix: np.ndarray
    per_class: list
    accuracy: float
    features: np.ndarray
    embedded: str
    points: np.ndarray
    embedding: object
    seconds: float


def projected(evaluation, embedding):
    """``evaluation`` with its features projected on ``embedding``'s axes instead."""
    return replace(evaluation, embedding=embedding, points=embedding.transform(evaluation.features))


def network_from_state(architecture, state):
    """A network of ``architecture`` holding a ``state_dict`` (an epoch's frozen weights)."""
    network = Network(architecture)
    network.load_state_dict(state)
    return network


def evaluate(network, description, images, labels, embedding=None, progress=None,
             cancelled=None):
    """Predict, score and embed the validation images, :data:`CHUNK` at a time.

    Parameters
    ----------
    network : Network
        This evaluation's own (its caches are used): the place builds one per job.
    images : ndarray, float32, (N, 1, 28, 28)
    labels : ndarray of int, (N,)
    embedding : PCAEmbedding or None
        A fitted basis to project on; None fits one on these features.
    progress : callable ``(done, total)``, optional
        Told the images done after every step, from the thread doing the work.
    cancelled : callable ``() -> bool``, optional
        Asked before every step; True stops the work.

    Returns
    -------
    Evaluation, or None when cancelled
    """
    started = time.perf_counter()
    layer = embedding_layer(network)
    parts, chunk = [], CHUNK
    for start in range(0, len(images), chunk):
        if cancelled is not None and cancelled():
            return None
        batch = images[start:start + chunk]
        parts.append((network.predict_proba(batch), dense_features(network, batch, layer)))
        if progress is not None:
            progress(start + len(batch), len(images))
    probabilities = np.concatenate([p for p, _ in parts])
    features = np.concatenate([f for _, f in parts])
    predicted = probabilities.argmax(axis=1)
    report = classification_report(labels, predicted)
    if embedding is None:
        embedding = PCAEmbedding(2).fit(features)
    return Evaluation(description, np.asarray(labels, np.int64), predicted, probabilities,
                      np.array(report["confusion"]), report["per_class"], report["accuracy"],
                      features, embedding_caption(network), embedding.transform(features),
                      embedding,
                      time.perf_counter() - started)
