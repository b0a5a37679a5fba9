"""Classification metrics: confusion matrix and per-class precision, recall and F1."""
import numpy as np

from .network import NUM_CLASSES


def confusion_matrix(labels, predicted, num_classes=NUM_CLASSES):
    """Counts ``(K, K)``: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def per_class_metrics(matrix):
    """Precision, recall, F1 and support per class from a confusion matrix.

    A class never predicted has precision 0 (not NaN), as does F1 when both are 0.
    """
    matrix = np.asarray(matrix, np.float64)
    true_positive = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(both), where=both > 0)
    return [{"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for p, r, f, s in zip(precision, recall, f1, support)]


def classification_report(labels, predicted):
    """Everything ``evaluate`` prints, as JSON-ready data.

    Returns a dict with ``accuracy`` (fraction), ``n``, ``confusion`` (10×10
    nested list) and ``per_class`` (list of dicts, one per digit).
    """
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    matrix = confusion_matrix(labels, predicted)
    n = int(len(labels))
    return {"accuracy": float((labels == predicted).mean()) if n else 0.0, "n": n,
            "confusion": matrix.tolist(), "per_class": per_class_metrics(matrix)}


def misclassified(labels, probabilities):
    """The images the network gets wrong, most confident mistakes first.

    Parameters
    ----------
    labels : array_like of int, (N,)
    probabilities : array_like, (N, K)
        Class probabilities (or any scores whose argmax is the prediction).

    Returns
    -------
    dict of ndarray
        ``index`` (into the images), ``true`` and ``predicted`` labels, and
        ``confidence``, the score of the wrong prediction; all ``(M,)``.
    """
    labels = np.asarray(labels, np.int64)
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = np.argsort(-confidence, kind="stable")
    index = wrong[order]
    return {"index": index, "true": labels[index], "predicted": predicted[index],
            "confidence": confidence[order]}
