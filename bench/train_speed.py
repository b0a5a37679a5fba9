"""Speed and memory of the NumPy engine, side by side with PyTorch CPU on the same network.

Run from the repository root (PyTorch is optional: ``pip install torch==2.13.0``)::

    python bench/train_speed.py            # a table
    python bench/train_speed.py --json     # the same as JSON on stdout

Measures, in one run on this machine: a training epoch of 2,000 images at batch 64
(forward, loss, backward, SGD step), inference of 1,000 images, a training epoch at the full
60,000-image size, peak memory of a headless training run, and the machine's own float32
GEMM rate, from which the GEMM-bound limit of an epoch follows.  Times are medians over
several repeats after a warm-up.  Both engines use the same number of threads.
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
from cnn_core.layers import Conv2D, Dense  # noqa: E402
from cnn_core.network import INPUT_SHAPE, Network  # noqa: E402
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


def gemm_rate(workers, size=1024, repeats=7):
    """float32 GEMM FLOP/s with ``workers`` single-threaded BLAS calls at once."""
    mats = [(np.random.rand(size, size).astype(np.float32),) * 2 for _ in range(workers)]

    def all_at_once():
        threads = [threading.Thread(target=np.matmul, args=m) for m in mats]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return workers * 2 * size ** 3 / median_time(all_at_once, repeats)


def engine_epoch(images, labels, workers, repeats):
    net = Network(seed=0)
    optimizer = SGD(net, lr=0.01, momentum=0.9, weight_decay=5e-4)
    with DataParallel(net, workers) as parallel:
        def epoch():
            for start in range(0, len(labels), BATCH):
                parallel.train_step(images[start:start + BATCH], labels[start:start + BATCH])
                optimizer.step()
        return median_time(epoch, repeats)


def engine_inference(images, workers, repeats):
    with DataParallel(Network(seed=0), workers) as parallel:
        return median_time(lambda: parallel.predict_logits(images), repeats)


def torch_model(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_times(images, labels, workers, repeats):
    """(epoch seconds, inference seconds) for PyTorch CPU, or None without torch."""
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
    return median_time(epoch, repeats), median_time(inference, repeats * 2), torch.__version__


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
                           "numpy": np.__version__}}
    rate = gemm_rate(workers)
    flops = epoch_flops(network, 2000)
    results["gemm_gflops"] = rate / 1e9
    results["epoch_gflop"] = flops / 1e9
    results["gemm_limit_s"] = flops / rate
    results["engine_epoch_s"] = engine_epoch(images, labels, workers, repeats)
    results["engine_inference_1000_s"] = engine_inference(images[:1000], workers, repeats * 2)
    results["single_image_gradcam_s"], results["single_image_canvas_s"] = single_image_times()
    if full_size:
        rng = np.random.default_rng(0)
        big_x = rng.random((60000, 1, 28, 28), np.float32)
        big_y = rng.integers(0, 10, 60000)
        results["engine_epoch_60000_s"] = engine_epoch(big_x, big_y, workers, 1)
    results["peak_rss_mb"] = peak_training_rss_mb()
    torch = torch_times(images, labels, workers, repeats)
    if torch:
        results["torch_epoch_s"], results["torch_inference_1000_s"], version = torch
        results["machine"]["torch"] = version
    return results


def table(r):
    def ratio(a, b):
        return f"{r[a] / r[b]:.2f}" if r.get(a) and r.get(b) else "n/a"

    def ms(key):
        if not r.get(key):
            return "n/a"
        return f"{r[key] * 1e3:.2f} ms" if r[key] < 0.01 else f"{r[key] * 1e3:.1f} ms"
    rows = [
        ("training epoch, 2,000 images, batch 64", ms("engine_epoch_s"), ms("torch_epoch_s"),
         f"engine/torch {ratio('engine_epoch_s', 'torch_epoch_s')}, "
         f"engine/GEMM limit {ratio('engine_epoch_s', 'gemm_limit_s')}"),
        ("inference, 1,000 images", ms("engine_inference_1000_s"), ms("torch_inference_1000_s"),
         f"engine/torch {ratio('engine_inference_1000_s', 'torch_inference_1000_s')}"),
        ("single image: forward + Grad-CAM (last conv)", ms("single_image_gradcam_s"), "", ""),
        ("single image: activations + Grad-CAM at 4 layers", ms("single_image_canvas_s"), "", ""),
        ("training epoch, 60,000 images", ms("engine_epoch_60000_s"), "", ""),
        ("GEMM-bound limit of the 2,000 epoch",
         f"{r['gemm_limit_s'] * 1e3:.1f} ms", "",
         f"{r['epoch_gflop']:.1f} GFLOP at {r['gemm_gflops']:.0f} GFLOP/s"),
        ("peak RSS, headless training (with workers)", f"{r['peak_rss_mb']:.0f} MB", "", ""),
    ]
    lines = [f"machine: {r['machine']}", "",
             f"| {'measure':<46} | {'engine':>10} | {'PyTorch':>10} | ratio |", f"|{'-' * 48}|{'-' * 12}|{'-' * 12}|---|"]
    lines += [f"| {a:<46} | {b:>10} | {c:>10} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    parser.add_argument("--skip-full", action="store_true", help="skip the 60,000-image epoch")
    args = parser.parse_args()
    results = measure(args.repeats, not args.skip_full)
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
