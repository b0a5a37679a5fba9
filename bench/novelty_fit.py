"""What the thickened copies cost the unsure flag's fit, measured side by side.

Fits the shipped model's detector on the bundled sample with and without
:func:`cnn_core.explain.novelty.with_thick_strokes` (their order alternating,
BLAS single-threaded as in the app) and prints the medians and their ratio.
Run from the repository root::

    python bench/novelty_fit.py [--runs N]
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py and the app
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from cnn_core import paths  # noqa: E402
from cnn_core.data import load_sample  # noqa: E402
from cnn_core.explain.novelty import NoveltyDetector, with_thick_strokes  # noqa: E402
from cnn_core.model_files import load_model  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    network = load_model(paths.SHIPPED_MODEL)[0]
    train, validation = load_sample()
    images, labels, calibration = train.as_float(), train.labels, validation.as_float()
    fits = {"MNIST digits": lambda: (images, labels),
            "with thickened copies": lambda: with_thick_strokes(images, labels)}
    times = {name: [] for name in fits}
    for run in range(runs):
        for name in (list(fits) if run % 2 == 0 else list(fits)[::-1]):
            start = time.perf_counter()
            NoveltyDetector().fit(network, *fits[name](), calibration)
            times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(values)) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:24s} median {median:6.2f} s over {runs} runs")
    first, second = medians.values()
    print(f"ratio {second / first:.2f}")


if __name__ == "__main__":
    main()
