"""Data parallelism: split a batch, run the pieces at once, add up the gradients.

Each worker runs its passes on the one network, with its own scratch memory
(a :class:`~cnn_core.layers.Workspace`) and gradient buffers.  With
single-threaded BLAS (``OPENBLAS_NUM_THREADS=1``, which ``main.py`` sets)
this beats one multi-threaded BLAS call per layer, because the im2col
copies, pooling and ReLUs run in parallel too.  Training steps put the extra workers in
processes (:mod:`cnn_core.processes`), which do not wait for each other's
interpreter lock; predictions, which need no gradients, use threads (NumPy
releases the lock inside BLAS calls and large array operations).  The split
and the order of summation are fixed, so results are bit-for-bit repeatable,
and the same with processes as with threads.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .layers import Workspace
from .network import CHUNK
from .processes import ShareProcesses, WorkerLost, available
from .share import run_share

_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def default_workers():
    """How many Python threads to train with, without oversubscribing the cores.

    All cores when BLAS was told to use one thread (``main.py`` does that);
    otherwise one, since multi-threaded BLAS already uses every core.
    """
    single_blas = any(os.environ.get(name) == "1" for name in _BLAS_THREAD_VARIABLES)
    return max(1, os.cpu_count() or 1) if single_blas else 1


class DataParallel:
    """Run forward and backward passes of ``network`` on ``workers`` workers.

    The gradients of the last training step are in :attr:`grads`, by
    ``state_dict`` name, for the optimizer.

    Parameters
    ----------
    network : Network
    workers : int or None
        How many shares a batch is split into (default: :func:`default_workers`).
    processes : bool
        Train the extra shares in worker processes (POSIX), started at the
        first training step; if one cannot start or dies, the step is redone
        on threads, and threads are used from then on.
    track_alive : bool
        Keep count of the ReLU units that fire, for :meth:`dead_relu_fractions`.
    """

    def __init__(self, network, workers=None, processes=True, track_alive=True):
        self.network = network
        self.track_alive = track_alive
        self.workers = max(1, workers or default_workers())
        self.processes = processes and available()
        #: The batch's gradients (the first share's, then the others added).
        self.grads = network.gradient_buffers()
        self._grads = [self.grads] + [network.gradient_buffers() for _ in range(self.workers - 1)]
        self._workspaces = [Workspace() for _ in range(self.workers)]
        self._pool = ThreadPoolExecutor(self.workers - 1) if self.workers > 1 else None
        self._processes = None  # ShareProcesses, once a training step needs them
        self._alive = {}        # ReLU name -> units that fired in the last training batch

    def close(self):
        """Let the worker threads and processes end (idempotent)."""
        self._stop_processes()
        if self._pool:
            self._pool.shutdown(wait=True)
            self._pool = None

    @property
    def executor(self):
        """The thread pool (``None`` with one worker), idle between passes: lend it to
        :meth:`SGD.step <cnn_core.optimizers.SGD.step>`."""
        return self._pool

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _map(self, function, pieces):
        """``function(worker, piece)`` for up to ``workers`` pieces, ``worker`` the index of
        the worker's buffers; the first runs here."""
        if self._pool is None or len(pieces) == 1:
            return [function(0, piece) for piece in pieces]
        futures = [self._pool.submit(function, worker, piece)
                   for worker, piece in enumerate(pieces[1:], 1)]
        return [function(0, pieces[0])] + [f.result() for f in futures]

    def _split(self, n):
        count = min(self.workers, n)
        bounds = np.linspace(0, n, count + 1).astype(int)
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def train_step(self, images, labels):
        """Forward and backward on a batch; gradients summed into :attr:`grads`.

        Each worker takes a contiguous share of the batch and runs it in chunks
        of at most :data:`CHUNK` images (see :func:`~cnn_core.share.run_share`); the first
        share runs on this thread, the others in worker processes (or threads).

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
        parts = self._split(n)
        results = None
        if self.processes and len(parts) > 1:
            try:
                results = self._step_in_processes(images, labels, parts)
            except WorkerLost:
                # Lose nothing: stop the processes, redo the step on threads.
                self._stop_processes()
                self.processes = False
        if results is None:
            results = self._map(lambda worker, part: run_share(
                self.network, images[part], labels[part], n, self._grads[worker],
                self._workspaces[worker], self.track_alive), parts)
            self._add_gradients(self._grads[1:len(parts)])
        self._alive = results[0][2]
        for _, _, alive in results[1:]:
            for name, units in alive.items():
                self._alive[name] |= units
        loss = sum(r[0] for r in results) / n
        return loss, np.concatenate([chunk for r in results for chunk in r[1]])

    def _add_gradients(self, others):
        """Add each of ``others`` (``state_dict`` name -> gradient array) to
        :attr:`grads`, in a fixed order so that results repeat exactly."""
        for theirs in others:
            for name, grad in self.grads.items():
                grad += theirs[name]

    def _step_in_processes(self, images, labels, parts):
        if self._processes is None:
            self._processes = ShareProcesses(self.network, self.workers - 1)
        workers = self._processes
        workers.publish(self.network)
        n = len(labels)
        for index, part in enumerate(parts[1:]):
            workers.submit(index, images[part], labels[part], n, self.track_alive)
        results = [run_share(self.network, images[parts[0]], labels[parts[0]], n, self.grads,
                             self._workspaces[0], self.track_alive)]
        results += [workers.result(index) for index in range(len(parts) - 1)]
        self._add_gradients([workers.grads[index].arrays for index in range(len(parts) - 1)])
        return results

    def _stop_processes(self):
        if self._processes is not None:
            self._processes.close()
            self._processes = None

    def predict_logits(self, images, chunk=CHUNK):
        """Logits ``(N, 10)`` for any number of images, chunks spread over the threads."""
        pieces = [slice(s, s + chunk) for s in range(0, len(images), chunk)]
        if not pieces:
            return self.network.predict_logits(images)
        out = []
        for first in range(0, len(pieces), self.workers):
            out += self._map(lambda worker, part: self.network.forward(
                images[part], workspace=self._workspaces[worker]).logits,
                pieces[first:first + self.workers])
        return np.concatenate(out)

    def dead_relu_fractions(self):
        """Fraction of ReLU units inactive for every sample of the last batch, per layer
        (empty unless ``track_alive``)."""
        return {name: float(1.0 - alive.mean()) for name, alive in self._alive.items()}
