"""What the "One step" view costs: the record the trainer keeps, and the views of it.

Run from the repository root::

    python bench/step_view.py            # a table
    python bench/step_view.py --json     # the same as JSON on stdout

Measures, on the bundled sample at batch 64:

* the overhead of keeping the last step's record (per batch, a copy of the parameters
  and of the momentum buffers before the update): one trainer keeps it every other
  batch; the ratio is the median over neighbouring batches of with / without
  (target < 1.03); and the record's copies timed alone, as a fraction of a batch;
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
from train_speed import median_time  # noqa: E402  (bench/ is the script's folder)

BATCH = 64


def record_overhead(epochs, images):
    """Median seconds per batch with and without the record, and the median ratio of
    neighbouring batches.

    One trainer keeps the record every other batch, so the batches with and without it
    alternate and see the same load; the trainer's own clock times each batch (the
    epoch-end validation is not in it).  The first batch of each epoch's run, which
    starts the worker processes, is left out.
    """
    train, val = load_sample()
    config = TrainConfig(epochs=1, batch_size=BATCH, train_size=images, schedule="constant",
                         augment=False, dataset="sample")
    trainer = Trainer(Network(seed=0), train.as_float()[:images], train.labels[:images],
                      val.as_float()[:BATCH], val.labels[:BATCH], config,
                      workers=default_workers())
    times = []                              # (kept the record, seconds)

    def on_batch(record):
        if record.batch > 1:
            times.append((trainer.keep_last_step, record.seconds))
        trainer.keep_last_step = not trainer.keep_last_step
    for epoch in range(epochs):
        trainer.config.epochs = epoch + 1
        trainer.run(on_batch=on_batch)
    with_record = [t for kept, t in times if kept]
    without = [t for kept, t in times if not kept]
    ratios = [(a if ka else b) / (b if ka else a)
              for ((ka, a), (kb, b)) in zip(times, times[1:]) if ka != kb]
    return (statistics.median(with_record), statistics.median(without),
            statistics.median(ratios), trainer)


def copy_seconds(trainer):
    """What keeping the record adds to a batch, timed alone: the copies made before the
    update (parameters, momentum buffers) and the bookkeeping after it."""
    recorder, network, optimizer = StepRecorder(), trainer.network, trainer.optimizer
    optimizer.momentum = 0.9      # momentum applies: the momentum buffers are copied too
    images, labels = trainer.train_images[:BATCH], trainer.train_labels[:BATCH]
    grads = network.gradient_buffers()

    def once():
        recorder.clear()
        recorder.begin(network, optimizer, images, labels)
        recorder.finish(network, optimizer, grads, 1.0, 1, 1, 1)
    return median_time(once, 101, warmup=5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--images", type=int, default=1280, help="images per epoch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with_record, without, ratio, trainer = record_overhead(args.epochs, args.images)
    trainer.keep_last_step = True
    trainer.config.epochs += 1
    trainer.run()
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
          f"{1000 * without:.1f} ms (medians of alternate batches); ratio {ratio:.3f} "
          f"(median over neighbouring batches, {args.epochs} epochs)")
    print(f"the record's copies alone: {1000 * copies:.2f} ms per batch, "
          f"{copies / without:.1%} of a batch without it")
    print(f"before/after of {results['batch']} images: {results['before_after_64_ms']:.1f} ms, "
          f"{results['before_after_in_batches']:.2f} times a training batch (compare on a "
          f"loaded machine)")
    print(f"kernel update: {results['kernel_update_ms']:.3f} ms; "
          f"numerical check: {results['numerical_check_ms']:.0f} ms")


if __name__ == "__main__":
    main()
