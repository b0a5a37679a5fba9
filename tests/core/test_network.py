"""The network's structure, parameter names and the model-file format."""
import json
import zipfile

import numpy as np
import pytest

from cnn_core.errors import ModelFileError
from cnn_core.model_files import METADATA_KEY, load_model, save_model
from cnn_core.network import Network

STATE_SHAPES = {
    "conv1.weight": (8, 1, 3, 3), "conv1.bias": (8,), "conv2.weight": (16, 8, 3, 3),
    "conv2.bias": (16,), "conv3.weight": (32, 16, 3, 3), "conv3.bias": (32,),
    "conv4.weight": (64, 32, 3, 3), "conv4.bias": (64,), "fc1.weight": (128, 3136),
    "fc1.bias": (128,), "fc2.weight": (10, 128), "fc2.bias": (10,),
}


def test_default_network_has_the_seed_shapes_and_parameter_count():
    net = Network(seed=0)
    assert {k: v.shape for k, v in net.state_dict().items()} == STATE_SHAPES
    assert net.num_params() == 427_210
    assert net.dtype == np.float32
    assert net.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)


def test_he_initialisation_has_the_right_spread():
    w = Network(seed=0).state_dict()["fc1.weight"]
    assert abs(w.std() - np.sqrt(2 / 3136)) < 0.05 * np.sqrt(2 / 3136)


def test_same_seed_same_weights_and_different_seed_differs():
    a, b, c = Network(seed=5), Network(seed=5), Network(seed=6)
    for name, value in a.state_dict().items():
        assert np.array_equal(value, b.state_dict()[name])
    assert not np.array_equal(a.state_dict()["conv1.weight"], c.state_dict()["conv1.weight"])


def test_copy_is_independent():
    net = Network(seed=0)
    twin = net.copy()
    twin.layer("conv1").params["weight"] += 1
    assert not np.array_equal(net.layer("conv1").params["weight"], twin.layer("conv1").params["weight"])


def test_batch_results_do_not_depend_on_batch_composition():
    net = Network(seed=0)
    x = np.random.default_rng(0).random((5, 1, 28, 28), np.float32)
    together = net.forward(x).copy()
    alone = np.concatenate([net.forward(x[i:i + 1]).copy() for i in range(5)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)


def _pass(net, images, labels, record):
    """Logits, input gradient, parameter gradients and fired units of one pass."""
    logits = net.forward(images, record=record).copy()
    grad = np.zeros_like(logits)
    grad[np.arange(len(labels)), labels] = 1.0
    grad -= 0.1
    image_grad = net.backward(grad, need_input_grad=True)
    fired = {relu.name: relu.fired() for relu in net.relu_layers()}
    return logits, image_grad, {k: v.copy() for k, v in net.named_grads()}, fired


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_after_pooling_changes_nothing(dtype):
    """Unrecorded passes rectify after pooling; recorded ones before.  Same bits out,
    on maps with tied maxima, flat backgrounds and windows with no positive value."""
    net = Network(seed=2).copy(dtype)
    rng = np.random.default_rng(5)
    for layer in net.layers:
        if "bias" in layer.params:          # some channels mostly dead, some mostly alive
            layer.params["bias"][:] = rng.normal(0, 0.3, layer.params["bias"].shape)
    images = rng.random((6, 1, 28, 28)).astype(dtype)
    images[0] = 0                           # flat: every window ties
    images[1, :, :, 14:] = 1                # two flat halves
    images[2] = np.round(images[2] * 2) / 2 # a few levels: many ties after conv1
    labels = np.arange(6) % 10
    fused = _pass(net, images, labels, record=False)
    assert net.layer("relu2")._active is None, "the fused path was not taken"
    plain = _pass(net, images, labels, record=True)
    assert net.layer("relu2")._active is not None
    for got, expected in zip(fused[:2], plain[:2]):
        np.testing.assert_array_equal(got, expected)
    for kind in (2, 3):
        assert fused[kind].keys() == plain[kind].keys()
        for name in plain[kind]:
            np.testing.assert_array_equal(fused[kind][name], plain[kind][name], err_msg=name)


def test_recording_gradients_after_an_unrecorded_pass_is_refused():
    net = Network(seed=0)
    net.forward(np.zeros((1, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="record=True"):
        net.backward(np.ones((1, 10), np.float32), record=True)


def test_model_file_round_trip_keeps_weights_and_metadata(tmp_path):
    net = Network(seed=3)
    path = tmp_path / "m.npz"
    save_model(path, net, {"val_accuracy": 0.5})
    loaded, meta = load_model(path)
    assert meta["val_accuracy"] == 0.5 and meta["format_version"] == 1
    for name, value in net.state_dict().items():
        assert np.array_equal(value, loaded.state_dict()[name])
    with np.load(path) as raw:      # plain npz, PyTorch state_dict names
        assert set(raw.files) == set(STATE_SHAPES) | {METADATA_KEY}


def _rewrite(path, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _arrays(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.npz"
    save_model(path, Network(seed=0))
    return path


def _damage(kind, path):
    arrays = _arrays(path)
    meta = json.loads(str(arrays[METADATA_KEY]))
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif kind == "not a zip":
        path.write_text("hello, I am not a model")
    elif kind == "missing array":
        del arrays["fc2.bias"]
        _rewrite(path, arrays)
    elif kind == "wrong shape":
        arrays["fc1.weight"] = np.zeros((64, 3136), np.float32)
        _rewrite(path, arrays)
    elif kind == "nan weights":
        arrays["conv2.weight"][0, 0, 0, 0] = np.nan
        _rewrite(path, arrays)
    elif kind == "future version":
        meta["format_version"] = 99
        arrays[METADATA_KEY] = np.array(json.dumps(meta))
        _rewrite(path, arrays)
    elif kind == "metadata not json":
        arrays[METADATA_KEY] = np.array("{not json")
        _rewrite(path, arrays)
    elif kind == "no metadata":
        del arrays[METADATA_KEY]
        _rewrite(path, arrays)
    elif kind == "other architecture":
        meta["architecture"] = meta["architecture"][:2]
        arrays[METADATA_KEY] = np.array(json.dumps(meta))
        _rewrite(path, arrays)


@pytest.mark.parametrize("kind", ["empty", "truncated", "not a zip", "missing array", "wrong shape",
                                  "nan weights", "future version", "metadata not json",
                                  "no metadata", "other architecture"])
def test_bad_model_files_raise_one_line_errors(good_file, kind):
    _damage(kind, good_file)
    with pytest.raises(ModelFileError) as info:
        load_model(good_file)
    message = str(info.value)
    assert "\n" not in message and good_file.name in message


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope.npz")


def test_failed_save_leaves_previous_file_intact(good_file, monkeypatch):
    before = good_file.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(ModelFileError, match="No space left"):
        save_model(good_file, Network(seed=9))
    assert good_file.read_bytes() == before
    assert [p.name for p in good_file.parent.iterdir()] == [good_file.name]
    assert zipfile.is_zipfile(good_file)
