"""Softmax cross-entropy, computed stably with log-sum-exp."""
import numpy as np


def log_softmax(logits):
    """Return ``log(softmax(logits))`` for ``logits (N, K)``, without overflow."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """Class probabilities ``(N, K)`` for ``logits (N, K)``; rows sum to 1."""
    return np.exp(log_softmax(logits))


def cross_entropy(logits, labels):
    """Mean cross-entropy loss and its gradient with respect to the logits.

    Parameters
    ----------
    logits : ndarray, (N, K)
    labels : ndarray of int, (N,)

    Returns
    -------
    loss : float
        Mean over the batch of ``-log p(label)``.
    grad : ndarray, (N, K)
        ``(softmax - one_hot) / N``, same dtype as ``logits``.
    """
    n = len(labels)
    logp = log_softmax(logits)
    rows = np.arange(n)
    loss = -float(logp[rows, labels].mean())
    grad = np.exp(logp)
    grad[rows, labels] -= 1
    grad /= n
    return loss, grad
