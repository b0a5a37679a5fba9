"""``train --save-epochs`` and ``landscape``: the path's files, the picture, the JSON, bad input."""
import json

import numpy as np
import pytest
from PIL import Image

from cli import landscape_picture
from cli.commands import main
from cnn_core.data import load_sample
from cnn_core.model_files import load_model, save_model
from cnn_core.network import Network
from cnn_core.trainer import evaluate_loss_accuracy


def run(command, *args):
    """Exit status of ``main.py COMMAND ARGS``; argparse's own errors exit via SystemExit."""
    try:
        return main([command, *map(str, args)])
    except SystemExit as stop:
        return stop.code


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: " in err[0] and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """A two-epoch run on 128 images, with its epoch files."""
    folder = tmp_path_factory.mktemp("run")
    code = run("train", "--epochs", 2, "--train-size", 128, "--batch-size", 32, "--no-augment",
               "--out", folder / "model.npz", "--save-epochs", folder / "epochs")
    assert code == 0
    return folder / "model.npz", sorted((folder / "epochs").glob("epoch_*.npz"))


def test_save_epochs_writes_the_initial_weights_and_every_epoch(run_files):
    model, epochs = run_files
    assert [p.name for p in epochs] == ["epoch_000.npz", "epoch_001.npz", "epoch_002.npz"]
    start, meta = load_model(epochs[0])
    assert meta["epoch"] == 0 and meta["history"] == []
    for name, value in Network(seed=0).named_params():        # the run's seed is 0
        assert np.array_equal(start.state_dict()[name], value)
    last, meta = load_model(epochs[-1])
    assert meta["epoch"] == 2 and len(meta["history"]) == 2
    trained, _ = load_model(model)
    for name, value in trained.named_params():
        assert np.array_equal(last.state_dict()[name], value)


def test_landscape_json_gives_the_grid_and_the_path_on_the_pca_plane(run_files, tmp_path,
                                                                     capsys):
    model, epochs = run_files
    out = tmp_path / "land.png"
    assert run("landscape", "--model", model, "--trajectory", *epochs, "--grid", 3,
               "--images", 16, "--json", "--out", out) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["directions"] == "pca" and 0.5 < sum(record["explained"]) <= 1 + 1e-9
    grid = record["grid"]
    assert len(grid["xs"]) == 3 and np.array(grid["loss"]).shape == (3, 3)
    assert all(v > 0 for row in grid["loss"] for v in row)
    # The last epoch file is the model itself: no extra point, and it sits at the origin.
    path = record["path"]
    assert [p["name"] for p in path] == ["0", "1", "2"]
    assert path[-1]["x"] == pytest.approx(0, abs=1e-9) and path[-1]["y"] == pytest.approx(0, abs=1e-9)
    assert path[0]["x"] < 0 and path[0]["y"] < 0
    assert grid["xs"][0] < path[0]["x"] and grid["xs"][-1] > 0
    # The picture shows the model's dot where the model is: x grows to the right, y upwards.
    with Image.open(out) as picture:
        pixels = np.asarray(picture.convert("RGB"))
    (x0, *_, x1), (y0, *_, y1) = grid["xs"], grid["ys"]
    side = landscape_picture.PLOT - 1
    column = landscape_picture._LEFT + round((0 - x0) / (x1 - x0) * side)
    row = landscape_picture._TOP + round((y1 - 0) / (y1 - y0) * side)
    assert tuple(pixels[row, column]) == landscape_picture.MODEL


def test_landscape_around_a_model_has_its_loss_at_the_centre(run_files, capsys):
    model, _ = run_files
    assert run("landscape", "--model", model, "--grid", 3, "--images", 16, "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["directions"] == "random" and record["explained"] is None
    assert record["grid"]["xs"] == [-1.0, 0.0, 1.0]
    network, _ = load_model(model)
    train, _ = load_sample()
    loss, _ = evaluate_loss_accuracy(network, train.as_float()[:16], train.labels[:16])
    assert record["grid"]["loss"][1][1] == pytest.approx(loss, rel=1e-12)
    assert [p["name"] for p in record["path"]] == ["model"]


def test_landscape_writes_a_picture_and_says_so(run_files, tmp_path, capsys):
    model, epochs = run_files
    out = tmp_path / "land.png"
    assert run("landscape", "--model", model, "--trajectory", *epochs, "--grid", 2,
               "--images", 8, "--out", out) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as picture:
        colours = np.unique(np.asarray(picture.convert("RGB")).reshape(-1, 3), axis=0)
    assert len(colours) > 20            # filled bands, lines, text: not a blank canvas


def _bad_cases(model, epochs, tmp_path):
    other = tmp_path / "other.npz"
    save_model(other, Network([
        {"type": "conv", "name": "conv1", "in_channels": 1, "out_channels": 4},
        {"type": "relu", "name": "relu1"}, {"type": "maxpool", "name": "pool1"},
        {"type": "maxpool", "name": "pool2"}, {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "fc1", "in_features": 196, "out_features": 10}], seed=0))
    json_only = ["--json", "--images", 4]
    return {
        "architecture": (["--model", model, "--trajectory", epochs[0], other, *json_only],
                         "another architecture"),
        "grid of 1": (["--model", model, "--grid", 1, *json_only], "--grid"),
        "no images": (["--model", model, "--images", 0, "--json"], "--images"),
        "missing file": (["--model", tmp_path / "nowhere.npz", *json_only], "no such model file"),
        "pca of 2": (["--model", model, "--trajectory", epochs[0], "--directions", "pca",
                      *json_only], "at least 3 snapshots"),
        "pca without path": (["--model", model, "--directions", "pca", *json_only],
                             "--trajectory"),
        "no output": (["--model", model], "--out"),
        "not a png": (["--model", model, "--out", tmp_path / "x.jpg"], ".png"),
    }


@pytest.mark.parametrize("case", ["architecture", "grid of 1", "no images", "missing file",
                                  "pca of 2", "pca without path", "no output", "not a png"])
def test_bad_landscape_input_exits_2_with_one_line(case, run_files, tmp_path, capsys):
    model, epochs = run_files
    args, words = _bad_cases(model, epochs, tmp_path)[case]
    capsys.readouterr()
    assert run("landscape", *args) == 2
    assert words in one_error_line(capsys)
    assert not (tmp_path / "x.jpg").exists()


def test_save_epochs_into_a_file_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run("train", "--epochs", 1, "--train-size", 64, "--out", tmp_path / "m.npz",
               "--save-epochs", blocker) == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert not (tmp_path / "m.npz").exists()
