"""The explanation methods on tiny hand-built networks whose answers are known by hand,
and every method's shape and finiteness on awkward inputs."""
import numpy as np
import pytest

from cnn_core import paths
from cnn_core.errors import ConfigError, ImageError
from cnn_core.explain import (CAM_METHODS, METHODS, Explainer, explain, occlusion, record_pass,
                              saliency, smooth_grad)
from cnn_core.explain.backprop import backward
from cnn_core.explain.passes import upsample
from cnn_core.model_files import load_model
from cnn_core.network import Network

PIXELS = 28 * 28
W = 1.0 / PIXELS


def conv(name, c_in, c_out):
    return {"type": "conv", "name": name, "in_channels": c_in, "out_channels": c_out}


def two_channel_network(pool=False):
    """conv1 copies the image (channel 0) and its negative plus one (channel 1);
    class 3 sums channel 0, class 5 sums channel 1, each with weight 1/784.

    So score3 = mean(x) and score5 = mean(1 - x), and every gradient is known.
    """
    side = 14 if pool else 28
    arch = [conv("conv1", 1, 2), {"type": "relu", "name": "relu1"}]
    arch += [{"type": "maxpool", "name": "pool1"}] if pool else []
    arch += [{"type": "flatten", "name": "flatten"},
             {"type": "dense", "name": "fc", "in_features": 2 * side * side, "out_features": 10}]
    net = Network(arch)
    c = net.layer("conv1").params
    c["weight"][0, 0, 1, 1], c["weight"][1, 0, 1, 1] = 1.0, -1.0
    c["bias"][:] = [0.0, 1.0]
    fc = net.layer("fc").params["weight"]
    fc[3, :side * side] = W
    fc[5, side * side:] = W
    return net


def two_squares():
    """Square A (value 1) at rows/cols 4..8, square B (value 0.5) at 18..22."""
    x = np.zeros((28, 28), np.float32)
    x[4:9, 4:9] = 1.0
    x[18:23, 18:23] = 0.5
    return x


@pytest.fixture(scope="module")
def shipped():
    return load_model(paths.SHIPPED_MODEL)[0]


@pytest.mark.parametrize("method", list(CAM_METHODS))
def test_every_cam_of_class_3_is_the_image_itself(method):
    # dS3/dA is 1/784 on channel 0 and 0 on channel 1, so each method weighs
    # channel 0 (= x) alone: the map is proportional to x.
    x = two_squares()
    e = explain(two_channel_network(), x, method, layer="conv1", target=3)
    np.testing.assert_allclose(e.heatmap, x, atol=1e-6)
    assert e.raw.shape == (28, 28) and e.target == 3 and e.layer == "conv1"


def test_grad_cam_raw_values_and_default_target_by_hand():
    x = two_squares()
    net = two_channel_network()
    plain = explain(net, x, "gradcam", layer="conv1", target=3)
    np.testing.assert_allclose(plain.raw, W * x, rtol=1e-5)
    # score5 = mean(1 - x) > score3, so 5 is predicted and explained by default:
    # the map is the background, 1 - x.
    default = explain(net, x, "gradcam", layer="conv1")
    assert default.predicted == default.target == 5
    np.testing.assert_allclose(default.heatmap, 1 - x, atol=1e-6)


def test_contrast_grad_cam_by_hand_and_differs_from_plain():
    # Weights (w, -w): relu(w x - w (1 - x)) = w relu(2x - 1): square A only.
    x = two_squares()
    e = explain(two_channel_network(), x, "gradcam", layer="conv1", target=3, contrast=5)
    np.testing.assert_allclose(e.raw, W * np.maximum(2 * x - 1, 0), rtol=1e-5, atol=1e-9)
    assert e.contrast == 5 and not np.allclose(e.heatmap, x)


def test_saliency_by_hand():
    x = two_squares()
    net = two_channel_network()
    # d score3 / dx = 1/784 where channel 0 is active (x > 0), else 0.
    three = saliency(net, x, target=3)
    np.testing.assert_allclose(three.raw[0], W * (x > 0), rtol=1e-6)
    np.testing.assert_array_equal(three.heatmap[0], (x > 0).astype(np.float32))
    # d score5 / dx = -1/784 where channel 1 is active (1 - x > 0), else 0.
    five = saliency(net, x, target=5)
    np.testing.assert_allclose(five.raw[0], -W * (x < 1), rtol=1e-6)


def test_cam_at_a_pooled_layer_is_low_resolution_and_upsampled():
    x = two_squares()
    e = explain(two_channel_network(pool=True), x, "gradcam", layer="pool1", target=3)
    pooled = x.reshape(14, 2, 14, 2).max(axis=(1, 3))
    np.testing.assert_allclose(e.raw, W * pooled, rtol=1e-5)
    assert e.heatmap.shape == (28, 28) and e.heatmap.max() == pytest.approx(1.0)
    assert e.heatmap[6, 6] > 0.9 and e.heatmap[27, 0] == 0


def test_upsample_is_bilinear_with_half_pixel_centres():
    ramp = np.tile(np.arange(14, dtype=np.float32), (14, 1))[None]
    big = upsample(ramp)[0]
    # Output pixel j sits at input coordinate (j + 0.5) / 2 - 0.5.
    np.testing.assert_allclose(big[5, 2:26], (np.arange(2, 26) + 0.5) / 2 - 0.5, atol=1e-5)
    np.testing.assert_allclose(upsample(np.full((1, 7, 7), 3.0))[0], 3.0, rtol=1e-6)


def test_contrast_saliency_is_the_difference_of_the_two_gradients(shipped):
    x = np.random.default_rng(0).random((28, 28), np.float32)
    both = saliency(shipped.copy(), x, target=7, contrast=1).raw
    seven = saliency(shipped.copy(), x, target=7).raw
    one = saliency(shipped.copy(), x, target=1).raw
    np.testing.assert_allclose(both, seven - one, rtol=1e-4, atol=1e-6)


def test_contrast_mode_changes_every_map_on_the_shipped_model(shipped):
    from cnn_core.data import load_sample
    sevens = load_sample()[1]
    image = sevens.as_float()[list(sevens.labels).index(7), 0]
    explainer = Explainer(shipped)
    for method in ("gradcam", "saliency", "occlusion"):
        plain = explainer.explain(image, method, target=7)
        against = explainer.explain(image, method, target=7, contrast=1)
        assert not np.allclose(plain.heatmap, against.heatmap, atol=1e-3), method


def test_occlusion_finds_a_planted_patch():
    # Only the 4×4 square at rows 12..15, columns 16..19 counts for class 7.
    net = Network([conv("conv1", 1, 1), {"type": "relu", "name": "relu1"},
                   {"type": "flatten", "name": "flatten"},
                   {"type": "dense", "name": "fc", "in_features": PIXELS, "out_features": 10}])
    net.layer("conv1").params["weight"][0, 0, 1, 1] = 1.0
    planted = np.zeros((28, 28), bool)
    planted[12:16, 16:20] = True
    net.layer("fc").params["weight"][7] = planted.ravel()
    x = np.random.default_rng(1).random((28, 28)).astype(np.float32) * 0.5
    x[planted] = 1.0
    result = occlusion(net, x, patch=4, stride=2)
    assert result.targets[0] == 7
    peak = np.unravel_index(result.raw[0].argmax(), (28, 28))
    assert planted[peak]
    # Pixels no patch touching the square covers get no credit at all.
    reach = np.zeros((28, 28), bool)
    reach[10:18, 14:22] = True
    assert np.all(result.raw[0][~reach] == 0)


def test_gradient_only_backward_matches_the_network():
    net = Network(seed=0)
    rng = np.random.default_rng(0)
    for layer in net.layers:
        if "bias" in layer.params:
            layer.params["bias"][:] = rng.normal(0, 0.1, layer.params["bias"].shape)
    x = rng.random((3, 1, 28, 28)).astype(np.float32)
    seed = rng.normal(size=(3, 10)).astype(np.float32)
    forward_pass = net.forward(x, record=True)
    expected = net.backward(forward_pass, seed, need_input_grad=True, record=True)
    got, recorded = backward(net, forward_pass, seed, record=True)
    np.testing.assert_allclose(got, expected.input_grad, rtol=1e-5, atol=1e-7)
    assert recorded.keys() == expected.output_grads.keys()
    for name, value in expected.output_grads.items():
        np.testing.assert_allclose(recorded[name], value, rtol=1e-5, atol=1e-7, err_msg=name)


def test_smoothgrad_is_repeatable_with_its_seed(shipped):
    x = np.random.default_rng(2).random((28, 28), np.float32)
    a, b = (smooth_grad(shipped.copy(), x, samples=8, seed=4).raw for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, smooth_grad(shipped.copy(), x, samples=8, seed=5).raw)


INPUTS = {"random": np.random.default_rng(3).random((28, 28), np.float32),
          "blank": np.zeros((28, 28), np.float32),
          "saturated": np.ones((28, 28), np.float32)}


@pytest.mark.parametrize("which", ["shipped", "untrained"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_finite_and_well_shaped_on_awkward_inputs(method, which, shipped):
    explainer = Explainer(shipped if which == "shipped" else Network(seed=0))
    options = {"integrated-gradients": {"steps": 16}, "smoothgrad": {"samples": 8}}.get(method, {})
    for name, image in INPUTS.items():
        e = explainer.explain(image, method, **options)
        assert e.heatmap.shape == (28, 28) and e.heatmap.dtype == np.float32, name
        assert np.isfinite(e.heatmap).all() and np.isfinite(e.raw).all(), name
        assert e.heatmap.min() >= 0 and e.heatmap.max() <= 1, name
        assert e.raw.shape == ((14, 14) if method in CAM_METHODS else (28, 28)), name
        assert e.probabilities.sum() == pytest.approx(1.0) and 0 <= e.target <= 9


def test_analyse_gives_every_layer_and_every_cam_from_one_pass(shipped):
    image = INPUTS["random"]
    explainer = Explainer(shipped)
    analysis = explainer.analyse(image, target=4)
    assert set(analysis.cams) == {"conv1", "conv2", "conv3", "conv4"}
    assert analysis.activations["conv2"].shape == (16, 28, 28)
    assert analysis.activations["pool2"].shape == (64, 7, 7)
    assert analysis.activations["relu5"].shape == (128,)
    kept = analysis.activations["relu2"].copy()
    for layer, (raw, heatmap) in analysis.cams.items():
        alone = explainer.explain(image, "gradcam", layer=layer, target=4)
        np.testing.assert_allclose(heatmap, alone.heatmap, atol=1e-6)
        np.testing.assert_allclose(raw, alone.raw, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(analysis.activations["relu2"], kept)   # copies, not buffers


def test_explaining_leaves_the_given_network_untouched(shipped):
    state = shipped.state_dict()
    for method in METHODS:
        explain(shipped, INPUTS["random"], method)
    for name, value in shipped.state_dict().items():
        np.testing.assert_array_equal(value, state[name])


@pytest.mark.parametrize("kwargs, error", [
    ({"method": "lime"}, ConfigError),
    ({"method": "gradcam", "layer": "fc1"}, ConfigError),
    ({"method": "gradcam", "layer": "conv9"}, ConfigError),
    ({"target": 10}, ConfigError),
    ({"target": -1}, ConfigError),
    ({"target": 3, "contrast": 3}, ConfigError),
    ({"method": "occlusion", "steps": 3}, ConfigError),
    ({"method": "gradcam", "steps": 3}, ConfigError),
    ({"method": "occlusion", "patch": 0}, ConfigError),
])
def test_bad_requests_raise_one_line_user_errors(kwargs, error, shipped):
    with pytest.raises(error) as info:
        explain(shipped, INPUTS["random"], **kwargs)
    assert "\n" not in str(info.value)


def test_a_wrong_image_shape_is_an_image_error(shipped):
    with pytest.raises(ImageError):
        explain(shipped, np.zeros((20, 20)))
    with pytest.raises(ImageError):
        explain(shipped, np.full((28, 28), np.nan))


@pytest.mark.parametrize("method", sorted(CAM_METHODS))
def test_one_layer_cam_stops_early_but_matches_the_full_pass(method):
    """A CAM of one layer back-propagates only down to it, and gives the maps of a full pass."""
    network = load_model(paths.SHIPPED_MODEL)[0]
    images = np.random.default_rng(4).random((3, 1, 28, 28)).astype(np.float32)
    cam = CAM_METHODS[method]
    full = cam.from_pass(network, record_pass(network, images))
    for layer in network.conv_layer_names():
        maps, recorded = cam(network, images, layer)
        np.testing.assert_allclose(maps.heatmap, full[layer].heatmap, rtol=1e-5, atol=1e-6)
        convs = network.conv_layer_names()
        lower = convs[:convs.index(layer)]
        assert not any(name in recorded.gradients for name in lower), "went further down"
