"""Fault injection through the command line, as a person would meet the faults.

Every test runs ``python main.py ...`` in a subprocess (cwd the repository,
``EXPLAINABLE_CNN_DATA`` a private temporary folder, the MNIST mirror a dead
loopback port so nothing ever reaches the network).  Bad input must give exit
status 2 and exactly one line on stderr that names the file at fault, and
leave every file it was given, and the data folder, exactly as they were.
The hypothesis-driven faults are in ``test_faults_fuzz.py``; Ctrl+C and
kill -9 in ``test_faults_interrupt.py``.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnn_core.data import load_sample, write_idx
from cnn_core.model_files import load_model, save_model
from cnn_core.network import Network
from tests.core.test_image_files import write_blank_png
from tests.core.test_network import _damage

try:
    import resource
except ImportError:             # Windows: no address-space limit to set
    resource = None

REPO = Path(__file__).resolve().parents[2]
#: Address space allowed to a command reading a huge image (about 3 times what
#: predict needs): decoding 20000×20000 pixels would take 400 MB for the gray
#: values alone, on top of the interpreter, NumPy and Pillow.
MEMORY_LIMIT = 512 << 20


def _dead_url():
    with socket.socket() as probe:           # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture
def data_dir(tmp_path):
    """The user's data folder as the commands see it (not created in advance)."""
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir):
    """``cli(*args, data=..., limit_memory=False)`` runs ``python main.py ARGS``."""
    mirror = _dead_url()

    def run(*args, data=data_dir, limit_memory=False, timeout=120):
        env = {**os.environ, "EXPLAINABLE_CNN_DATA": str(data),
               "EXPLAINABLE_CNN_MNIST_MIRROR": mirror}
        return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              preexec_fn=_limit_memory if limit_memory and resource else None)
    return run


def error_line(result, *mentions):
    """Check ``result`` is bad input (exit 2, one stderr line, no output); return the line."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "error: " in lines[0], result.stderr
    assert result.stdout == ""
    for word in mentions:
        assert str(word) in lines[0], (word, lines[0])
    return lines[0]


def contents(*paths):
    """Everything at ``paths`` (files, or folders walked), to compare before and after."""
    seen = {}
    for top in map(Path, paths):
        for path in [top, *sorted(top.rglob("*"))] if top.is_dir() else [top]:
            seen[path] = path.read_bytes() if path.is_file() else (
                "folder" if path.is_dir() else None)
    return seen


# --- inputs shared by the tests ---------------------------------------------

@pytest.fixture(scope="module")
def digits():
    """Validation digits the shipped model gets right: ``{label: uint8 (28, 28)}``, ink high."""
    _, val = load_sample()
    return {d: val.images[np.flatnonzero(val.labels == d)[0]] for d in (3, 7)}


@pytest.fixture
def digit_png(tmp_path, digits):
    path = tmp_path / "seven.png"
    Image.fromarray(255 - digits[7]).resize((140, 140), Image.BILINEAR).save(path)
    return path


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mine.npz"
    save_model(path, Network(seed=0))
    return path


@pytest.fixture
def idx_pair(tmp_path):
    """20 validation images and labels as raw IDX files."""
    _, val = load_sample()
    images, labels = tmp_path / "images-idx3-ubyte", tmp_path / "labels-idx1-ubyte"
    write_idx(images, val.images[:20])
    write_idx(labels, val.labels[:20])
    return images, labels


# --- model files --------------------------------------------------------------

def _damage_more(kind, path):
    """Faults beyond those of test_network's ``_damage``."""
    if kind == "a .npy array":
        with open(path, "wb") as handle:
            np.save(handle, np.zeros(10, np.float32))
    elif kind == "a byte flipped in the weights":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif kind == "architecture asking for gigabytes":
        with np.load(path) as raw:
            arrays = {k: raw[k] for k in raw.files}
        meta = json.loads(str(arrays["metadata.json"]))
        meta["architecture"][-3]["out_features"] = 10 ** 9
        meta["architecture"][-1]["in_features"] = 10 ** 9
        arrays["metadata.json"] = np.array(json.dumps(meta))
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        _damage(kind, path)


MODEL_FAULTS = ["empty", "truncated", "not a zip", "missing array", "wrong shape", "nan weights",
                "future version", "metadata not json", "no metadata", "other architecture",
                "a .npy array", "a byte flipped in the weights", "architecture asking for gigabytes"]


@pytest.mark.parametrize("kind", MODEL_FAULTS)
def test_bad_model_file_is_named_in_one_line_and_left_alone(kind, cli, model_file, idx_pair):
    _damage_more(kind, model_file)
    before = contents(model_file, *idx_pair)
    images, labels = idx_pair
    error_line(cli("evaluate", "--model", model_file, "--images", images, "--labels", labels),
               model_file.name)
    assert contents(model_file, *idx_pair) == before


@pytest.mark.parametrize("kind", ["empty", "nan weights", "future version", "a .npy array"])
def test_predict_and_explain_with_a_bad_model_write_nothing(kind, cli, model_file, digit_png,
                                                           tmp_path):
    _damage_more(kind, model_file)
    before = contents(tmp_path)
    error_line(cli("predict", "--model", model_file, digit_png), model_file.name)
    error_line(cli("explain", "--model", model_file, "--image", digit_png,
                   "--out", tmp_path / "heat.png"), model_file.name)
    assert contents(tmp_path) == before


def test_a_folder_given_as_the_model(cli, tmp_path, digit_png):
    error_line(cli("predict", "--model", tmp_path, digit_png), tmp_path.name)


# --- IDX files ------------------------------------------------------------------

def _header(code, dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(n.to_bytes(4, "big") for n in dims)


def _break_idx(kind, images, labels, tmp_path):
    """Damage the pair as ``kind`` says; return the (images, labels) paths to give."""
    _, val = load_sample()
    body = val.images[:20].tobytes()
    if kind == "images: wrong magic number":
        images.write_bytes(b"GIF8" + images.read_bytes()[4:])
    elif kind == "labels: unknown type code":
        labels.write_bytes(b"\0\0\x07\x01" + labels.read_bytes()[4:])
    elif kind == "images: header counts more than the body holds":
        images.write_bytes(_header(8, (30, 28, 28)) + body)
    elif kind == "images: header counts fewer than the body holds":
        images.write_bytes(_header(8, (10, 28, 28)) + body)
    elif kind == "images: body cut short":
        images.write_bytes(images.read_bytes()[:-100])
    elif kind == "labels: body cut short":
        labels.write_bytes(labels.read_bytes()[:-3])
    elif kind == "images: header cut short":
        images.write_bytes(images.read_bytes()[:10])
    elif kind == "images: gzip stream cut short":
        gz = images.with_name(images.name + ".gz")
        write_idx(gz, val.images[:20])
        gz.write_bytes(gz.read_bytes()[:-40])
        return gz, labels
    elif kind == "labels: above 9":
        bad = val.labels[:20].copy()
        bad[5] = 12
        write_idx(labels, bad)
    elif kind == "counts differ":
        write_idx(labels, val.labels[:19])
    elif kind == "images: not 28x28":
        write_idx(images, np.zeros((20, 32, 32), np.uint8))
    elif kind == "images and labels swapped":
        return labels, images
    elif kind == "images: none at all":
        write_idx(images, np.zeros((0, 28, 28), np.uint8))
        write_idx(labels, np.zeros(0, np.uint8))
    elif kind == "images: 40 dimensions":
        images.write_bytes(_header(8, (1,) * 40) + b"\0")
    elif kind == "images: sizes whose product overflows 64 bits":
        images.write_bytes(_header(8, (65536,) * 4))
    elif kind == "images: a folder":
        return tmp_path, labels
    return images, labels


IDX_FAULTS = {  # kind: which file the message must name
    "images: wrong magic number": "images", "labels: unknown type code": "labels",
    "images: header counts more than the body holds": "images",
    "images: header counts fewer than the body holds": "images",
    "images: body cut short": "images", "labels: body cut short": "labels",
    "images: header cut short": "images", "images: gzip stream cut short": "images",
    "labels: above 9": "labels", "counts differ": "images", "images: not 28x28": "images",
    "images and labels swapped": "images", "images: none at all": "images",
    "images: 40 dimensions": "images", "images: sizes whose product overflows 64 bits": "images",
    "images: a folder": "images",
}


@pytest.mark.parametrize("kind", IDX_FAULTS)
def test_bad_idx_files_exit_2_naming_the_file(kind, cli, idx_pair, tmp_path):
    images, labels = _break_idx(kind, *idx_pair, tmp_path)
    before = contents(images, labels)
    culprit = images if IDX_FAULTS[kind] == "images" else labels
    error_line(cli("evaluate", "--images", images, "--labels", labels), culprit.name)
    assert contents(images, labels) == before


def test_labels_above_9_and_mismatched_counts_say_what_is_wrong(cli, idx_pair, tmp_path):
    images, labels = _break_idx("labels: above 9", *idx_pair, tmp_path)
    assert "label 12 at position 5 is not a digit" in error_line(
        cli("evaluate", "--images", images, "--labels", labels))
    images, labels = _break_idx("counts differ", *idx_pair, tmp_path)
    line = error_line(cli("evaluate", "--images", images, "--labels", labels))
    assert "20 images" in line and "19 labels" in line and labels.name in line


def test_images_without_labels(cli, idx_pair):
    error_line(cli("evaluate", "--images", idx_pair[0]), "--labels")


# --- image files -------------------------------------------------------------

def _blank(tmp_path, name, mode, size, colour):
    path = tmp_path / name
    Image.new(mode, size, colour).save(path)
    return path


def _corrupt_tiff(path):
    """An LZW TIFF with garbage for data: libtiff complains on stderr by itself."""
    noise = np.random.default_rng(0).integers(0, 256, (24, 20), np.uint8)
    Image.fromarray(noise).convert("RGB").save(path, compression="tiff_lzw")
    data = bytearray(path.read_bytes())
    data[8:40] = b"\xff" * 32
    path.write_bytes(bytes(data))
    return path


IMAGE_FAULTS = {  # id: (how to make the file in a folder, what the message says)
    "text": (lambda d: d / "notes.png", "not an image"),
    "empty file": (lambda d: d / "empty.png", "empty"),
    "truncated png": (lambda d: d / "cut.png", "not an image"),
    "corrupt tiff": (lambda d: _corrupt_tiff(d / "scan.tif"), "not an image"),
    "1x1 black": (lambda d: _blank(d, "one-black.png", "L", (1, 1), 0), "empty"),
    "1x1 white": (lambda d: _blank(d, "one-white.png", "L", (1, 1), 255), "empty"),
    "blank": (lambda d: _blank(d, "white.png", "L", (64, 64), 255), "empty"),
    "black jpeg": (lambda d: _blank(d, "black.jpg", "RGB", (64, 64), (0, 0, 0)), "empty"),
    "transparent": (lambda d: _blank(d, "clear.png", "RGBA", (64, 64), (0, 0, 0, 0)), "empty"),
    "blank 16-bit": (lambda d: _blank(d, "grey16.png", "I;16", (64, 64), 30000), "empty"),
    "20000x20000 png": (lambda d: write_blank_png(d / "huge.png", 20000, 20000), "too large"),
    "9000x9000 png": (lambda d: write_blank_png(d / "big.png", 9000, 9000), "too large"),
}


@pytest.mark.parametrize("command, fault", [("predict", fault) for fault in IMAGE_FAULTS] + [
    ("explain", fault) for fault in ("text", "corrupt tiff", "1x1 black", "20000x20000 png")])
def test_unusable_images_exit_2_naming_the_file(command, fault, cli, tmp_path, digit_png):
    (tmp_path / "notes.png").write_text("a shopping list, not a picture\n")
    (tmp_path / "empty.png").write_bytes(b"")
    full = digit_png.read_bytes()
    (tmp_path / "cut.png").write_bytes(full[:len(full) // 2])
    make, message = IMAGE_FAULTS[fault]
    image = make(tmp_path)
    out = tmp_path / "heat.png"
    args = ["predict", image] if command == "predict" else ["explain", "--image", image, "--out", out]
    line = error_line(cli(*args, limit_memory=True), image)
    assert message in line
    assert not out.exists()


def test_a_huge_jpeg_is_refused_without_decoding_it(cli, tmp_path):
    path = tmp_path / "huge.jpg"
    picture = Image.new("L", (20000, 20000), 255)
    ImageDraw.Draw(picture).rectangle((9000, 4000, 11000, 16000), fill=0)
    picture.save(path, quality=75)
    del picture
    assert "too large" in error_line(cli("predict", path, limit_memory=True), path)


def _digit_files(tmp_path, digits):
    """One digit in the awkward formats people have: ``{file: label}``."""
    three, seven = 255 - digits[3], 255 - digits[7]       # dark ink on light paper
    files = {}

    def save(name, picture, label, **options):
        picture.save(tmp_path / name, **options)
        files[tmp_path / name] = label

    big = Image.fromarray(three).resize((140, 140), Image.BILINEAR)
    save("sixteen-bit.png", Image.fromarray(np.asarray(big, np.uint16) * 257), 3)
    save("palette.png", big.convert("P"), 3)
    ink = np.zeros((140, 140, 4), np.uint8)                  # black strokes on a clear sheet
    ink[..., 3] = 255 - np.asarray(Image.fromarray(seven).resize((140, 140), Image.BILINEAR))
    save("alpha.png", Image.fromarray(ink, "RGBA"), 7)
    save("one-bit.png", big.convert("1", dither=Image.Dither.NONE), 3)
    save("photo.jpg", Image.fromarray(seven).resize((8000, 8000), Image.BILINEAR), 7, quality=90)
    save("tiny.png", Image.fromarray(seven).resize((12, 12), Image.BILINEAR), 7)
    return files


def test_awkward_but_valid_images_are_classified(cli, tmp_path, digits):
    files = _digit_files(tmp_path, digits)
    result = cli("predict", "--json", *files, limit_memory=True)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["file"] for a in answers] == [str(f) for f in files]
    assert [a["digit"] for a in answers] == list(files.values())


def test_one_bad_image_among_good_ones_fails_before_any_output(cli, tmp_path, digit_png):
    blank = _blank(tmp_path, "blank.png", "L", (64, 64), 255)
    error_line(cli("predict", digit_png, blank, digit_png), blank)


# --- hyperparameters -----------------------------------------------------------

@pytest.mark.parametrize("options, words", [
    (["--lr", "-1"], "learning rate"), (["--lr", "0"], "learning rate"),
    (["--lr", "nan"], "learning rate"), (["--lr", "inf"], "learning rate"),
    (["--batch-size", "0"], "batch size"), (["--batch-size", "4001"], "batch size 4001 is larger"),
    (["--batch-size", "300", "--train-size", "200"], "larger than the training set"),
    (["--epochs", "0"], "epochs"), (["--momentum", "1"], "momentum"),
    (["--momentum", "nan"], "momentum"), (["--weight-decay", "1e9"], "weight decay"),
    (["--weight-decay=-inf"], "weight decay"), (["--train-size", "0"], "training-set size"),
    (["--train-size", "100000"], "training-set size"), (["--schedule", "cosine"], "schedule"),
    (["--epochs", "2.5"], "--epochs"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_options_out_of_range_exit_2_and_leave_the_old_model(options, words, cli, model_file,
                                                             data_dir):
    before = contents(model_file)
    error_line(cli("train", *options, "--out", model_file), words)
    assert contents(model_file) == before
    assert not data_dir.exists()


def test_bad_options_are_refused_before_downloading_anything(cli, data_dir, tmp_path):
    result = cli("train", "--dataset", "mnist", "--lr", "-1", "--out", tmp_path / "m.npz")
    error_line(result, "learning rate")
    assert not data_dir.exists()


@pytest.mark.parametrize("where", ["folder", "inside a file"])
def test_an_out_path_that_cannot_be_written_is_refused_before_training(where, cli, tmp_path,
                                                                       model_file):
    out = tmp_path if where == "folder" else model_file / "m.npz"
    line = error_line(cli("train", "--out", out), "--out")
    assert str(out) in line
    assert "training on" not in line


# --- divergence ------------------------------------------------------------------

def test_divergence_stops_explains_and_saves_the_last_good_weights(cli, tmp_path):
    out = tmp_path / "diverged.npz"
    result = cli("train", "--lr", "50", "--schedule", "constant", "--out", out)
    # Not bad input (50 is within range) and not a crash: exit 1, a run that failed.
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: diverged at epoch 1 batch ") and "learning rate 50" in last
    kept = out.with_name("diverged.failed.npz")     # a failed run never lands at --out
    assert str(kept) in last and not out.exists()
    network, meta = load_model(kept)
    assert meta["status"] == "diverged"
    assert all(np.isfinite(value).all() for _, value in network.named_params())
    evaluation = cli("evaluate", "--model", kept, "--json")
    assert evaluation.returncode == 0 and json.loads(evaluation.stdout)["n"] == 1000


def test_saving_non_finite_weights_is_refused_and_keeps_the_old_file(model_file):
    before = model_file.read_bytes()
    network = Network(seed=1)
    network.layer("fc1").params["weight"][3, 4] = np.inf
    with pytest.raises(Exception, match="fc1.weight contains NaN or infinite"):
        save_model(model_file, network)
    assert model_file.read_bytes() == before
    assert sorted(p.name for p in model_file.parent.iterdir()) == [model_file.name]


# --- the data folder cannot be written ---------------------------------------------

def _unwritable_data_folders(tmp_path):
    a_file = tmp_path / "data-is-a-file"
    a_file.write_text("not a folder")
    folders = {"a file": a_file}
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    if not os.access(read_only, os.W_OK):
        folders["read-only"] = read_only
    elif Path("/sys/kernel").is_dir():
        # Root may write anywhere, except in sysfs, where creating a folder is refused.
        folders["read-only"] = Path("/sys/explainable-cnn-test")
    return folders


def test_download_into_an_unwritable_data_folder_says_where(cli, tmp_path):
    for name, folder in _unwritable_data_folders(tmp_path).items():
        before = contents(folder)
        line = error_line(cli("download", data=folder))
        assert str(folder) in line and "sample still works" in line, name
        assert contents(folder) == before


def test_training_on_the_sample_works_with_an_unwritable_data_folder(cli, tmp_path):
    folder = _unwritable_data_folders(tmp_path)["a file"]
    out = tmp_path / "m.npz"
    result = cli("train", "--epochs", 1, "--train-size", 128, "--batch-size", 32, "--out", out,
                 data=folder)
    assert result.returncode == 0, result.stderr
    load_model(out)
    assert folder.read_text() == "not a folder"
    evaluation = cli("evaluate", "--model", out, "--json", data=folder)
    assert evaluation.returncode == 0, evaluation.stderr
    # Full MNIST cannot be had, and the message says where it could not be saved.
    result = cli("train", "--dataset", "mnist", "--out", out, data=folder)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(folder) in result.stderr.splitlines()[-1]
