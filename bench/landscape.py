"""Speed of the loss landscape (cnn_core/landscape.py), and what it costs training beside it.

Run from the repository root::

    python bench/landscape.py              # a table
    python bench/landscape.py --json       # the same as JSON on stdout
    python bench/landscape.py --full       # also the whole 7 -> 15 -> 31 refinement

Measures, on the shipped model and the first ``--images`` training images of the sample:

- the first coarse picture: a 7 x 7 grid, with one worker and with every core (the
  app computes it so when training is not running); median of ``--repeats`` runs;
- with ``--full``, the whole refinement (7, 15 and 31 points a side) on every core;
- training throughput (images a second, as the app trains: one worker, health
  tracking on) alone and with a landscape refreshing in a background thread at
  each ``--duties`` value (the share of wall time the landscape computes; the
  knob :func:`~cnn_core.landscape.loss_grid` takes).  Alone and beside each duty
  are timed in turn, round after round, and each ratio is the median of the
  rounds' ratios, so a machine that gets busier or quieter meanwhile touches
  both sides alike.  Ratio = time per image with the landscape / without.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py: parallelism is ours
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnn_core import paths  # noqa: E402
from cnn_core.data import load_sample  # noqa: E402
from cnn_core.landscape import (TRAINING_DUTY, grid_axes, loss_grid, random_plane,  # noqa: E402
                                refine_grids)
from cnn_core.model_files import load_model  # noqa: E402
from cnn_core.parallel import default_workers  # noqa: E402
from cnn_core.trainer import TrainConfig, Trainer  # noqa: E402

EXTENT = (-1.0, 1.0, -1.0, 1.0)


def first_picture(architecture, plane, images, labels, workers, repeats):
    """Median seconds of a 7 x 7 grid, and the median CPU seconds of one point.

    The CPU time is this process's (every worker's), so it does not grow when other
    programs keep the cores busy: 49 points of it over the cores is what the first
    picture takes on a machine left to the app.
    """
    xs, ys = grid_axes(EXTENT, 7)
    times, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        loss_grid(architecture, plane, xs, ys, images, labels, workers=workers)
        times.append(time.perf_counter() - started)
        cpu.append((time.process_time() - started_cpu) / (len(xs) * len(ys)))
    return statistics.median(times), statistics.median(cpu)


def full_refinement(architecture, plane, images, labels, workers):
    started = time.perf_counter()
    for _ in refine_grids(architecture, plane, EXTENT, images, labels, workers=workers):
        pass
    return time.perf_counter() - started


class Refreshing:
    """A landscape refreshing over and over in a thread of its own, as the app's would."""

    def __init__(self, architecture, plane, images, labels, duty):
        self._stop = threading.Event()

        def loop():
            while not self._stop.is_set():
                for _ in refine_grids(architecture, plane, EXTENT, images, labels,
                                      cancel=self._stop.is_set, duty=duty):
                    pass
        self._thread = threading.Thread(target=loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def training_seconds_per_image(train, batches):
    """Seconds per training image over ``batches`` batches of 64, as the app trains."""
    network, _ = load_model(paths.SHIPPED_MODEL)
    size = 64 * batches
    config = TrainConfig(epochs=1, batch_size=64, train_size=size, seed=0)
    trainer = Trainer(network, train.as_float()[:size], train.labels[:size],
                      train.as_float()[:64], train.labels[:64], config, track_health=True,
                      workers=max(1, (os.cpu_count() or 1) - 1))
    started = time.perf_counter()
    trainer.run()
    return (time.perf_counter() - started) / size


def throughput_ratios(architecture, plane, images, labels, train, duties, rounds, batches):
    """``{duty: (median ratio, list of ratios)}`` and the median seconds per image alone."""
    training_seconds_per_image(train, 2)        # warm-up: pages, caches
    ratios, alone_times = {duty: [] for duty in duties}, []
    for _ in range(rounds):
        for duty in duties:
            alone = training_seconds_per_image(train, batches)
            with Refreshing(architecture, plane, images, labels, duty):
                beside = training_seconds_per_image(train, batches)
            alone_times.append(alone)
            ratios[duty].append(beside / alone)
    return ({duty: (statistics.median(r), r) for duty, r in ratios.items()},
            statistics.median(alone_times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=12, help="training batches per timing")
    parser.add_argument("--duties", type=float, nargs="+", default=[1.0, 0.25, TRAINING_DUTY])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    network, _ = load_model(paths.SHIPPED_MODEL)
    train, _ = load_sample()
    images, labels = train.as_float()[:args.images], train.labels[:args.images]
    plane = random_plane(network.state_dict(), seed=0)
    architecture = network.architecture
    cores = default_workers()
    one, cpu_per_point = first_picture(architecture, plane, images, labels, 1, args.repeats)
    every, _ = first_picture(architecture, plane, images, labels, cores, args.repeats)
    result = {"images": args.images, "cores": cores, "load_average_1min": os.getloadavg()[0],
              "cpu_s_per_point": cpu_per_point, "first_7x7_one_worker_s": one,
              "first_7x7_all_cores_s": every,
              "first_7x7_idle_machine_s": 49 * cpu_per_point / cores}
    if args.full:
        result["refinement_7_15_31_all_cores_s"] = full_refinement(architecture, plane, images,
                                                                   labels, cores)
    ratios, alone = throughput_ratios(architecture, plane, images, labels, train, args.duties,
                                      args.rounds, args.batches)
    result["training_images_per_s_alone"] = 1 / alone
    result["throughput_ratio_by_duty"] = {str(d): {"median": m, "rounds": r}
                                          for d, (m, r) in ratios.items()}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{args.images} images per grid point, {cores} cores, "
          f"load average {result['load_average_1min']:.1f} at the start")
    print(f"CPU time of one grid point:     {cpu_per_point:.3f} s")
    print(f"first 7x7 picture, one worker:  {one:.2f} s")
    print(f"first 7x7 picture, all cores:   {every:.2f} s "
          f"(on an idle machine: {result['first_7x7_idle_machine_s']:.2f} s)")
    if args.full:
        print(f"7 -> 15 -> 31 refinement:       {result['refinement_7_15_31_all_cores_s']:.1f} s")
    print(f"training alone: {1 / alone:.0f} images/s")
    for duty, (median, rounds) in ratios.items():
        spread = ", ".join(f"{r:.2f}" for r in rounds)
        print(f"with a landscape at duty {duty:.2f}: ratio {median:.3f} (rounds {spread})")


if __name__ == "__main__":
    main()
