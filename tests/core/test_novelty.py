"""The unsure flag: its maths against SciPy, its rule, and its rates on the shipped model."""
import copy

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from cnn_core.explain import novelty
from cnn_core.data import load_sample, stratified_split
from cnn_core.errors import ConfigError
from cnn_core.explain.passes import forward_to, layer_index
from cnn_core.model_files import load_model
from cnn_core.network import Network, default_architecture
from cnn_core.explain.novelty import (NoveltyDetector, Verdict, close_calls, feature_layer,
                                      layer_features, with_thick_strokes)
from cnn_core.paths import SHIPPED_MODEL
from cnn_core.preprocessing import preprocess
from tests.drawn_digits import drawn_digits
from tests.nondigits import draw, nondigits

#: The rates issue 20 asks for.
MIN_NONDIGITS_FLAGGED = 0.70
MAX_DIGITS_FLAGGED = 0.02
#: Digits drawn as people draw them (thin to thick pen, small to large, slanted)
#: taken for no digit: the app is judged on these.
MAX_DRAWN_DIGITS_NOT_A_DIGIT = 0.05


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED_MODEL)[0]


@pytest.fixture(scope="module")
def sample():
    train, validation = load_sample()
    return train.as_float(), train.labels, validation.as_float(), validation.labels


@pytest.fixture(scope="module")
def classes_fitted(shipped, sample):
    """The shipped model's class Gaussians, fitted as the app fits them: on the 4,000
    training digits and 2,000 of them with thicker strokes."""
    return NoveltyDetector().fit_classes(shipped, *with_thick_strokes(sample[0], sample[1]))


@pytest.fixture(scope="module")
def detector(classes_fitted, sample):
    """As the app has it: calibrated on the 1,000 validation digits."""
    return copy.copy(classes_fitted).calibrate(sample[2])


@pytest.fixture(scope="module")
def drawings():
    return nondigits(per_kind=4, seed=0)


def flag_rate(detector, network, images):
    verdicts = detector.judge(images, network.predict_proba(images))
    return np.mean([v.unsure for v in verdicts])


# --- the parts ---------------------------------------------------------------------------

def test_the_layer_is_read_from_the_architecture():
    assert feature_layer(default_architecture()) == "relu4"
    no_relu = [s for s in default_architecture() if s["name"] != "relu4"]
    assert feature_layer(no_relu) == "conv4"
    dense_only = [{"type": "flatten", "name": "f"},
                  {"type": "dense", "name": "hidden", "in_features": 784, "out_features": 32},
                  {"type": "relu", "name": "act"},
                  {"type": "dense", "name": "out", "in_features": 32, "out_features": 10}]
    assert feature_layer(dense_only) == "act"
    with pytest.raises(ConfigError):
        feature_layer(dense_only[:1] + dense_only[3:])


def test_features_are_channel_means_of_the_layer(shipped, sample):
    images = sample[2][:40]
    maps = forward_to(shipped.copy(), images, layer_index(shipped, "relu4")).output  # (C, N, H, W)
    expected = np.asarray(maps, np.float64).mean(axis=(2, 3)).T
    np.testing.assert_allclose(layer_features(shipped.copy(), images, "relu4"), expected,
                               rtol=1e-5, atol=1e-7)


def test_raw_score_is_the_smallest_gaussian_negative_log_likelihood(shipped, sample):
    """Against SciPy's density, with the covariances built here by outer products."""
    train, labels = sample[0][:300], sample[1][:300]
    detector = NoveltyDetector().fit_classes(shipped, train, labels)
    features = layer_features(shipped.copy(), train, detector.layer)
    queries = sample[2][:25]
    query_features = layer_features(shipped.copy(), queries, detector.layer)
    width = features.shape[1]
    expected = np.full(len(queries), np.inf)
    for digit in range(10):
        members = features[labels == digit]
        centred = members - members.mean(axis=0)
        covariance = sum(np.outer(row, row) for row in centred) / len(members)
        covariance += (novelty.SHRINKAGE * np.trace(covariance) / width + 1e-6) * np.eye(width)
        log_density = multivariate_normal(members.mean(axis=0), covariance).logpdf(query_features)
        expected = np.minimum(expected, -2 * log_density - width * np.log(2 * np.pi))
    np.testing.assert_allclose(detector._raw_scores(queries), expected, rtol=1e-6)


def test_threshold_flags_the_allowed_share_counting_close_calls():
    raw = np.arange(200.0)                       # 2 % of 200 is 4 images
    none_close = np.zeros(200, bool)
    assert novelty._calibrated_threshold(raw, none_close, 0.02) == 195.0     # flags 196..199
    two_close = none_close.copy()
    two_close[[10, 198]] = True                  # two places used by close calls
    threshold = novelty._calibrated_threshold(raw, two_close, 0.02)
    assert np.sum((raw > threshold) | two_close) == 4
    assert novelty._calibrated_threshold(raw, np.ones(200, bool), 0.02) == 199.0


def test_close_calls_and_their_reason(detector, shipped, sample):
    probabilities = np.array([[0.0] * 4 + [0.5, 0.0, 0.0, 0.0, 0.0, 0.4],
                              [0.9, 0.1] + [0.0] * 8])
    assert close_calls(probabilities).tolist() == [True, False]
    digit = sample[2][:1]
    verdict, = detector.judge(digit, probabilities[:1])
    assert verdict == Verdict(True, verdict.novelty, "close call between 4 and 9")
    assert verdict.novelty < 1


def test_thickened_copies_are_the_same_digits_with_wider_strokes(sample):
    images, labels = with_thick_strokes(sample[0][:10], sample[1][:10], every=2)
    assert images.shape == (15, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_array_equal(images[:10], sample[0][:10])
    np.testing.assert_array_equal(labels, np.concatenate([sample[1][:10], sample[1][:10:2]]))
    for thin, thick in zip(sample[0][:10:2, 0], images[10:, 0]):
        assert (thick > 0.5).sum() > 1.15 * (thin > 0.5).sum()     # more ink: wider strokes
        assert thick.max() == 1.0 and (thick[:4] == 0).all()        # boxed as the canvas is


def test_unfitted_or_ill_fed_detector_says_so(shipped, sample):
    with pytest.raises(ConfigError, match="not fitted"):
        NoveltyDetector().judge(sample[2][:1], np.full((1, 10), 0.1))
    missing_nine = sample[1] != 9
    with pytest.raises(ConfigError, match="every digit"):
        NoveltyDetector().fit_classes(shipped, sample[0][missing_nine], sample[1][missing_nine])


def test_the_network_is_copied(shipped, sample):
    network = shipped.copy()
    detector = NoveltyDetector().fit(network, sample[0][:200], sample[1][:200], sample[2][:100])
    before = detector._raw_scores(sample[2][:5])
    network.initialize(seed=3)                   # "training" goes on after the fit
    np.testing.assert_array_equal(detector._raw_scores(sample[2][:5]), before)


# --- the rates on the shipped model -------------------------------------------------------

def test_drawn_x_is_flagged_as_no_digit(detector, shipped):
    image = preprocess(draw("X", np.random.default_rng(7)))[None, None]
    verdict, = detector.judge(image, shipped.predict_proba(image))
    assert verdict.unsure and verdict.reason == novelty.NOT_A_DIGIT and verdict.novelty > 1


def test_most_nondigits_and_few_digits_are_flagged(detector, shipped, sample, drawings):
    images, kinds = drawings
    assert len(images) >= 100 and len(set(kinds)) >= 30
    assert flag_rate(detector, shipped, images) >= MIN_NONDIGITS_FLAGGED
    assert flag_rate(detector, shipped, sample[2]) <= MAX_DIGITS_FLAGGED


def test_digits_drawn_as_people_draw_are_rarely_taken_for_no_digit(detector, shipped):
    """Thin to thick pens, small to large, slanted, wobbly: 300 drawn digits (seed 2; the
    thickened fit was chosen looking at seed 1), through the canvas's own preprocessing."""
    images, labels, widths = drawn_digits(per_style=10, seed=2)
    verdicts = detector.judge(images, shipped.predict_proba(images))
    not_a_digit = np.array([v.reason == novelty.NOT_A_DIGIT for v in verdicts])
    assert not_a_digit.mean() <= MAX_DRAWN_DIGITS_NOT_A_DIGIT
    thick = widths > 18                                              # the brush drawn small
    assert thick.sum() >= 40 and not_a_digit[thick].mean() <= MAX_DRAWN_DIGITS_NOT_A_DIGIT
    assert np.mean([v.unsure for v in verdicts]) <= MAX_DRAWN_DIGITS_NOT_A_DIGIT


def test_digit_rate_holds_on_digits_it_was_not_calibrated_on(classes_fitted, shipped, sample):
    """Two-fold: calibrate on half the validation digits, count flags on the other half."""
    first, second = stratified_split(sample[3], len(sample[3]) // 2, seed=1)
    rates = []
    for calibration, held_out in ((first, second), (second, first)):
        detector = copy.copy(classes_fitted).calibrate(sample[2][calibration])
        rates.append(flag_rate(detector, shipped, sample[2][held_out]))
    assert np.mean(rates) <= MAX_DIGITS_FLAGGED, rates


def test_an_untrained_network_is_unsure_of_almost_everything(sample):
    """The app's "reset" shows a fresh network: its answers are close calls, and say so."""
    network = Network(seed=0)
    detector = NoveltyDetector().fit(network, sample[0][:200], sample[1][:200], sample[2][:200])
    assert flag_rate(detector, network, sample[2][200:400]) > 0.9


def test_a_fit_is_kept_for_the_same_weights_and_redone_for_others(shipped):
    first = novelty.fit_on_sample(shipped)
    assert novelty.fit_on_sample(shipped.copy()) is first     # same weights, another object
    changed = shipped.copy()
    changed.layer("fc2").params["bias"][0] += 1.0
    refitted = novelty.fit_on_sample(changed)
    assert refitted is not first and refitted.fitted
    assert novelty.fit_on_sample(shipped) is first
