"""Download full MNIST in a background thread, with progress and cancel.

Same pattern as the training worker: a parentless QObject moved to a QThread.
Cancelling is a ``threading.Event`` the download polls before every chunk,
read directly from the GUI thread rather than sent as a queued signal.
"""
import threading
import time

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cnn_core.download import DownloadCancelled, download_mnist
from cnn_core.errors import UserError

PROGRESS_INTERVAL = 0.1   # seconds between progress reports (<= 10 per second)
# Seconds to wait for a stalled mirror; short, so closing the app is never held up long.
SOCKET_TIMEOUT = 5


class _DownloadJob(QObject):
    """Runs :func:`cnn_core.download.download_mnist` in the download thread."""

    progress = Signal(str, int, int)    # file name, bytes done, bytes total (0 if unknown)
    finished = Signal(bool, str)        # success, message

    def __init__(self, cancel_event, mirrors):
        super().__init__()
        self._cancel = cancel_event
        self._mirrors = mirrors
        self._last_report = 0.0

    @Slot()
    def run(self):
        """Download every missing file; emit ``finished`` with the outcome."""
        try:
            folder = download_mnist(mirrors=self._mirrors, progress=self._report,
                                    should_cancel=self._cancel.is_set, timeout=SOCKET_TIMEOUT)
        except DownloadCancelled:
            self.finished.emit(False, "Download cancelled; the bundled sample still works.")
        except UserError as exc:
            self.finished.emit(False, str(exc))
        else:
            self.finished.emit(True, f"Full MNIST is ready (cached in {folder}).")

    def _report(self, name, done, total):
        now = time.perf_counter()
        if now - self._last_report >= PROGRESS_INTERVAL or (total and done >= total):
            self._last_report = now
            self.progress.emit(name, done, total or 0)


class MnistDownloader(QObject):
    """Start, cancel and wait for one MNIST download at a time.

    Parameters
    ----------
    mirrors : sequence of str, optional
        Base URLs to try (tests point this at an address that refuses); default
        :func:`cnn_core.download.configured_mirrors`.

    Signals
    -------
    progress(str, int, int) : file name, bytes done, bytes total (0 if unknown).
    finished(bool, str) : whether MNIST is now complete, and a one-line message.
    """

    progress = Signal(str, int, int)
    finished = Signal(bool, str)

    def __init__(self, mirrors=None, parent=None):
        super().__init__(parent)
        self.mirrors = mirrors
        self._thread = None
        self._job = None
        self._cancel = threading.Event()

    @property
    def busy(self):
        """Whether a download thread is running."""
        return self._thread is not None

    def start(self):
        """Start downloading in a new thread (ignored while one runs)."""
        if self.busy:
            return
        self._cancel.clear()
        self._thread = QThread()
        self._thread.setObjectName("mnist-download")
        self._job = _DownloadJob(self._cancel, self.mirrors)
        self._job.moveToThread(self._thread)
        self._thread.started.connect(self._job.run)
        self._thread.finished.connect(self._job.deleteLater)
        self._job.progress.connect(self.progress)
        self._job.finished.connect(self._on_finished)
        self._thread.start()

    def cancel(self):
        """Ask the download to stop before its next chunk; nothing partial is kept."""
        self._cancel.set()

    def shutdown(self, timeout=2.0):
        """Cancel a running download and wait for its thread to end."""
        if not self.busy:
            return
        self.cancel()
        self._thread.quit()
        if not self._thread.wait(int(timeout * 1000)):
            self._thread.wait()  # a read blocked in the socket ends within SOCKET_TIMEOUT
        self._release()

    def _on_finished(self, ok, message):
        if self._thread is None:  # arrived after shutdown() already cleaned up
            return
        self._thread.quit()
        self._thread.wait()
        self._release()
        self.finished.emit(ok, message)

    def _release(self):
        self._thread.deleteLater()
        self._thread, self._job = None, None
