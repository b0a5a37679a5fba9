"""How long does opening the backward view of an image take, until it is painted?

The backward view (gui/network/backward_view.py) shown offscreen at 820×620,
as in the Draw & Explain tab at 1280×720, with the shipped model.  For each of
``--images`` validation images (a different one each time, the loss taken
for its true label) it times, side by side, from the call until the view's
first and last columns have been painted (the event loop served meanwhile):

- ``flow``: :func:`cnn_core.gradient_flow.gradient_flow` alone (no painting);
- ``open``: ``BackwardView.show_pass``, the model record the same as before
  (a drawing or a label changed);
- ``open_new_model``: the previous image with a new ModelRecord (the view
  builds the record's network first: a training step's model);
- ``network_view``: the forward "Inside the network" view of the same image
  (``Explainer.analyse`` and ``NetworkView.show_pass``), the reference the
  other figures are divided by, since the machine's load moves them all.

With the machine shared, wall time says little: each ``*_cpu`` figure is the
process's CPU time over the same interval (all of the work runs in this
process's GUI thread), what the wall time would be on an idle core.

The very first show, which also builds the columns, is reported on its own.

Run ``python bench/backward_view.py`` (``--json`` for one JSON object).
Target (issue 18): median ``open`` and ``open_new_model`` < 50 ms (on a quiet machine;
under load, their CPU time).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py (cli/__init__.py) does
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6.QtWidgets import QApplication

from canvas_latency import PaintClock  # noqa: E402

TARGET_MS = 50.0
TIMEOUT = 5.0            # seconds to wait for a paint before giving up


def painted_ms(app, clock, view, action, cpu=None):
    """Milliseconds from calling ``action()`` until ``view``'s first and last columns
    (made by the action, the first time) are painted; the process's CPU milliseconds
    meanwhile are appended to ``cpu`` (a list) when given."""
    app.processEvents()             # what earlier steps left to do is not this one's
    start, start_cpu = time.perf_counter(), time.process_time()
    action()
    items = view.items[view.columns[0].name].values, view.items[view.columns[-1].name].values
    while not all(clock.since(item, start) for item in items):
        app.processEvents()
        if time.perf_counter() - start > TIMEOUT:
            raise RuntimeError("the view was not painted")
    if cpu is not None:
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return (max(clock.painted[id(item)] for item in items) - start) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    clock = PaintClock()

    from cnn_core import paths
    from cnn_core.data import load_sample
    from cnn_core.explain import Explainer
    from cnn_core.gradient_flow import gradient_flow
    from cnn_core.model_files import load_model
    from cnn_core.model_record import ModelRecord
    from gui.network.backward_view import BackwardView
    from gui.network.view import NetworkView
    from gui.style import configure_pyqtgraph

    configure_pyqtgraph()
    network, _ = load_model(paths.SHIPPED_MODEL)
    state = network.state_dict()
    record = ModelRecord.of(network.architecture, state, "shipped")
    explainer = Explainer(network)
    validation = load_sample()[1]
    images = validation.images[:args.images + 1].astype(np.float32) / 255.0
    labels = [int(label) for label in validation.labels[:args.images + 1]]

    backward, forward = BackwardView(), NetworkView()
    for view, height in ((backward, 620), (forward, 560)):
        view.resize(820, height)
        view.show()

    def show_forward(index):
        analysis = explainer.analyse(images[index])
        forward.show_pass(network.architecture, images[index], analysis.activations,
                          analysis.probabilities)

    first = painted_ms(app, clock, backward.maps,
                       lambda: backward.show_pass(record, images[0], labels[0]))
    show_forward(0)
    times = {"flow": [], "open": [], "open_new_model": [], "network_view": [], "open_cpu": [],
             "open_new_model_cpu": [], "network_view_cpu": []}
    for index in range(1, args.images + 1):
        image, label = images[index], labels[index]
        start = time.perf_counter()
        gradient_flow(network, image, label)
        times["flow"].append((time.perf_counter() - start) * 1e3)
        times["open"].append(painted_ms(app, clock, backward.maps,
                                        lambda: backward.show_pass(record, image, label),
                                        times["open_cpu"]))
        fresh = ModelRecord.of(network.architecture, state, "a step's model")
        other, other_label = images[index - 1], labels[index - 1]   # not the one on show
        times["open_new_model"].append(painted_ms(
            app, clock, backward.maps, lambda: backward.show_pass(fresh, other, other_label),
            times["open_new_model_cpu"]))
        times["network_view"].append(painted_ms(app, clock, forward,
                                                lambda: show_forward(index),
                                                times["network_view_cpu"]))
    medians = {name: float(np.median(values)) for name, values in times.items()}
    result = {"images": args.images, "first_show_ms": round(first, 1),
              **{f"{name}_median_ms": round(value, 2) for name, value in medians.items()},
              **{f"{name}_p90_ms": round(float(np.percentile(values, 90)), 2)
                 for name, values in times.items()},
              "open_over_network_view": round(medians["open"] / medians["network_view"], 2),
              "target_ms": TARGET_MS,
              "load_average_1min": round(os.getloadavg()[0], 1)}
    result["meets_target_wall"] = max(medians["open"], medians["open_new_model"]) < TARGET_MS
    result["meets_target_cpu"] = max(medians["open_cpu"],
                                     medians["open_new_model_cpu"]) < TARGET_MS
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
