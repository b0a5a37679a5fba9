"""The command line, run as a person would: ``python main.py <subcommand>`` in a subprocess."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_core.data import load_sample, write_idx

REPO = Path(__file__).resolve().parents[2]


def run(*args, env_data=None, timeout=300, **env_vars):
    env = {**os.environ, **env_vars}
    if env_data is not None:
        env["EXPLAINABLE_CNN_DATA"] = str(env_data)
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_gradcheck_prints_a_table_and_passes():
    result = run("gradcheck")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conv4.weight" in result.stdout and "FAIL" not in result.stdout
    assert result.stdout.strip().endswith("0 failed")


def test_evaluate_json_on_the_validation_split():
    result = run("evaluate", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 1000 and report["accuracy"] >= 0.985
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 1000
    assert np.trace(confusion) / 1000 == pytest.approx(report["accuracy"])
    assert len(report["per_class"]) == 10 and all("f1" in c for c in report["per_class"])
    # The unsure flag's threshold was set on these very digits, and the report says so.
    assert 0 < report["unsure_rate"] <= 0.02 and report["unsure_calibrated_on_these"] is True


def test_evaluate_on_given_idx_files(tmp_path):
    _, val = load_sample()
    write_idx(tmp_path / "i.gz", val.images[:50])
    write_idx(tmp_path / "l.gz", val.labels[:50])
    result = run("evaluate", "--images", tmp_path / "i.gz", "--labels", tmp_path / "l.gz", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 50 and report["unsure_calibrated_on_these"] is False
    assert 0 <= report["unsure_rate"] <= 0.1


def test_predict_reads_image_files_of_either_polarity(tmp_path):
    _, val = load_sample()
    files, truth = [], []
    for digit in range(10):
        image = val.images[np.flatnonzero(val.labels == digit)[0]]
        big = Image.fromarray(255 - image).resize((140, 140), Image.BILINEAR)  # dark ink on paper
        files.append(tmp_path / f"digit{digit}.png")
        big.save(files[-1])
        truth.append(digit)
    result = run("predict", "--json", *files)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["file"] for a in answers] == [str(f) for f in files]
    assert sum(a["digit"] == t for a, t in zip(answers, truth)) >= 9
    assert all(abs(sum(a["probabilities"]) - 1) < 1e-4 for a in answers)


def test_predict_says_when_it_is_not_sure(tmp_path):
    """A drawn X is flagged as no digit; a validation digit is not flagged."""
    from tests.nondigits import draw
    cross = draw("X", np.random.default_rng(7))                     # ink 1 on paper 0
    Image.fromarray(np.uint8(255 * (1 - cross))).save(tmp_path / "x.png")
    _, val = load_sample()
    Image.fromarray(255 - val.images[0]).save(tmp_path / "digit.png")
    result = run("predict", "--json", tmp_path / "x.png", tmp_path / "digit.png")
    assert result.returncode == 0, result.stderr
    cross_answer, digit_answer = json.loads(result.stdout)
    assert cross_answer["unsure"] is True and cross_answer["reason"] == "may not be a digit"
    assert cross_answer["novelty"] > 1
    assert digit_answer["unsure"] is False and digit_answer["reason"] is None
    assert digit_answer["novelty"] < 1
    plain = run("predict", tmp_path / "x.png")
    assert plain.returncode == 0 and plain.stdout.strip().endswith("not sure: may not be a digit")


def test_a_model_the_flag_cannot_model_still_answers(tmp_path):
    """No hidden layer, so no features to model: the answers come, the flag is null."""
    from cnn_core.model_files import save_model
    from cnn_core.network import Network
    save_model(tmp_path / "linear.npz", Network([
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "out", "in_features": 784, "out_features": 10}], seed=0))
    result = run("evaluate", "--model", tmp_path / "linear.npz", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unsure_rate"] is None
    assert result.stderr.strip() == ("note: no unsure flag: this model has no hidden layer "
                                     "whose features could be modelled")


def test_train_writes_a_loadable_model(tmp_path):
    out = tmp_path / "m.npz"
    result = run("train", "--epochs", 1, "--train-size", 256, "--batch-size", 32, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "epoch   1/1" in result.stdout
    evaluation = run("evaluate", "--model", out, "--json")
    assert evaluation.returncode == 0 and json.loads(evaluation.stdout)["n"] == 1000


@pytest.mark.parametrize("args", [
    ("train", "--lr", "-1"), ("train", "--batch-size", "0"), ("train", "--epochs", "0"),
    ("train", "--batch-size", "5000"), ("train", "--epochs", "many"),
    ("evaluate", "--model", "missing.npz"), ("predict", "README.md"),
    ("predict", "no-such-image.png"), ("evaluate", "--images", "README.md"),
    ("evaluate", "--images", "README.md", "--labels", "README.md"),
])
def test_bad_input_exits_2_with_one_line(args):
    assert_one_line_error(run(*args))


def test_corrupt_model_file_exits_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a model")
    assert_one_line_error(run("evaluate", "--model", bad))


def test_blank_image_is_reported_as_empty(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    result = run("predict", blank)
    assert_one_line_error(result)
    assert "empty" in result.stderr


def test_download_with_no_mirror_reachable_says_so_and_exits_2(tmp_path):
    with socket.socket() as probe:          # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("download", env_data=tmp_path, timeout=120,
                 EXPLAINABLE_CNN_MNIST_MIRROR=f"http://127.0.0.1:{port}/mnist/")
    assert_one_line_error(result)
    assert "sample still works" in result.stderr
    assert list((tmp_path / "mnist").glob("*")) == []
