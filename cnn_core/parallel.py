"""Data parallelism on Python threads: split a batch, run the pieces at once, add up.

NumPy releases the GIL inside BLAS calls and large array operations, so
threads give real parallelism here.  Each thread drives its own *replica* of
the network: the same parameter arrays, but its own caches and gradient
buffers.  With single-threaded BLAS (``OPENBLAS_NUM_THREADS=1``, which
``main.py`` sets) this beats one multi-threaded BLAS call per layer, because the
im2col copies, pooling and ReLUs run in parallel too.  The split and the order
of summation are fixed, so results are still bit-for-bit repeatable.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .losses import cross_entropy
from .network import CHUNK

_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def default_workers():
    """How many Python threads to train with, without oversubscribing the cores.

    All cores when BLAS was told to use one thread (``main.py`` does that);
    otherwise one, since multi-threaded BLAS already uses every core.
    """
    single_blas = any(os.environ.get(name) == "1" for name in _BLAS_THREAD_VARIABLES)
    return max(1, os.cpu_count() or 1) if single_blas else 1


def _chunks(part, size=CHUNK):
    """Split ``part`` (a slice with a stop) into consecutive slices of at most ``size``."""
    return [slice(s, min(s + size, part.stop)) for s in range(part.start, part.stop, size)]


def _merge_alive(alive, network):
    """Mark in ``alive`` (ReLU name -> bool (C, H, W) or (F,)) the units that fired
    for at least one sample of ``network``'s last forward pass."""
    for relu in network.relu_layers():
        fired = relu.fired()
        if relu.name in alive:
            alive[relu.name] |= fired
        else:
            alive[relu.name] = fired


class DataParallel:
    """Run forward and backward passes of ``network`` on ``workers`` threads.

    Gradients end up in ``network``'s own ``grads``, as after a plain
    backward pass, so the optimizer does not know the difference.
    """

    def __init__(self, network, workers=None):
        self.network = network
        self.workers = max(1, workers or default_workers())
        self.replicas = [network] + [network.replica() for _ in range(self.workers - 1)]
        self._pool = ThreadPoolExecutor(self.workers - 1) if self.workers > 1 else None
        self._alive = {}        # ReLU name -> units that fired in the last training batch

    def close(self):
        """Let the worker threads end (idempotent)."""
        if self._pool:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _map(self, function, pieces):
        """``function(replica, piece)`` for up to ``workers`` pieces; the first runs here."""
        if self._pool is None or len(pieces) == 1:
            return [function(self.replicas[0], piece) for piece in pieces]
        futures = [self._pool.submit(function, replica, piece)
                   for replica, piece in zip(self.replicas[1:], pieces[1:])]
        return [function(self.replicas[0], pieces[0])] + [f.result() for f in futures]

    def _split(self, n):
        count = min(self.workers, n)
        bounds = np.linspace(0, n, count + 1).astype(int)
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def train_step(self, images, labels):
        """Forward and backward on a batch; gradients summed into ``network.grads``.

        Each thread takes a contiguous share of the batch and runs it in chunks
        of at most :data:`CHUNK` images, adding up their gradients.

        Parameters
        ----------
        images : ndarray, (N, 1, 28, 28)
        labels : ndarray of int, (N,)

        Returns
        -------
        loss : float
            Mean cross-entropy over the whole batch (may be NaN or inf).
        logits : ndarray, (N, 10)
        """
        n = len(labels)

        def share(replica, part):
            loss, logits, alive, filled = 0.0, [], {}, False
            for chunk in _chunks(part):
                chunk_logits = replica.forward(images[chunk])
                _merge_alive(alive, replica)
                chunk_loss, grad = cross_entropy(chunk_logits, labels[chunk])
                size = chunk.stop - chunk.start
                if np.isfinite(chunk_loss):
                    grad *= size / n                 # each chunk's mean → the batch mean
                    replica.backward(grad, accumulate=filled)   # the first one overwrites
                    filled = True
                loss += chunk_loss * size
                logits.append(chunk_logits.copy())
            return loss, logits, alive

        parts = self._split(n)
        results = self._map(share, parts)
        for replica in self.replicas[1:len(parts)]:
            for mine, theirs in zip(self.network.layers, replica.layers):
                for key, grad in mine.grads.items():
                    grad += theirs.grads[key]
        self._alive = results[0][2]
        for _, _, alive in results[1:]:
            for name, units in alive.items():
                self._alive[name] |= units
        loss = sum(r[0] for r in results) / n
        return loss, np.concatenate([chunk for r in results for chunk in r[1]])

    def predict_logits(self, images, chunk=CHUNK):
        """Logits ``(N, 10)`` for any number of images, chunks spread over the threads."""
        pieces = [slice(s, s + chunk) for s in range(0, len(images), chunk)]
        if not pieces:
            return self.network.predict_logits(images)
        out = []
        for first in range(0, len(pieces), self.workers):
            out += self._map(lambda replica, part: replica.forward(images[part]).copy(),
                             pieces[first:first + self.workers])
        return np.concatenate(out)

    def dead_relu_fractions(self):
        """Fraction of ReLU units inactive for every sample of the last batch, per layer."""
        return {name: float(1.0 - alive.mean()) for name, alive in self._alive.items()}
