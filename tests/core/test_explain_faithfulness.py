"""Are the explanations faithful?  Completeness, deletion curves and the sanity check,
on the shipped model and the validation split."""
import numpy as np
import pytest

from cnn_core import paths
from cnn_core.data import load_sample
from cnn_core.explain import (completeness_gap, compare_with_random, heatmap_function,
                              integrated_gradients, perturbation_curves, sanity_check,
                              sanity_check_methods, spearman)
from cnn_core.losses import softmax
from cnn_core.model_files import load_model


@pytest.fixture(scope="module")
def network():
    return load_model(paths.SHIPPED_MODEL)[0].copy()


@pytest.fixture(scope="module")
def validation():
    split = load_sample()[1]
    return split.as_float(), split.labels


def test_integrated_gradients_is_complete_within_one_percent_at_the_default_steps(network, validation):
    images = validation[0][:20]
    attribution = integrated_gradients(network, images)
    assert completeness_gap(network, attribution, images).max() < 0.01
    against = integrated_gradients(network, images[:5], target=validation[1][:5],
                                   contrast=(validation[1][:5] + 1) % 10)
    assert completeness_gap(network, against, images[:5]).max() < 0.01


def test_integrated_gradients_attributes_nothing_to_black_pixels(network, validation):
    image = validation[0][0]
    raw = integrated_gradients(network, image, steps=8).raw[0]
    assert np.all(raw[image[0] == 0] == 0)


def test_grad_cam_deletes_the_evidence_much_faster_than_a_random_order(network, validation):
    images = validation[0][:50]
    targets = network.predict_logits(images).argmax(axis=1)
    heatmaps = heatmap_function("gradcam")(network, images, targets)
    gradcam_auc, random_auc = compare_with_random(network, images, heatmaps, targets)
    assert gradcam_auc < 0.7 * random_auc, (gradcam_auc, random_auc)


def test_deletion_and_insertion_curves_run_between_the_image_and_the_black_page(network, validation):
    image = validation[0][:1]
    target = int(network.predict_logits(image).argmax())
    heat = np.random.default_rng(0).random((1, 28, 28))
    p_image = softmax(network.predict_logits(image).astype(np.float64))[0, target]
    p_blank = softmax(network.predict_logits(np.zeros_like(image)).astype(np.float64))[0, target]
    deletion = perturbation_curves(network, image, heat, [target], "deletion")
    insertion = perturbation_curves(network, image, heat, [target], "insertion")
    assert deletion.fractions[0] == 0 and deletion.fractions[-1] == 1
    assert deletion.probabilities[0, 0] == pytest.approx(p_image, rel=1e-5)
    assert deletion.probabilities[0, -1] == pytest.approx(p_blank, rel=1e-5)
    assert insertion.probabilities[0, 0] == pytest.approx(p_blank, rel=1e-5)
    assert insertion.probabilities[0, -1] == pytest.approx(p_image, rel=1e-5)
    assert 0 <= deletion.auc[0] <= 1


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200).astype(float)
    b = a + rng.integers(0, 3, 200)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)
    assert spearman(np.zeros(9), np.zeros(9)) == 1.0
    assert spearman(np.zeros(9), np.arange(9)) == 0.0


def edge_detector(network, images, targets):
    """A "method" that never looks at the model: gradient magnitude of the image."""
    x = images[:, 0]
    gy, gx = np.zeros_like(x), np.zeros_like(x)
    gy[:, 1:-1] = x[:, 2:] - x[:, :-2]
    gx[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    return np.hypot(gx, gy)


def test_sanity_check_passes_model_dependent_maps_and_fails_an_edge_detector(network, validation):
    images = validation[0][:12]
    reports = sanity_check_methods(network, images, {
        "gradcam": heatmap_function("gradcam"), "saliency": heatmap_function("saliency"),
        "edges": edge_detector})
    steps = ["fc2", "fc1", "conv4", "conv3", "conv2", "conv1"]
    for name in ("gradcam", "saliency"):
        report = reports[name]
        assert report.steps == steps and report.passed, (name, report.correlations)
        assert report.correlations.max() < 0.9, (name, report.correlations)
    # Re-initialising fc2 alone already scrambles Grad-CAM: it depends on the class weights.
    assert reports["gradcam"].correlations[0] < 0.5
    edges = reports["edges"]
    assert not edges.passed and np.all(edges.correlations == 1.0)


def test_sanity_check_leaves_the_network_alone_and_is_repeatable(network, validation):
    images = validation[0][:4]
    before = network.state_dict()
    first = sanity_check(network, images, heatmap_function("saliency"), seed=3)
    second = sanity_check(network, images, heatmap_function("saliency"), seed=3)
    np.testing.assert_array_equal(first.correlations, second.correlations)
    for name, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
