"""How long from a pen move on the canvas to the new prediction and Grad-CAM on screen?

Opens the real main window offscreen (shipped model) on the Draw & Explain
place and draws digits on the real canvas with QTest mouse events, a move
every 16 ms at most (a 60 Hz pen).  For every move it times, from just
before the event is sent, until the probability bars and the conv4 Grad-CAM
have been *painted* with an analysis that includes that move; then the same
with the "Inside the network" tab on show, until the network view's first
and last columns are painted.  It does this twice: with the app idle, and
while the Train place trains in its thread.  Last, the step-by-step
convolution of conv4 (the most input channels) is animated: the frames per
second the Play timer gets, and the most one step could get.

Run ``python bench/canvas_latency.py`` (``--json`` for one JSON object).
Targets (issues 6 and 17): median under 30 ms and p99 under 100 ms, both
conditions and both views; the animation at 30 frames per second or more.
"""
import argparse
import json
import math
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
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

PEN_INTERVAL = 0.016     # seconds between moves: a 60 Hz pen
TIMEOUT = 5.0            # seconds to wait for one update before calling it lost


class PaintClock:
    """Records when chosen graphics items were last painted (class-level hooks)."""

    def __init__(self):
        self.painted = {}
        for cls in (pg.ImageItem, pg.BarGraphItem):    # ClickableImage is an ImageItem
            original = cls.paint

            def paint(item, *args, _original=original):
                _original(item, *args)
                self.painted[id(item)] = time.perf_counter()
            cls.paint = paint

    def since(self, item, moment):
        """Whether ``item`` was painted after ``moment``."""
        return self.painted.get(id(item), 0.0) > moment


def digit_paths(side):
    """Strokes of a 0, a 1 and a 7 in widget pixels, points a few pixels apart."""
    centre, radius = side / 2, side * 0.3
    zero = [(centre + radius * 0.7 * math.sin(t), centre - radius * math.cos(t))
            for t in np.linspace(0, 2 * math.pi, 70)]
    one = [(centre + 8 * f, side * 0.18 + side * 0.64 * f) for f in np.linspace(0, 1, 50)]
    seven = [(side * 0.3 + side * 0.4 * f, side * 0.2) for f in np.linspace(0, 1, 30)] + \
            [(side * 0.7 - side * 0.25 * f, side * 0.2 + side * 0.6 * f)
             for f in np.linspace(0, 1, 50)]
    return [zero, one, seven]


def explain_items(place):
    """The items a move must repaint on the Explain tab: probabilities and conv4's CAM."""
    place.views.setCurrentIndex(0)
    return place.prediction.bars, place.cam_strip.images[place.cam_strip.names[-1]]


def network_items(place):
    """The items a move must repaint on the network tab: its first and last columns."""
    place.views.setCurrentWidget(place.network_panel)
    view = place.network_panel.view
    return view.items[view.columns[0].name].values, view.items[view.columns[-1].name].values


def draw_and_time(app, place, clock, strokes, items):
    """Draw ``strokes`` on the canvas; the latency of every move in milliseconds, until
    both ``items`` (graphics items) are painted with its analysis."""
    canvas, controller = place.canvas, place.controller
    first, last = items
    analysed, changed = [], []
    controller.analysed.connect(lambda *_: analysed.append(time.perf_counter()))
    canvas.changed.connect(lambda: changed.append(time.perf_counter()))
    latencies, lost = [], 0
    for stroke in strokes:
        canvas.clear()
        points = [QPoint(round(x), round(y)) for x, y in stroke]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
        for point in points[1:]:
            sent = time.perf_counter()
            QTest.mouseMove(canvas, point)
            if not changed or changed[-1] < sent:
                continue        # too small a move to change the ink: nothing to wait for
            deadline = sent + TIMEOUT
            while not (analysed and analysed[-1] > sent and clock.since(first, analysed[-1])
                       and clock.since(last, analysed[-1])):
                app.processEvents()
                if time.perf_counter() > deadline:
                    lost += 1
                    break
            else:
                latencies.append(1000 * (max(clock.painted[id(first)],
                                             clock.painted[id(last)]) - sent))
            while time.perf_counter() - sent < PEN_INTERVAL:
                app.processEvents()
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])
        settle(app, 0.3)      # let the pen-up work (maps, AUCs) run, as between strokes
    return np.array(latencies), lost


def settle(app, seconds):
    """Serve the event loop for a while."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()


def summary(latencies, lost):
    return {"moves": int(latencies.size), "lost": lost,
            "median_ms": round(float(np.median(latencies)), 2),
            "p99_ms": round(float(np.percentile(latencies, 99)), 2),
            "max_ms": round(float(latencies.max()), 2)}


def run(args):
    """Open the window, draw idle and while training; return the figures as a dict."""
    app = QApplication.instance() or QApplication([])
    clock = PaintClock()
    from gui.main_window import MainWindow
    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    window.tabs.setCurrentWidget(window.draw_place)
    settle(app, 2.0)          # start-up work: evaluation, feature visualisation
    place = window.draw_place
    strokes = digit_paths(min(place.canvas.width(), place.canvas.height())) * args.rounds
    result = {}
    for view, items in (("", explain_items), (" network", network_items)):
        result["idle" + view] = summary(*draw_and_time(app, place, clock, strokes,
                                                       items(place)))
    result["animation idle"] = animation_rates(app, place.network_panel)
    fields = window.train_page.settings.fields
    fields["epochs"].setValue(1000)
    window.train_page.buttons.actions["start"].trigger()
    deadline = time.perf_counter() + 60
    while window.train_page.progress.batches_seen == 0 and time.perf_counter() < deadline:
        app.processEvents()
    for view, items in (("", explain_items), (" network", network_items)):
        result["training" + view] = summary(*draw_and_time(app, place, clock, strokes,
                                                           items(place)))
    result["training network"]["batches_during"] = window.train_page.progress.batches_seen
    result["animation training"] = animation_rates(app, place.network_panel)
    window.close()
    return result


def animation_rates(app, panel, seconds=2.0, steps=60):
    """Frames per second of the conv4 step-by-step animation (the network tab on show).

    ``at_most_fps`` times one step, from the kernel's move to the painted detail,
    the frame rate the work allows; ``playing_fps`` counts the moves the Play
    timer makes (its interval caps it near 30).
    """
    conv = [c.name for c in panel.view.columns if c.kind == "conv"][-1]
    panel.open_detail(conv, (0, 0, 0))
    detail = panel.detail.conv
    settle(app, 0.3)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        detail.slider.step()
        detail.canvas.repaint()         # paint now, as the next frame would
        app.processEvents()
        times.append(time.perf_counter() - start)
    moves = []
    detail.slider.moved.connect(lambda *_: moves.append(time.perf_counter()))
    detail.play_button.click()
    settle(app, seconds)
    detail.play_button.click()
    panel.close_detail()
    return {"playing_fps": round(len(moves) / seconds, 1),
            "at_most_fps": round(1 / float(np.median(times)), 1),
            "step_median_ms": round(1000 * float(np.median(times)), 2)}


def main(argv=None):
    """Parse the options, run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="times to draw 0, 1 and 7")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        animations = {name: result.pop(name) for name in list(result)
                      if name.startswith("animation")}
        for name, figures in result.items():
            print(f"{name:>16}: {figures['moves']} moves, median {figures['median_ms']} ms, "
                  f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms"
                  + (f", {figures['lost']} lost" if figures["lost"] else ""))
        for name, rates in animations.items():
            print(f"{name:>18}: {rates['playing_fps']} frames/s playing, one step "
                  f"{rates['step_median_ms']} ms ({rates['at_most_fps']} frames/s at most)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
