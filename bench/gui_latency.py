"""How responsive is the app while it trains?  Event-loop latency of the real window.

Opens the real main window offscreen (shipped model), trains a few epochs on
the bundled sample, and meanwhile fires a 10 ms QTimer: how late each tick
arrives is the time the GUI thread was busy or starved.  It also counts the
worker's reports sent (in the worker thread) and handled (in the GUI thread):
their difference is the backlog in the event queue, which must not grow.
Last, it closes the window mid-run and times how long the thread takes to end.

Run ``python bench/gui_latency.py`` (``--json`` for one JSON object).
Targets (issue 5): p99 latency under 50 ms, no growth of the backlog, close < 2 s.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py (cli/__init__.py) does
os.environ.setdefault("EXPLAINABLE_CNN_DATA", tempfile.mkdtemp(prefix="ecnn-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

PROBE_MS = 10
REPORTS = ("batches_trained", "kernels_changed", "model_changed", "epoch_finished")


class Probe:
    """A 10 ms timer that records how late every tick is, and the report backlog."""

    def __init__(self, worker, controller):
        self.clock = QElapsedTimer()
        self.late_ms, self.backlog = [], []
        self.sent = self.handled = 0
        self.timer = QTimer(timerType=Qt.TimerType.PreciseTimer, interval=PROBE_MS)
        self.timer.timeout.connect(self._tick)
        for name in REPORTS:
            # Direct: counted in the worker thread the moment the report is sent.
            getattr(worker, name).connect(self._sent, Qt.ConnectionType.DirectConnection)
        controller.batches_trained.connect(self._handled)
        controller.kernels_changed.connect(self._handled)
        controller.epoch_finished.connect(self._handled)
        worker.model_changed.connect(self._handled)

    def _sent(self, *args):
        self.sent += 1     # an int add under the GIL: safe from another thread

    def _handled(self, *args):
        self.handled += 1

    def start(self):
        """Start ticking."""
        self.clock.start()
        self._last = 0
        self.timer.start()

    def _tick(self):
        now = self.clock.nsecsElapsed() / 1e6
        self.late_ms.append(max(now - self._last - PROBE_MS, 0.0))
        self._last = now
        # Controller forwards kernel frames and epochs twice (to it and from it); count once.
        self.backlog.append(self.sent - self.handled)

    def stop(self):
        """Stop ticking."""
        self.timer.stop()


def configure(window, args):
    """Type the run's size into the settings form."""
    fields = window.train_page.settings.fields
    fields["epochs"].setValue(args.epochs)
    fields["train_size"].setValue(args.train_size)
    fields["batch_size"].setValue(args.batch_size)


def run(args):
    """Open the window, train, measure; return the figures as a dict."""
    app = QApplication.instance() or QApplication([])
    opened = time.perf_counter()
    from gui.main_window import MainWindow
    window = MainWindow()
    window.show()
    app.processEvents()
    open_seconds = time.perf_counter() - opened
    configure(window, args)
    controller = window.controller
    probe = Probe(controller._worker, controller)
    batches = []
    controller.batches_trained.connect(lambda chunk: batches.append(len(chunk)))
    probe.start()
    started = time.perf_counter()
    loop = QEventLoop()
    controller.run_ended.connect(loop.quit)
    window.train_page.buttons.actions["start"].trigger()
    loop.exec()   # the app's own event loop, as a person would run it
    train_seconds = time.perf_counter() - started
    probe.stop()
    close_seconds = close_while_training(app, window)
    late = np.array(probe.late_ms)
    backlog = np.array(probe.backlog)
    quarter = max(len(backlog) // 4, 1)
    return {
        "open_seconds": round(open_seconds, 3),
        "train_seconds": round(train_seconds, 2),
        "epochs": args.epochs, "train_size": args.train_size, "batch_size": args.batch_size,
        "batches": int(sum(batches)), "batch_reports": len(batches),
        "probe_ticks": int(late.size),
        "latency_ms_p50": round(float(np.percentile(late, 50)), 2),
        "latency_ms_p99": round(float(np.percentile(late, 99)), 2),
        "latency_ms_max": round(float(late.max()), 2),
        "backlog_max": int(backlog.max()),
        "backlog_mean_first_quarter": round(float(backlog[:quarter].mean()), 2),
        "backlog_mean_last_quarter": round(float(backlog[-quarter:].mean()), 2),
        "close_seconds": round(close_seconds, 3),
    }


def close_while_training(app, window):
    """Start again with more epochs, close mid-run, time until the thread has ended."""
    window.train_page.settings.fields["epochs"].setValue(1000)
    window.train_page.buttons.actions["start"].trigger()
    deadline = time.perf_counter() + 60
    while window.train_page.progress.batches_seen == 0 and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    started = time.perf_counter()
    window.close()
    assert window.controller._thread.isFinished()
    return time.perf_counter() - started


def main(argv=None):
    """Parse the options, run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"opened in {result['open_seconds']} s; trained {result['batches']} batches "
              f"({result['epochs']} epochs of {result['train_size']}) in {result['train_seconds']} s, "
              f"sent in {result['batch_reports']} reports")
        print(f"event-loop latency over {result['probe_ticks']} ticks of {PROBE_MS} ms: "
              f"p50 {result['latency_ms_p50']} ms, p99 {result['latency_ms_p99']} ms, "
              f"max {result['latency_ms_max']} ms")
        print(f"reports waiting in the queue: max {result['backlog_max']}, mean "
              f"{result['backlog_mean_first_quarter']} in the first quarter, "
              f"{result['backlog_mean_last_quarter']} in the last")
        print(f"closing during training took {result['close_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
