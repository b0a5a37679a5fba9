"""``python main.py explain --json``: one JSON object whose map is the engine's own.

Each test runs the real command in a subprocess (the ``cli`` fixture of
``test_faults_cli.py``) and recomputes what it printed with the engine's
functions in this process.
"""
import json

import numpy as np
import pytest
from PIL import Image

from digit_files import load_digit
from cnn_core import paths
from cnn_core.data import load_sample
from cnn_core.explain import (CAM_METHODS, Explainer, integrated_gradients, perturbation_curves,
                              saliency)
from cnn_core.model_files import load_model
from tests.core.test_explain_cli import digit_png  # noqa: F401 (fixture)
from tests.core.test_faults_cli import cli, data_dir, error_line  # noqa: F401 (fixtures)

KEYS = {"digit", "probabilities", "method", "layer", "target", "contrast", "input", "map",
        "deletion_auc"}


@pytest.fixture(scope="module")
def shipped():
    return load_model(paths.SHIPPED_MODEL)[0]


def explain_json(cli, *args):
    """Run ``explain --json ARGS``; check stdout is one JSON object and return it."""
    result = cli("explain", "--json", *args)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1, result.stdout
    record = json.loads(result.stdout)
    assert set(record) == KEYS
    return record


def check_prediction(record, image, label, network):
    """``digit``, ``probabilities`` and ``input`` are those of the image the network saw."""
    given = np.array(record["input"], np.float32)
    np.testing.assert_array_equal(given, load_digit(image))
    probabilities = np.array(record["probabilities"])
    assert probabilities.shape == (10,) and probabilities.sum() == pytest.approx(1, abs=1e-9)
    assert record["digit"] == label == int(probabilities.argmax())
    np.testing.assert_allclose(probabilities, network.predict_proba(given[None, None])[0],
                               rtol=1e-5, atol=1e-7)
    return given


@pytest.mark.parametrize("method, layer, side", [("gradcam", None, 14), ("gradcam++", "conv4", 14),
                                                 ("hirescam", "conv2", 28),
                                                 ("layercam", "conv3", 14)])
@pytest.mark.parametrize("contrast", [None, 1])
def test_a_cam_map_is_the_layers_own_unscaled_map(method, layer, side, contrast, cli, digit_png,
                                                  shipped):
    image, label = digit_png
    args = ["--image", image, "--method", method]
    args += ["--layer", layer] if layer else []
    args += ["--contrast", contrast] if contrast is not None else []
    record = explain_json(cli, *args)
    given = check_prediction(record, image, label, shipped)
    assert (record["method"], record["layer"]) == (method, layer or "conv4")
    assert (record["target"], record["contrast"]) == (label, contrast)
    maps = CAM_METHODS[method](shipped, given, record["layer"], None, contrast)[0]
    got = np.array(record["map"])
    assert got.shape == (side, side), "the map is at the layer's resolution, not upsampled"
    np.testing.assert_allclose(got, maps.raw[0], rtol=1e-6, atol=1e-9 * maps.raw.max())
    if got.max() > 0:           # unscaled: the method's own units, not [0, 1]
        assert got.max() != pytest.approx(1.0)
        curve = perturbation_curves(shipped, given, maps.heatmap, [label])
        assert record["deletion_auc"] == pytest.approx(curve.auc[0], abs=1e-6)
    else:
        assert record["deletion_auc"] is None


@pytest.mark.parametrize("method, engine", [("saliency", saliency),
                                            ("integrated-gradients", integrated_gradients)])
def test_a_pixel_map_is_the_signed_attribution(method, engine, cli, digit_png, shipped):
    image, label = digit_png
    record = explain_json(cli, "--image", image, "--method", method, "--target", 5)
    given = check_prediction(record, image, label, shipped)
    assert (record["method"], record["layer"], record["target"], record["contrast"]) == \
        (method, None, 5, None)
    got = np.array(record["map"])
    expected = engine(shipped, given, 5).raw[0]
    assert got.shape == (28, 28) and (got < 0).any() and (got > 0).any()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    assert 0 <= record["deletion_auc"] <= 1


def test_json_with_out_also_writes_the_picture_and_prints_only_json(cli, digit_png, tmp_path):
    out = tmp_path / "heat.png"
    record = explain_json(cli, "--image", digit_png[0], "--out", out)
    assert record["digit"] == digit_png[1]
    with Image.open(out) as picture:
        assert picture.format == "PNG"


def test_an_empty_map_has_no_deletion_auc(cli, shipped, tmp_path):
    """Grad-CAM at conv3 is empty for most digits; the first such digit, found here."""
    split = load_sample()[1]
    explainer = Explainer(shipped)
    empty = next(i for i in range(len(split.labels))
                 if not explainer.explain(split.as_float()[i, 0], "gradcam", "conv3").heatmap.any())
    image = tmp_path / "digit.png"
    Image.fromarray(split.images[empty]).save(image)
    record = explain_json(cli, "--image", image, "--layer", "conv3")
    assert record["deletion_auc"] is None
    assert not np.array(record["map"]).any()


@pytest.mark.parametrize("options, mention", [
    ([], "--json"),
    (["--json", "--layer", "conv9"], "conv9"),
    (["--json", "--method", "saliency", "--layer", "conv2"], "--layer"),
    (["--json", "--target", "4", "--contrast", "4"], "--contrast"),
    (["--json", "--out", "{tmp}/heat.jpg"], ".png"),
])
def test_bad_input_exits_2_with_one_line_and_no_json(options, mention, cli, digit_png, tmp_path):
    args = [o.format(tmp=tmp_path) for o in options]
    error_line(cli("explain", "--image", digit_png[0], *args), mention)
    assert not list(tmp_path.iterdir())
