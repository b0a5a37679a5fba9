"""How fast the explanations are for one image: the canvas explains on every pen move.

Times, on the shipped model, the four single-image targets of the explanation
toolkit (median of many runs, after a warm-up, cycling over a few validation
digits) and prints a table, or one JSON object with ``--json``:

- forward with every layer's activations plus Grad-CAM at all four conv
  layers (one forward and one backward pass): target 2 ms
- saliency: 2 ms
- Integrated Gradients, 32 steps: 30 ms
- occlusion, 4×4 patch, stride 2: 60 ms

BLAS runs single-threaded, as in the app.  Run from the repository root::

    python bench/explain_speed.py [--model PATH] [--runs N] [--json]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py and the app
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from cnn_core import paths  # noqa: E402
from cnn_core.data import load_sample  # noqa: E402
from cnn_core.explain import Explainer  # noqa: E402
from cnn_core.model_files import load_model  # noqa: E402

IMAGES = 8          # validation digits cycled through, so no single digit decides


def cases(explainer):
    """(name, target in ms, function of one image, relative run count)."""
    return [
        ("activations + Grad-CAM x4", 2.0, lambda x: explainer.analyse(x), 1.0),
        ("saliency", 2.0, lambda x: explainer.explain(x, "saliency"), 1.0),
        ("integrated gradients, 32 steps", 30.0,
         lambda x: explainer.explain(x, "integrated-gradients", steps=32), 0.25),
        ("occlusion 4x4, stride 2", 60.0,
         lambda x: explainer.explain(x, "occlusion", patch=4, stride=2), 0.25),
    ]


def median_ms(function, images, runs, warmup=10):
    """Median wall time in ms of ``function(image)``, cycling over ``images``."""
    for i in range(warmup):
        function(images[i % len(images)])
    times = []
    for i in range(runs):
        image = images[i % len(images)]
        start = time.perf_counter()
        function(image)
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL)
    parser.add_argument("--runs", type=int, default=400, help="runs of the fast cases (default 400)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    network, _ = load_model(args.model)
    explainer = Explainer(network)
    images = load_sample()[1].as_float()[:IMAGES, 0]
    rows = []
    for name, target, function, share in cases(explainer):
        ms = median_ms(function, images, max(10, int(args.runs * share)))
        rows.append({"case": name, "median_ms": round(ms, 3), "target_ms": target, "ok": ms < target})
    if args.json:
        print(json.dumps({"model": str(args.model), "cpus": os.cpu_count(), "results": rows}))
        return 0
    print(f"{'case':<32}{'median':>10}{'target':>10}")
    for r in rows:
        verdict = "ok" if r["ok"] else "SLOW"
        print(f"{r['case']:<32}{r['median_ms']:>8.2f}ms{r['target_ms']:>8.0f}ms  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
