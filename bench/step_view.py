"""What the "One step" view costs: the record the trainer keeps, and the views of it.

Run from the repository root::

    python bench/step_view.py            # a table
    python bench/step_view.py --json     # the same as JSON on stdout

Measures, on the bundled sample at batch 64:

* the overhead of keeping the last step's record (copies of the parameters before
  and after, the gradients and the momentum buffers, the batch): two trainers on the
  same data, one keeping the record and one not, train an epoch each in turn, round
  after round; the ratio is the median of the rounds' ratios (target < 1.03);
* :func:`~cnn_core.step_record.before_after` of a 64-image step, median (target < 100 ms);
* :func:`~cnn_core.step_record.kernel_update` and
  :func:`~cnn_core.step_record.numerical_check` of one weight, medians.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py: parallelism is ours
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnn_core.data import load_sample  # noqa: E402
from cnn_core.network import Network  # noqa: E402
from cnn_core.parallel import default_workers  # noqa: E402
from cnn_core.step_record import before_after, kernel_update, numerical_check  # noqa: E402
from cnn_core.trainer import TrainConfig, Trainer  # noqa: E402

BATCH = 64


def median_time(function, repeats, warmup=1):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_trainer(train, val, images, keep):
    config = TrainConfig(epochs=1, batch_size=BATCH, train_size=images, schedule="constant",
                         augment=False, dataset="sample")
    trainer = Trainer(Network(seed=0), train.as_float()[:images], train.labels[:images],
                      val.as_float()[:BATCH], val.labels[:BATCH], config,
                      workers=default_workers())
    trainer.keep_last_step = keep
    return trainer


def record_overhead(rounds, images):
    """Seconds per epoch with and without the record (medians) and the median ratio."""
    train, val = load_sample()
    trainers = {keep: make_trainer(train, val, images, keep) for keep in (True, False)}
    times = {True: [], False: []}
    for round_ in range(rounds + 1):        # round 0 warms up (processes, caches)
        for keep in ((True, False) if round_ % 2 else (False, True)):
            trainer = trainers[keep]
            trainer.config.epochs += 1
            start = time.perf_counter()
            trainer.run()
            if round_:
                times[keep].append(time.perf_counter() - start)
    assert trainers[True].last_step is not None and trainers[False].last_step is None
    ratios = [a / b for a, b in zip(times[True], times[False])]
    return statistics.median(times[True]), statistics.median(times[False]), \
        statistics.median(ratios), trainers[True].last_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--images", type=int, default=1280, help="images per timed epoch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with_record, without, ratio, step = record_overhead(args.rounds, args.images)
    results = {
        "epoch_seconds_with_record": with_record,
        "epoch_seconds_without_record": without,
        "record_overhead_ratio": ratio,
        "before_after_64_ms": 1000 * median_time(lambda: before_after(step), 21),
        "kernel_update_ms": 1000 * median_time(
            lambda: kernel_update(step, "conv3.weight", (5, 7)), 21),
        "numerical_check_ms": 1000 * median_time(
            lambda: numerical_check(step, "conv3.weight", 5 * 144 + 7 * 9 + 4), 5),
        "batch": len(step.labels),
        "workers": default_workers(),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"record of the last step: {with_record:.3f} s vs {without:.3f} s per epoch of "
          f"{args.images} images, ratio {ratio:.3f} (median of {args.rounds} rounds)")
    print(f"before/after of {results['batch']} images: {results['before_after_64_ms']:.1f} ms")
    print(f"kernel update: {results['kernel_update_ms']:.3f} ms; "
          f"numerical check: {results['numerical_check_ms']:.0f} ms")


if __name__ == "__main__":
    main()
