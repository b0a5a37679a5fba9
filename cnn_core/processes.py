"""Shares of a training batch run in worker processes, each with its own interpreter lock.

NumPy releases the GIL inside its large operations, so threads already run
side by side; but a training chunk is a few hundred small operations, and
between them every thread needs the lock.  A worker process holds a copy
of the network whose parameters, and its gradient buffers, live in memory
shared with the parent, so each step sends only the share's images and labels down a
socket, and the gradients come back without a copy.

A worker is a plain ``python -m cnn_core.processes`` child rather than a
``multiprocessing`` one: ``spawn`` would run the parent's main script again
in every worker, which no caller of a library should have to guard against.
It runs in a session of its own, so a Ctrl+C in the terminal reaches only
the parent, and it ends when the parent's end of the socket closes.  POSIX
only (the socket is passed as an inherited file descriptor); elsewhere
:func:`available` is false and training uses threads.
"""
import mmap
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from .layers import Workspace
from .network import Network
from .share import run_share

_ALIGN = 64                 # each array starts on a cache line


class WorkerLost(RuntimeError):
    """A worker process could not be started, or ended without answering."""


def available():
    """Whether worker processes can be used on this platform."""
    return os.name == "posix" and hasattr(socket, "socketpair")


class SharedArrays:
    """Named arrays laid out in one memory-mapped file, which both processes map.

    The parent creates the file (in ``/dev/shm`` where there is one, so it
    lives in memory) and removes its name once the worker has mapped it.

    Parameters
    ----------
    layout : list of (str, tuple)
        Each array's name and shape, in order.
    dtype : numpy dtype
    path : str or None
        Map an existing file (the worker) instead of creating one.
    """

    def __init__(self, layout, dtype, path=None):
        self.layout = [(key, tuple(shape)) for key, shape in layout]
        self.dtype = np.dtype(dtype)
        offsets, size = [], 0
        for _, shape in self.layout:
            offsets.append(size)
            size += -(-int(np.prod(shape)) * self.dtype.itemsize // _ALIGN) * _ALIGN
        size = max(size, _ALIGN)
        if path is None:
            folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
            descriptor, path = tempfile.mkstemp(prefix="ecnn-share-", dir=folder)
            try:
                os.ftruncate(descriptor, size)
                self._map = mmap.mmap(descriptor, size)
            finally:
                os.close(descriptor)
        else:
            with open(path, "r+b") as file:
                self._map = mmap.mmap(file.fileno(), size)
        self.path = path
        self.arrays = {key: np.ndarray(shape, self.dtype, self._map, offset)
                       for (key, shape), offset in zip(self.layout, offsets)}

    def unlink(self):
        """Remove the file's name (the mappings stay valid); idempotent."""
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None

    def close(self):
        """Unmap (the arrays must not be used afterwards); idempotent."""
        self.arrays = {}
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:         # someone still holds a view: leave it to the GC
                pass
            self._map = None


def _serve(connection):
    """A worker's life: set up its network on the shared parameters, then run shares
    until told to stop."""
    architecture, layout, dtype, params_path, grads_path = connection.recv()
    params = SharedArrays(layout, dtype, params_path)
    grads = SharedArrays(layout, dtype, grads_path)
    network, workspace = Network(architecture), Workspace()
    for layer in network.layers:
        for key in layer.params:
            layer.params[key] = params.arrays[f"{layer.name}.{key}"]
    connection.send("ready")
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            break                       # the parent has gone
        if job is None:
            break
        try:
            images, labels, batch_size, track_alive = job
            answer = ("done", run_share(network, images, labels, batch_size, grads.arrays,
                                        workspace, track_alive))
        except Exception as exc:        # reported to the parent, which raises it
            answer = ("failed", f"{type(exc).__name__}: {exc}")
        try:
            connection.send(answer)
        except OSError:
            break


class ShareProcesses:
    """``count`` worker processes, each training ``network``'s architecture on a share.

    The parameters are published once per step into one shared block that
    every worker reads; each worker writes its gradients into a block of its
    own.

    Raises
    ------
    WorkerLost
        A worker could not be started (within ``timeout`` seconds).
    """

    def __init__(self, network, count, timeout=60.0):
        layout = [(name, value.shape) for name, value in network.named_params()]
        dtype = network.dtype
        self.params = SharedArrays(layout, dtype)
        self.grads, self._connections, self._processes = [], [], []
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        try:
            for _ in range(count):
                grads = SharedArrays(layout, dtype)
                self.grads.append(grads)
                mine, theirs = socket.socketpair()
                try:
                    process = subprocess.Popen(
                        [sys.executable, "-m", "cnn_core.processes", str(theirs.fileno())],
                        pass_fds=(theirs.fileno(),), env=env, start_new_session=True,
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
                finally:
                    theirs.close()
                self._processes.append(process)
                connection = Connection(mine.detach())
                self._connections.append(connection)
                connection.send((network.architecture, layout, dtype.str,
                                 self.params.path, grads.path))
            for index in range(count):
                self._answer(index, timeout)        # "ready": the files are mapped
        except Exception as exc:
            self.close()
            if isinstance(exc, WorkerLost):
                raise
            raise WorkerLost(f"could not start a training process: {exc}") from exc
        finally:
            for block in self.grads + [self.params]:
                block.unlink()                      # nothing is left behind, whatever happens

    def __len__(self):
        return len(self._processes)

    def publish(self, network):
        """Copy ``network``'s parameters where the workers read them."""
        for name, value in network.named_params():
            self.params.arrays[name][...] = value

    def submit(self, index, images, labels, batch_size, track_alive):
        """Start worker ``index`` on a share: ``images (n, 1, 28, 28)``, ``labels (n,)``
        (see :func:`~cnn_core.share.run_share`)."""
        try:
            self._connections[index].send((images, labels, batch_size, track_alive))
        except OSError as exc:
            raise WorkerLost("a training process has stopped") from exc

    def result(self, index):
        """Wait for worker ``index``: its share's ``(loss sum, logits chunks, alive)``;
        its gradients are then in ``self.grads[index].arrays``."""
        status, value = self._answer(index)
        if status == "failed":
            raise RuntimeError(value)
        return value

    def _answer(self, index, timeout=None):
        connection, process = self._connections[index], self._processes[index]
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # Wait in slices, so that a worker that died is noticed.
            while not connection.poll(0.5):
                if process.poll() is not None:
                    raise WorkerLost("a training process ended unexpectedly")
                if deadline is not None and time.monotonic() > deadline:
                    raise WorkerLost("a training process did not start in time")
            return connection.recv()
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise WorkerLost("a training process ended unexpectedly") from exc

    def close(self):
        """Stop the workers and release the shared memory; idempotent."""
        for connection in self._connections:
            connection.close()              # a worker ends when its socket closes
        for process in self._processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for block in self.grads + [self.params]:
            block.unlink()
            block.close()
        self._connections, self._processes, self.grads = [], [], []


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
