"""How long does opening the backward view of an image take?

The backward view (gui/network/backward_view.py) shown offscreen at 820×620,
as in the Draw & Explain tab at 1280×720, with the shipped model.  For each of
``--images`` validation images (a different one each time, loss taken for
its true label) it times, side by side:

- ``flow``: :func:`cnn_core.gradient_flow.gradient_flow` alone;
- ``open``: ``BackwardView.show_pass`` plus a synchronous repaint, the model
  record the same as before (a drawing, a label changed);
- ``open_new_model``: the same with a new ModelRecord each time (the view
  builds the record's network first: a training step's model).

The very first show, which also builds the columns, is reported on its own.

Run ``python bench/backward_view.py`` (``--json`` for one JSON object).
Target (issue 18): median ``open`` and ``open_new_model`` < 50 ms.
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

TARGET_MS = 50.0


def timed(function):
    """``function()``'s wall time in ms."""
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)

    from cnn_core import paths
    from cnn_core.data import load_sample
    from cnn_core.gradient_flow import gradient_flow
    from cnn_core.model_files import load_model
    from cnn_core.model_record import ModelRecord
    from gui.network.backward_view import BackwardView
    from gui.style import configure_pyqtgraph

    configure_pyqtgraph()
    network, _ = load_model(paths.SHIPPED_MODEL)
    state = network.state_dict()
    record = ModelRecord.of(network.architecture, state, "shipped")
    validation = load_sample()[1]
    images = validation.images[:args.images + 1].astype(np.float32) / 255.0
    labels = validation.labels[:args.images + 1]

    view = BackwardView()
    view.resize(820, 620)
    view.show()
    app.processEvents()

    def show(model, index):
        view.show_pass(model, images[index], int(labels[index]))
        view.repaint()

    first = timed(lambda: show(record, 0))
    times = {"flow": [], "open": [], "open_new_model": []}
    for index in range(1, args.images + 1):
        times["flow"].append(timed(lambda: gradient_flow(network, images[index],
                                                         int(labels[index]))))
        times["open"].append(timed(lambda: show(record, index)))
        fresh = ModelRecord.of(network.architecture, state, "a step's model")
        times["open_new_model"].append(timed(lambda: show(fresh, index)))
        app.processEvents()
    result = {"images": args.images, "first_show_ms": round(first, 1),
              **{f"{name}_median_ms": round(float(np.median(values)), 2)
                 for name, values in times.items()},
              **{f"{name}_p90_ms": round(float(np.percentile(values, 90)), 2)
                 for name, values in times.items()},
              "target_ms": TARGET_MS}
    result["meets_target"] = max(result["open_median_ms"],
                                 result["open_new_model_median_ms"]) < TARGET_MS
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    view.close()


if __name__ == "__main__":
    main()
