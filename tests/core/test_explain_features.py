"""Activations, kernels, feature visualisation, top patches, the embedding and the
misclassified list."""
import numpy as np
import pytest

from cnn_core import paths
from cnn_core.data import load_sample
from cnn_core.errors import ConfigError
from cnn_core.explain import (PCAEmbedding, activations, batch_activations, dense_features,
                              feature_visualisation, kernel_mosaics, receptive_field, top_patches)
from cnn_core.explain.features import _crop
from cnn_core.metrics import misclassified
from cnn_core.model_files import load_model
from cnn_core.network import Network


@pytest.fixture(scope="module")
def network():
    return load_model(paths.SHIPPED_MODEL)[0].copy()


@pytest.fixture(scope="module")
def validation():
    return load_sample()[1].as_float()


def test_activations_are_per_image_channel_first_copies(network, validation):
    outputs, logits = activations(network, validation[0, 0])
    batch, _ = batch_activations(network, validation[:3])
    assert outputs["conv1"].shape == (8, 28, 28) and outputs["fc2"].shape == (10,)
    np.testing.assert_allclose(outputs["relu4"], batch["relu4"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["fc2"], logits, rtol=1e-6)
    network.forward(validation[:1, :, ::-1].copy(), record=True)    # a different pass
    np.testing.assert_allclose(outputs["relu4"], batch["relu4"][0], rtol=1e-5, atol=1e-6)
    assert set(outputs) == {layer.name for layer in network.layers}


def test_kernel_mosaics_one_per_conv_layer(network):
    mosaics = kernel_mosaics(network)
    assert list(mosaics) == ["conv1", "conv2", "conv3", "conv4"]
    mosaic, limit = mosaics["conv2"]
    assert mosaic.shape == (16 * 4 - 1, 8 * 4 - 1)
    assert limit == pytest.approx(np.abs(network.layer("conv2").params["weight"]).max())


def test_receptive_fields_of_the_default_network():
    net = Network()
    assert receptive_field(net, "conv1") == (3, 1, 0.0)
    assert receptive_field(net, "conv2") == (5, 1, 0.0)
    assert receptive_field(net, "pool1") == (6, 2, 0.5)
    assert receptive_field(net, "conv4") == (14, 2, 0.5)
    assert receptive_field(net, "pool2") == (16, 4, 1.5)


def test_feature_visualisation_is_repeatable_and_excites_its_channel(network, validation):
    first = feature_visualisation(network, "conv3", 5, steps=32)
    again = feature_visualisation(network, "conv3", 5, steps=32)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (28, 28) and first.min() >= 0 and first.max() <= 1
    other = feature_visualisation(network, "conv3", 5, steps=32, seed=1)
    assert not np.array_equal(first, other)

    # It excites the channel more than any real digit does.
    outputs = network.forward(np.concatenate([first[None, None], validation[:200]]),
                              record=True).outputs
    means = outputs["conv3"][5].mean(axis=(1, 2))
    assert means[0] > means[1:].max()


def test_top_patches_are_the_strongest_receptive_field_crops(network, validation):
    images = validation[:200]
    result = top_patches(network, images, "conv4", 7, k=9)
    assert result.patches.shape == (9, 14, 14)
    assert len(set(result.indices.tolist())) == 9
    assert np.all(np.diff(result.values) <= 0)
    maps = network.forward(images, record=True).outputs["conv4"][7]
    assert result.values[0] == pytest.approx(maps.max(), rel=1e-5)
    best = result.indices[0]
    row, col = result.positions[0]
    assert maps[best, row, col] == pytest.approx(result.values[0], rel=1e-5)
    top, left = result.corners[0]
    np.testing.assert_array_equal(result.patches[0], _crop(images[best, 0], top, left, 14))


def test_crops_outside_the_image_are_zero_padded():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    crop = _crop(image, -1, 2, 3)
    np.testing.assert_array_equal(crop, [[0, 0, 0], [2, 3, 0], [6, 7, 0]])


def test_channel_and_layer_are_checked(network, validation):
    with pytest.raises(ConfigError):
        feature_visualisation(network, "conv1", 8)
    with pytest.raises(ConfigError):
        top_patches(network, validation[:2], "fc1", 0)


def test_pca_embedding_keeps_its_basis_once_fitted(network, validation):
    features = dense_features(network, validation[:300])
    assert features.shape == (300, 128)
    embedding = PCAEmbedding().fit(features[:200])
    points = embedding.transform(features)
    assert points.shape == (300, 2)
    # Against an independent oracle: eigenvectors of the covariance matrix.
    centred = features[:200] - features[:200].mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(centred.T.astype(np.float64)))
    top = vectors[:, ::-1][:, :2]
    for k in range(2):
        assert abs(top[:, k] @ embedding.components_[k]) == pytest.approx(1.0, abs=1e-6)
    # Fixed: other data (or the same data later in training) does not move the axes.
    basis = embedding.components_.copy()
    embedding.transform(features[200:] * 2)
    np.testing.assert_array_equal(embedding.components_, basis)
    refit = PCAEmbedding().fit(features[:200])
    np.testing.assert_allclose(refit.components_, basis)      # no sign flips
    with pytest.raises(ConfigError):
        PCAEmbedding().transform(features)


def test_misclassified_lists_the_confident_mistakes_first():
    labels = np.array([0, 1, 2, 3])
    probabilities = np.array([[0.9, 0.1, 0, 0], [0.6, 0.4, 0, 0], [0, 0.2, 0.8, 0],
                              [0, 0, 0.9, 0.1]])
    wrong = misclassified(labels, probabilities)
    np.testing.assert_array_equal(wrong["index"], [3, 1])
    np.testing.assert_array_equal(wrong["true"], [3, 1])
    np.testing.assert_array_equal(wrong["predicted"], [2, 0])
    np.testing.assert_allclose(wrong["confidence"], [0.9, 0.6])
