"""Soak: train 20 epochs in the real app while a script draws and explains without pause.

Opens the main window offscreen with the shipped model, starts training on the
bundled sample from fresh weights, and keeps drawing digits on the Draw &
Explain canvas (pen moves every 16 ms, all methods cycling) until the run ends.
It reports:

- resident memory at the end of every epoch, and its growth after epoch 1
  (target: under 50 MB);
- errors: Python exceptions reaching the event loop, log records at ERROR level
  and Qt critical/fatal messages (target: 0);
- event-loop responsiveness: how late a 10 ms QTimer probe fires (p50, p99).

Run ``python bench/soak.py`` (``--epochs N``, ``--json``).
"""
import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py (cli/__init__.py) does
os.environ.setdefault("EXPLAINABLE_CNN_DATA", tempfile.mkdtemp(prefix="ecnn-soak-"))
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QPoint, Qt, QTimer, QtMsgType, qInstallMessageHandler  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from canvas_latency import digit_paths  # noqa: E402

PROBE_MS = 10


def resident_mb():
    """This process's resident memory in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


class ErrorCounter(logging.Handler):
    """Counts every way an error can surface in the app without killing it."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []
        logging.getLogger().addHandler(self)
        sys.excepthook = lambda kind, value, tb: self.messages.append(f"{kind.__name__}: {value}")
        qInstallMessageHandler(self._qt_message)

    def emit(self, record):
        self.messages.append(record.getMessage())

    def _qt_message(self, kind, context, message):
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            self.messages.append(f"Qt: {message}")


class Probe:
    """A 10 ms timer that records how late every tick is."""

    def __init__(self):
        self.clock = QElapsedTimer()
        self.late_ms = []
        self.timer = QTimer()
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)
        self.clock.start()
        self._last = 0
        self.timer.start()

    def _tick(self):
        now = self.clock.elapsed()
        if self._last:
            self.late_ms.append(max(0, now - self._last - PROBE_MS))
        self._last = now


def draw_forever(app, window, paths, methods, should_stop):
    """Draw digit after digit, switching the explanation method, until ``should_stop()``."""
    place = window.draw_place
    canvas, selector = place.canvas, place.method_panel.method
    strokes = 0
    while not should_stop():
        for stroke in paths:
            canvas.clear()
            points = [QPoint(round(x), round(y)) for x, y in stroke]
            QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
            for point in points[1:]:
                QTest.mouseMove(canvas, point)
                end = time.perf_counter() + 0.016
                while time.perf_counter() < end:
                    app.processEvents()
            QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])
            selector.setCurrentIndex((strokes + 1) % len(methods))
            strokes += 1
            if should_stop():
                break
    return strokes


def run(epochs):
    app = QApplication.instance() or QApplication([])
    errors = ErrorCounter()
    from gui.main_window import MainWindow
    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    window.tabs.setCurrentWidget(window.draw_place)
    probe = Probe()
    memory = []
    window.controller.epoch_finished.connect(lambda *_: memory.append(round(resident_mb(), 1)))
    window.train_page.buttons.actions["reset"].trigger()
    window.train_page.settings.fields["epochs"].setValue(epochs)
    window.train_page.buttons.actions["start"].trigger()
    methods = [window.draw_place.method_panel.method.itemText(i)
               for i in range(window.draw_place.method_panel.method.count())]
    paths = digit_paths(min(window.draw_place.canvas.width(), window.draw_place.canvas.height()))
    started = time.perf_counter()
    strokes = draw_forever(app, window, paths, methods,
                           lambda: len(memory) >= epochs or window.controller.state == "idle"
                           and time.perf_counter() - started > 5)
    seconds = time.perf_counter() - started
    window.close()
    late = np.array(probe.late_ms or [0])
    return {
        "epochs": len(memory), "seconds": round(seconds, 1), "strokes_drawn": strokes,
        "rss_mb_per_epoch": memory,
        "rss_growth_after_epoch_1_mb": round(max(memory[1:] or [memory[0]]) - memory[0], 1)
        if memory else None,
        "errors": len(errors.messages), "error_messages": errors.messages[:10],
        "probe_late_p50_ms": float(np.percentile(late, 50)),
        "probe_late_p99_ms": float(np.percentile(late, 99)),
        "probe_late_max_ms": float(late.max()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.epochs)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
