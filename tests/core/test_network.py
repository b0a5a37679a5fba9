"""The network's structure, its passes as values, parameter names and the model-file format."""
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from cnn_core.errors import ModelFileError
from cnn_core.layers import Workspace
from cnn_core.model_files import METADATA_KEY, load_model, save_model
from cnn_core.network import Network
from cnn_core.plan import ReluPool

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
    assert net.forward(np.zeros((3, 1, 28, 28), np.float32)).logits.shape == (3, 10)


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
    together = net.forward(x).logits
    alone = np.concatenate([net.forward(x[i:i + 1]).logits for i in range(5)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)


def _seed(logits, labels):
    """An output gradient of mixed signs: 0.9 at each label, -0.1 elsewhere."""
    grad = np.zeros_like(logits)
    grad[np.arange(len(labels)), labels] = 1.0
    return grad - 0.1


def _pass(net, images, labels, record=False, workspace=None):
    """Logits, input gradient, parameter gradients, fired units and steps of one pass."""
    forward_pass = net.forward(images, record=record, workspace=workspace)
    logits = forward_pass.logits
    backward_pass = net.backward(forward_pass, _seed(logits, labels), need_input_grad=True)
    return (logits, backward_pass.input_grad, backward_pass.param_grads,
            net.fired(forward_pass), forward_pass.steps)


def _assert_same_pass(got, expected):
    for a, b in zip(got[:2], expected[:2]):
        np.testing.assert_array_equal(a, b)
    for kind in (2, 3):
        assert got[kind].keys() == expected[kind].keys()
        for name in expected[kind]:
            np.testing.assert_array_equal(got[kind][name], expected[kind][name], err_msg=name)


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
    assert [s.name for s in fused[4] if isinstance(s, ReluPool)] == ["pool1", "pool2"]
    plain = _pass(net, images, labels, record=True)
    assert not any(isinstance(s, ReluPool) for s in plain[4])
    assert len(plain[4]) == len(net.layers) == len(fused[4]) + 2
    _assert_same_pass(fused, plain)


def test_recording_gradients_after_an_unrecorded_pass_is_refused():
    net = Network(seed=0)
    forward_pass = net.forward(np.zeros((1, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="record=True"):
        net.backward(forward_pass, np.ones((1, 10), np.float32), record=True)


def _batch(seed, n=5):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), np.float32), rng.integers(0, 10, n)


def test_a_pass_stays_valid_while_other_passes_run():
    """Two forward passes, then the first one's backward: the same as run alone."""
    net = Network(seed=0)
    (a, a_labels), (b, b_labels) = _batch(1), _batch(2, n=3)
    alone = _pass(net, a, a_labels)
    first, second = net.forward(a, record=True), net.forward(b, record=True)
    outputs = {name: value.copy() for name, value in first.outputs.items()}
    interleaved = net.backward(first, _seed(first.logits, a_labels), need_input_grad=True)
    net.backward(second, np.ones((3, 10), np.float32), need_input_grad=True)
    np.testing.assert_array_equal(interleaved.input_grad, alone[1])
    for name, value in alone[2].items():
        np.testing.assert_array_equal(interleaved.param_grads[name], value, err_msg=name)
    for name, value in outputs.items():     # the second pass overwrote nothing of the first
        np.testing.assert_array_equal(first.outputs[name], value, err_msg=name)


def test_passes_on_several_threads_at_once_give_each_its_own_result():
    net = Network(seed=0)
    batches = [_batch(seed) for seed in range(8)]
    expected = [_pass(net, images, labels) for images, labels in batches]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda batch: _pass(net, *batch), batches * 3))
    for index, result in enumerate(got):
        _assert_same_pass(result, expected[index % len(batches)])


def test_a_workspace_gives_the_same_bits_and_reuses_its_memory():
    net = Network(seed=0)
    workspace = Workspace()
    for seed in (1, 2):
        images, labels = _batch(seed)
        _assert_same_pass(_pass(net, images, labels, workspace=workspace), _pass(net, images, labels))
    cols = [net.forward(_batch(seed)[0], workspace=workspace).caches[0][0] for seed in (3, 4)]
    assert np.shares_memory(*cols)          # the second pass reused the first one's buffer
    fresh = [net.forward(_batch(seed)[0]).caches[0][0] for seed in (3, 4)]
    assert not np.shares_memory(*fresh)


def test_parameter_gradients_go_into_the_buffers_given_and_accumulate():
    net = Network(seed=0)
    images, labels = _batch(3, n=6)
    whole = _pass(net, images, labels)[2]
    buffers = net.gradient_buffers()
    for part, accumulate in ((slice(0, 2), False), (slice(2, 6), True)):
        forward_pass = net.forward(images[part])
        result = net.backward(forward_pass, _seed(forward_pass.logits, labels[part]),
                              param_grads=buffers, accumulate=accumulate)
        assert result.param_grads is buffers and result.input_grad is None
    for name, value in whole.items():
        np.testing.assert_allclose(buffers[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    assert net.backward(net.forward(images), np.ones((6, 10), np.float32),
                        param_grads=False).param_grads == {}


def test_recorded_gradients_stop_at_the_layer_asked_for():
    net = Network(seed=0)
    forward_pass = net.forward(_batch(0)[0], record=True)
    result = net.backward(forward_pass, np.ones((5, 10), np.float32), record=True,
                          param_grads=False, until=7)         # conv4
    assert list(result.output_grads) == [layer.name for layer in net.layers[7:]][::-1]
    assert result.output_grads["conv4"].shape == (64, 5, 14, 14)


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


def test_a_workspace_pool_lends_each_caller_its_own_and_keeps_them():
    pool = Network(seed=0).workspaces
    with pool.lease() as first:
        with pool.lease() as second:
            assert first is not second          # two callers at once never share
    with pool.lease() as again:
        assert again in (first, second)         # kept for the next caller
