"""The command line's own output and what it saves: a closed pipe or a full disk on
stdout, failed training runs, ``--out`` paths that are links or not files, and
commands that must not need Qt.

Each test runs ``python main.py ...`` in a subprocess, as in ``test_faults_cli.py``.
"""
import os
import subprocess
import sys

import pytest
from PIL import Image

from cnn_core.data import load_sample
from cnn_core.model_files import load_model, save_model
from cnn_core.network import Network
from tests.core.test_faults_cli import REPO, cli, data_dir, error_line  # noqa: F401 (fixtures)

SMALL_RUN = ("--train-size", "256", "--batch-size", "64")
DEV_FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(DEV_FULL), reason="no /dev/full here")


def _env(data_dir, **extra):
    return {**os.environ, "EXPLAINABLE_CNN_DATA": str(data_dir), **extra}


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "digit.png"
    Image.fromarray(load_sample()[1].images[0]).save(path)
    return path


# --- standard output that cannot be written ----------------------------------------

def test_train_piped_into_head_still_finishes_and_saves(data_dir, tmp_path):
    """`train | head -1`: the reader goes after the first epoch line; the run goes on."""
    out = tmp_path / "piped.npz"
    train = subprocess.Popen([sys.executable, "main.py", "train", "--epochs", "3", *SMALL_RUN,
                              "--out", str(out)], cwd=REPO, env=_env(data_dir),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert train.stdout.readline().startswith("epoch   1/3")
    train.stdout.close()                          # as `head -1` does once it has its line
    stderr = train.stderr.read()
    assert train.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and f"saved {out}" in stderr
    _, meta = load_model(out)
    assert len(meta["history"]) == 3


@needs_dev_full
def test_a_full_disk_on_stdout_is_one_line_not_a_traceback(data_dir):
    with open(DEV_FULL, "w") as full:
        result = subprocess.run([sys.executable, "main.py", "evaluate"], cwd=REPO,
                                env=_env(data_dir), stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: cannot write the output: No space left on device"]


@needs_dev_full
def test_train_on_a_full_stdout_saves_the_model_and_says_what_failed(data_dir, tmp_path):
    out = tmp_path / "full.npz"
    with open(DEV_FULL, "w") as full:
        result = subprocess.run([sys.executable, "main.py", "train", "--epochs", "1", *SMALL_RUN,
                                 "--out", str(out)], cwd=REPO, env=_env(data_dir), stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == ("error: cannot write the output: No space left on "
                                              "device; the model was saved all the same")
    assert load_model(out)[1]["status"] == "finished"


# --- training runs that fail --------------------------------------------------------

def test_a_diverged_run_keeps_its_weights_beside_out_and_leaves_out_alone(cli, tmp_path):
    out = tmp_path / "good.npz"
    save_model(out, Network(seed=3))
    before = out.read_bytes()
    result = cli("train", "--lr", "50", "--schedule", "constant", "--out", out)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: diverged at epoch 1 batch ") and "learning rate 50" in last
    kept = tmp_path / "good.failed.npz"
    assert last.endswith(f"Its weights are in {kept}; {out} is unchanged.")
    assert out.read_bytes() == before
    network, meta = load_model(kept)
    assert meta["status"] == "diverged"


def test_a_network_that_died_is_a_failed_run_not_a_success(cli, tmp_path):
    """A rate of 3 does not diverge, but it switches off every ReLU: the loss stays finite
    and the network answers the same for every image."""
    out = tmp_path / "dead.npz"
    result = cli("train", "--lr", "3", "--epochs", "2", "--train-size", "1000", "--out", out)
    assert result.returncode == 1, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: the network died: it gives every image the same output")
    assert "learning rate 3 is too high" in last and f"{out} was not written" in last
    assert not out.exists()
    network, meta = load_model(tmp_path / "dead.failed.npz")
    assert meta["status"] == "dead"
    logits = network.predict_logits(load_sample()[1].as_float())
    assert (logits == logits[0]).all()


def test_a_short_run_on_a_few_images_is_not_called_dead(cli, tmp_path):
    """Four images and one epoch leave a network that answers one digit for everything,
    but its output still depends on the image: that is a weak model, not a failure."""
    out = tmp_path / "tiny.npz"
    result = cli("train", "--epochs", "1", "--batch-size", "1", "--lr", "0.001",
                 "--train-size", "4", "--seed", "3", "--out", out)
    assert result.returncode == 0, result.stderr
    assert load_model(out)[1]["status"] == "finished"


# --- where --out points ---------------------------------------------------------------

def test_out_through_a_symlink_updates_its_target(cli, tmp_path):
    target = tmp_path / "models" / "v1.npz"
    target.parent.mkdir()
    save_model(target, Network(seed=3))
    before = target.read_bytes()
    link = tmp_path / "current.npz"
    link.symlink_to(target)
    result = cli("train", "--epochs", "1", *SMALL_RUN, "--out", link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and target.read_bytes() != before
    assert load_model(link)[1]["status"] == "finished"


@pytest.mark.parametrize("name", ["digit.png", "model"])
def test_out_must_be_a_model_file_name(cli, tmp_path, name):
    error_line(cli("train", "--out", tmp_path / name), name, "ends in .npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_out_that_exists_and_is_not_a_file_is_refused_before_training(cli, tmp_path):
    pipe = tmp_path / "pipe.npz"
    os.mkfifo(pipe)
    error_line(cli("train", "--out", pipe), "pipe.npz", "is not a regular file")


def test_gradcheck_seed_out_of_range_is_one_line(cli):
    result = cli("gradcheck", "--seed", "-1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("must be between 0 and 4294967295, not -1")


# --- explain ------------------------------------------------------------------------------

def test_a_cam_of_a_model_without_conv_layers_is_one_line(cli, tmp_path, digit_png):
    dense = Network([{"type": "flatten", "name": "flatten"},
                     {"type": "dense", "name": "fc1", "in_features": 784, "out_features": 10}],
                    seed=0)
    model = tmp_path / "dense.npz"
    save_model(model, dense)
    error_line(cli("explain", "--model", model, "--image", digit_png, "--out", tmp_path / "x.png"),
               "no conv layer")
    saliency = cli("explain", "--model", model, "--image", digit_png, "--method", "saliency",
                   "--out", tmp_path / "s.png")
    assert saliency.returncode == 0 and (tmp_path / "s.png").is_file()


def test_explain_runs_where_qt_cannot_be_imported(data_dir, tmp_path, digit_png):
    """A server without Qt's libraries: explain only needs pyqtgraph's colour table."""
    shadow = tmp_path / "shadow" / "PySide6"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('libEGL.so.1: cannot open')\n")
    out = tmp_path / "heat.png"
    env = _env(data_dir, PYTHONPATH=os.pathsep.join([str(shadow.parent), str(REPO)]))
    result = subprocess.run([sys.executable, "main.py", "explain", "--image", str(digit_png),
                             "--out", str(out)], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "prediction: " in result.stdout


def test_explain_never_writes_over_the_image_it_explains(cli, tmp_path, digit_png):
    image = tmp_path / "mine.png"
    image.write_bytes(digit_png.read_bytes())
    error_line(cli("explain", "--image", image, "--out", image), "is the image being explained")
    assert image.read_bytes() == digit_png.read_bytes()
