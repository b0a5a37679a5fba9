"""Speed and memory of the NumPy engine, side by side with PyTorch CPU on the same network.

Run from the repository root (PyTorch is optional: ``pip install torch==2.13.0``)::

    python bench/train_speed.py            # a table
    python bench/train_speed.py --json     # the same as JSON on stdout

Measures, in one run on this machine: a training epoch of 2,000 images at batch 64
(forward, loss, backward, SGD step), inference of 1,000 images (PyTorch both in one
batch and in the engine's chunks of :data:`CHUNK`, like for like), a training epoch at the full
60,000-image size, peak memory of a headless training run, the machine's own float32
GEMM rate, from which the GEMM-bound limit of an epoch follows, and the engine's own matrix
products alone (its shapes, all workers at once): how much of its epoch is GEMM time that
no work on the rest could remove.  The engine, PyTorch and the GEMMs are timed in turn,
round after round, after a warm-up; times are medians, and each ratio is the median of the
rounds' ratios.  Both engines use the same number of cores (the engine's extra workers are
processes, PyTorch's are threads).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as main.py: parallelism is ours
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from cnn_core.data import load_sample  # noqa: E402
from cnn_core.layers import WGRAD_COLUMNS, Conv2D, Dense  # noqa: E402
from cnn_core.network import CHUNK, INPUT_SHAPE, Network  # noqa: E402
from cnn_core.optimizers import SGD  # noqa: E402
from cnn_core.parallel import DataParallel, default_workers  # noqa: E402

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


def epoch_flops(network, n_images):
    """GEMM floating-point operations of one training epoch (forward + backward)."""
    shape, total = INPUT_SHAPE, 0
    for index, layer in enumerate(network.layers):
        out = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            macs = layer.out_channels * layer.in_channels * 9 * out[1] * out[2]
        elif isinstance(layer, Dense):
            macs = layer.in_features * layer.out_features
        else:
            macs = 0
        # forward, weight gradient, and input gradient (not needed for the first layer)
        total += 2 * macs * (3 if index > 0 else 2)
        shape = out
    return total * n_images


def at_once(function, per_thread):
    """A function that calls ``function(*args)`` for every ``args`` of ``per_thread``,
    each on a thread of its own, all at the same time, and waits for them."""
    def run():
        threads = [threading.Thread(target=function, args=args) for args in per_thread]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return run


def gemm_timer(workers, size=1024):
    """A function that runs ``workers`` single-threaded 1024² float32 GEMMs at once,
    and the FLOPs it does."""
    mats = [(np.random.rand(size, size).astype(np.float32),) * 2 for _ in range(workers)]
    return at_once(np.matmul, mats), workers * 2 * size ** 3


def step_products(network, share):
    """The matrix products of one worker's training step on ``share`` images, at the
    engine's own shapes: chunks of :data:`CHUNK`, the weight gradient of a conv in
    runs of columns, that of a dense layer once per share.  Returns ``(a, b)``
    operand pairs of random float32 data, each to be multiplied ``a @ b``."""
    rng = np.random.default_rng(0)

    def operands(m, k, n):
        return rng.random((m, k), np.float32), rng.random((k, n), np.float32)
    chunks = [min(CHUNK, share - start) for start in range(0, share, CHUNK)]
    pairs, shape = [], INPUT_SHAPE
    for index, layer in enumerate(network.layers):
        out = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            f, k = layer.out_channels, 9 * layer.in_channels
            for n in chunks:
                size = out[1] * out[2] * n
                pairs.append(operands(f, k + 1, size))                          # forward
                pairs += [operands(k + 1, min(WGRAD_COLUMNS, size - s), f)      # weight gradient
                          for s in range(0, size, WGRAD_COLUMNS)]
                if index > 0:
                    pairs.append(operands(k, f, size))                          # input gradient
        elif isinstance(layer, Dense):
            i, o = layer.in_features, layer.out_features
            for n in chunks:
                pairs += [operands(o, i, n), operands(i, o, n)]     # forward, input gradient
            pairs.append(operands(o, share, i))                     # weight gradient
        shape = out
    return pairs


def engine_gemm_timer(network, n_images, workers):
    """A function that runs, on ``workers`` threads at once, only the matrix products
    of a training epoch of ``n_images`` at the engine's own shapes: a floor for any
    engine built on these GEMMs, however well the rest were done."""
    batches = [min(BATCH, n_images - start) for start in range(0, n_images, BATCH)]
    per_worker = [[] for _ in range(workers)]
    for size in sorted(set(batches)):
        bounds = np.linspace(0, size, workers + 1).astype(int)
        for worker, share in enumerate(np.diff(bounds)):
            products = step_products(network, int(share)) if share else []
            per_worker[worker] += products * batches.count(size)

    def multiply(products):
        for a, b in products:
            a @ b
    return at_once(multiply, [(products,) for products in per_worker])


def engine_runners(images, labels, workers):
    """(epoch, inference, close): the engine training 2,000 images and predicting 1,000."""
    net = Network(seed=0)
    optimizer = SGD(net, lr=0.01, momentum=0.9, weight_decay=5e-4)
    parallel = DataParallel(net, workers, track_alive=False)    # as `main.py train`

    def epoch():
        for start in range(0, len(labels), BATCH):
            parallel.train_step(images[start:start + BATCH], labels[start:start + BATCH])
            optimizer.step(parallel.grads, parallel.executor)

    def inference():
        parallel.predict_logits(images[:1000])
    return epoch, inference, parallel.close


def torch_model(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_runners(images, labels, workers):
    """(epoch, inference, chunked inference, version) for the same network in PyTorch CPU,
    or None.  Chunked inference runs the engine's chunks of :data:`CHUNK` images."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(workers)
    torch.manual_seed(0)
    model = torch_model(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))

    def epoch():
        for start in range(0, len(labels), BATCH):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[start:start + BATCH]),
                                                     y[start:start + BATCH])
            loss.backward()
            optimizer.step()

    def inference():
        with torch.no_grad():
            model(x[:1000])

    def chunked_inference():
        with torch.no_grad():
            for start in range(0, 1000, CHUNK):
                model(x[start:start + CHUNK])
    return epoch, inference, chunked_inference, torch.__version__


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def side_by_side(runners, rounds):
    """Time each named function once per round, in turn, after one warm-up call each.

    The machine is shared, so its speed drifts; timing the contenders in
    alternation and taking the median of each round's ratio keeps a slow
    minute from landing on one of them only.  Returns name -> list of seconds.
    """
    for function in runners.values():
        function()
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, function in runners.items():
            times[name].append(timed(function))
    return times


def median_ratio(a, b):
    return statistics.median(x / y for x, y in zip(a, b))


def peak_training_rss_mb():
    """Peak resident memory (MB) of ``main.py train`` on the bundled sample, 2 epochs:
    the process's own peak plus, for each worker process, the largest worker peak
    (an upper bound, as the peaks need not coincide)."""
    code = ("import resource, sys; from cli.commands import main; "
            "from cnn_core.parallel import default_workers; "
            "main(['train', '--epochs', '2', '--out', sys.argv[1]]); "
            "own = int([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); "
            "worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
            "print(own + (default_workers() - 1) * worker)")
    out = Path("/tmp") / f"bench-model-{os.getpid()}.npz"
    result = subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    out.unlink(missing_ok=True)
    return int(result.stdout.split()[-1]) / 1024 if result.returncode == 0 else float("nan")


def single_image_times(repeats=300):
    """Median seconds for one image: forward + Grad-CAM of the last conv layer (the
    method as published), and the canvas's update (activations of every layer and
    Grad-CAM at all four conv layers, from one pass)."""
    from cnn_core.explain import Explainer
    from cnn_core.model_files import load_model
    from cnn_core.paths import SHIPPED_MODEL
    explainer = Explainer(load_model(SHIPPED_MODEL)[0])
    image = load_sample()[1].as_float()[0, 0]
    return (median_time(lambda: explainer.explain(image, "gradcam"), repeats, warmup=10),
            median_time(lambda: explainer.analyse(image), repeats, warmup=10))


def measure(repeats, full_size):
    workers = default_workers()
    train, _ = load_sample()
    images, labels = train.as_float()[:2000].copy(), train.labels[:2000].astype(np.int64)
    network = Network()
    results = {"machine": {"cores": os.cpu_count(), "workers": workers,
                           "numpy": np.__version__}, "rounds": repeats}
    flops = epoch_flops(network, 2000)
    results["epoch_gflop"] = flops / 1e9
    gemm, gemm_flops = gemm_timer(workers)
    engine_epoch, engine_inference, close = engine_runners(images, labels, workers)
    torch = torch_runners(images, labels, workers)
    try:
        epochs = {"engine": engine_epoch, "gemm": gemm,
                  "own_gemms": engine_gemm_timer(network, len(labels), workers)}
        inferences = {"engine": engine_inference}
        if torch:
            (epochs["torch"], inferences["torch"], inferences["torch_chunked"],
             results["machine"]["torch"]) = torch
        times = side_by_side(epochs, repeats)
        limits = [flops / (gemm_flops / t) for t in times["gemm"]]     # seconds per epoch
        results["gemm_gflops"] = gemm_flops / statistics.median(times["gemm"]) / 1e9
        results["gemm_limit_s"] = statistics.median(limits)
        results["engine_epoch_s"] = statistics.median(times["engine"])
        results["engine_over_limit"] = median_ratio(times["engine"], limits)
        results["own_gemms_epoch_s"] = statistics.median(times["own_gemms"])
        results["engine_over_own_gemms"] = median_ratio(times["engine"], times["own_gemms"])
        inference_times = side_by_side(inferences, repeats * 2)
        results["engine_inference_1000_s"] = statistics.median(inference_times["engine"])
        if torch:
            results["torch_epoch_s"] = statistics.median(times["torch"])
            results["engine_over_torch"] = median_ratio(times["engine"], times["torch"])
            results["own_gemms_over_torch"] = median_ratio(times["own_gemms"], times["torch"])
            results["torch_inference_1000_s"] = statistics.median(inference_times["torch"])
            results["inference_engine_over_torch"] = median_ratio(inference_times["engine"],
                                                                  inference_times["torch"])
            results["torch_inference_chunked_1000_s"] = statistics.median(
                inference_times["torch_chunked"])
            results["inference_engine_over_torch_chunked"] = median_ratio(
                inference_times["engine"], inference_times["torch_chunked"])
        if full_size:
            rng = np.random.default_rng(0)
            big_x = rng.random((60000, 1, 28, 28), np.float32)
            big_y = rng.integers(0, 10, 60000)
            big_epoch, _, close_big = engine_runners(big_x, big_y, workers)
            try:
                results["engine_epoch_60000_s"] = timed(big_epoch)
            finally:
                close_big()
    finally:
        close()
    results["single_image_gradcam_s"], results["single_image_canvas_s"] = single_image_times()
    results["peak_rss_mb"] = peak_training_rss_mb()
    return results


def table(r):
    def ratio(key):
        return f"{r[key]:.2f}" if r.get(key) else "n/a"

    def ms(key):
        if not r.get(key):
            return "n/a"
        return f"{r[key] * 1e3:.2f} ms" if r[key] < 0.01 else f"{r[key] * 1e3:.1f} ms"
    rows = [
        ("training epoch, 2,000 images, batch 64", ms("engine_epoch_s"), ms("torch_epoch_s"),
         f"engine/torch {ratio('engine_over_torch')}, "
         f"engine/GEMM limit {ratio('engine_over_limit')}"),
        ("inference, 1,000 images; PyTorch in one batch", ms("engine_inference_1000_s"),
         ms("torch_inference_1000_s"), f"engine/torch {ratio('inference_engine_over_torch')}"),
        (f"inference, 1,000 images; both in chunks of {CHUNK}", ms("engine_inference_1000_s"),
         ms("torch_inference_chunked_1000_s"),
         f"engine/torch {ratio('inference_engine_over_torch_chunked')}"),
        ("single image: forward + Grad-CAM (last conv)", ms("single_image_gradcam_s"), "", ""),
        ("single image: activations + Grad-CAM at 4 layers", ms("single_image_canvas_s"), "", ""),
        ("training epoch, 60,000 images", ms("engine_epoch_60000_s"), "", ""),
        ("the engine's GEMMs alone, same epoch", ms("own_gemms_epoch_s"), "",
         f"engine/its GEMMs {ratio('engine_over_own_gemms')}, "
         f"its GEMMs/torch {ratio('own_gemms_over_torch')}"),
        ("GEMM-bound limit of the 2,000 epoch",
         f"{r['gemm_limit_s'] * 1e3:.1f} ms", "",
         f"{r['epoch_gflop']:.1f} GFLOP at {r['gemm_gflops']:.0f} GFLOP/s"),
        ("peak RSS, headless training (with workers)", f"{r['peak_rss_mb']:.0f} MB", "", ""),
    ]
    lines = [f"machine: {r['machine']}",
             f"times are medians of {r['rounds']} rounds, each timing the contenders in turn; "
             "ratios are medians of each round's ratio", "",
             f"| {'measure':<46} | {'engine':>10} | {'PyTorch':>10} | ratio |", f"|{'-' * 48}|{'-' * 12}|{'-' * 12}|---|"]
    lines += [f"| {a:<46} | {b:>10} | {c:>10} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (median)")
    parser.add_argument("--skip-full", action="store_true", help="skip the 60,000-image epoch")
    args = parser.parse_args()
    results = measure(args.repeats, not args.skip_full)
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
