"""What the "One step" view costs: the record the trainer keeps, and the views of it.

Run from the repository root::

    python bench/step_view.py            # a table
    python bench/step_view.py --json     # the same as JSON on stdout

Measures, on the bundled sample at batch 64:

* the overhead of keeping the last step's record (per batch, a copy of the parameters
  and of the momentum buffers before the update): two trainers on the same data, one
  keeping the record and one not, train an epoch each in turn, round after round; the
  ratio is the median over rounds of the ratio of their median batch times (target
  < 1.03); and the record's copies timed alone, as a fraction of a batch;
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
from cnn_core.step_record import (StepRecorder, before_after, kernel_update,  # noqa: E402
                                  numerical_check)
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


def batch_seconds(trainer):
    """Train one more epoch; the trainer's own time of each batch but the first (which
    starts the worker processes)."""
    seconds = []
    trainer.config.epochs += 1
    trainer.run(on_batch=lambda record: seconds.append(record.seconds))
    return seconds[1:]


def record_overhead(rounds, images):
    """Median seconds per batch with and without the record, and the median over rounds of
    the ratio of their medians (the two trainers take turns, so both see the same load)."""
    train, val = load_sample()
    trainers = {keep: make_trainer(train, val, images, keep) for keep in (True, False)}
    times = {True: [], False: []}
    ratios = []
    for round_ in range(rounds + 1):        # round 0 warms up
        medians = {}
        for keep in ((True, False) if round_ % 2 else (False, True)):
            seconds = batch_seconds(trainers[keep])
            medians[keep] = statistics.median(seconds)
            if round_:
                times[keep] += seconds
        if round_:
            ratios.append(medians[True] / medians[False])
    assert trainers[True].last_step is not None and trainers[False].last_step is None
    return (statistics.median(times[True]), statistics.median(times[False]),
            statistics.median(ratios), trainers[True])


def copy_seconds(trainer):
    """What keeping the record adds to a batch, timed alone: the copies made before the
    update (parameters, momentum buffers) and the bookkeeping after it."""
    recorder, network, optimizer = StepRecorder(), trainer.network, trainer.optimizer
    images, labels = trainer.train_images[:BATCH], trainer.train_labels[:BATCH]
    grads = network.gradient_buffers()

    def once():
        recorder.clear()
        recorder.begin(network, optimizer, images, labels)
        recorder.finish(network, optimizer, grads, 1.0, 1, 1, 1)
    return median_time(once, 101, warmup=5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--images", type=int, default=1280, help="images per timed epoch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with_record, without, ratio, trainer = record_overhead(args.rounds, args.images)
    step = trainer.last_step
    copies = copy_seconds(trainer)
    results = {
        "batch_ms_with_record": 1000 * with_record,
        "batch_ms_without_record": 1000 * without,
        "record_overhead_ratio": ratio,
        "record_copies_ms": 1000 * copies,
        "record_copies_fraction_of_batch": copies / without,
        "before_after_64_ms": 1000 * (before := median_time(lambda: before_after(step), 21)),
        "before_after_in_batches": before / without,
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
    print(f"batch of {BATCH} with the record {1000 * with_record:.1f} ms, without "
          f"{1000 * without:.1f} ms (medians); ratio {ratio:.3f} (median of {args.rounds} "
          f"rounds' ratios)")
    print(f"the record's copies alone: {1000 * copies:.2f} ms per batch, "
          f"{copies / without:.1%} of a batch without it")
    print(f"before/after of {results['batch']} images: {results['before_after_64_ms']:.1f} ms, "
          f"{results['before_after_in_batches']:.2f} times a training batch (compare on a "
          f"loaded machine)")
    print(f"kernel update: {results['kernel_update_ms']:.3f} ms; "
          f"numerical check: {results['numerical_check_ms']:.0f} ms")


if __name__ == "__main__":
    main()
