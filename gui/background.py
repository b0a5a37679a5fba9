"""Costly work off the GUI thread, where the latest request wins.

A :class:`BackgroundRunner` owns one QThread and one worker QObject (no
parent, moved to the thread; see docs/architecture.md, "Threads and
processes").  Work is submitted by kind ("map", "features", ...): a new request of a kind replaces the one still
waiting, so a person who draws fast never builds a backlog; at most one job
runs and one waits per kind.  Jobs are plain callables that own their data
(frozen copies), so nothing is shared with the GUI thread but the queue.
"""
import logging
import threading
import time
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


class _Worker(QObject):
    """Runs the waiting jobs, most urgent kind first, until none is left."""

    done = Signal(str, int, object)        # kind, ticket, result
    failed = Signal(str, int, str)         # kind, ticket, one-line message

    def __init__(self, kinds):
        super().__init__()
        self._kinds = list(kinds)
        self._lock = threading.Lock()
        self._waiting = {}                  # kind -> (ticket, job)
        self._stopping = False

    def put(self, kind, ticket, job):
        """Replace the waiting job of ``kind``; True if the worker must be woken."""
        with self._lock:
            wake = not self._waiting and not self._stopping
            self._waiting[kind] = (ticket, job)
        return wake

    def discard(self, kind):
        """Drop the waiting job of ``kind``, if there is one."""
        with self._lock:
            self._waiting.pop(kind, None)

    def stop(self):
        """Drop the waiting jobs and run no more (the running one finishes)."""
        with self._lock:
            self._stopping = True
            self._waiting.clear()

    def _next(self):
        with self._lock:
            for kind in self._kinds:
                if kind in self._waiting:
                    return kind, *self._waiting.pop(kind)
        return None

    @Slot()
    def drain(self):
        """Run jobs until nothing waits; each reports ``done`` or ``failed``."""
        while (item := self._next()) is not None:
            kind, ticket, job = item
            try:
                result = job()
            except Exception as exc:  # noqa: BLE001 - report it; the worker must live on
                log.error("%s job failed:\n%s", kind, traceback.format_exc())
                self.failed.emit(kind, ticket, f"{type(exc).__name__}: {exc}")
            else:
                self.done.emit(kind, ticket, result)


class BackgroundRunner(QObject):
    """A worker thread with one waiting slot per kind of job.

    Parameters
    ----------
    name : str
        The thread's name (shown by debuggers).
    kinds : sequence of str
        The kinds of job, most urgent first.

    Signals
    -------
    finished(str, int, object) : ``(kind, ticket, result)`` in the GUI thread.
    failed(str, int, str) : ``(kind, ticket, message)`` when a job raised.
    """

    finished = Signal(str, int, object)
    failed = Signal(str, int, str)
    _wake = Signal()

    def __init__(self, name, kinds, parent=None):
        super().__init__(parent)
        self._ticket = 0
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = _Worker(kinds)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.drain)
        self._worker.done.connect(self.finished)
        self._worker.failed.connect(self.failed)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()

    def submit(self, kind, job):
        """Queue ``job()`` as the next of its kind; returns its ticket (increasing)."""
        self._ticket += 1
        if self._worker.put(kind, self._ticket, job):
            self._wake.emit()
        return self._ticket

    def discard(self, kind):
        """Drop the job of ``kind`` still waiting, if any (a running one goes on: a job
        that can stop early watches a flag of its own)."""
        self._worker.discard(kind)

    def shutdown(self):
        """Drop waiting jobs, let the running one finish, end the thread; returns seconds."""
        started = time.perf_counter()
        self._worker.stop()
        self._thread.quit()
        self._thread.wait()
        return time.perf_counter() - started
