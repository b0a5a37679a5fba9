"""A 2-D map of what the dense layer has learnt: PCA of fc1's 128 rectified units.

The basis is fitted once (say on the validation set at some epoch) and then
kept: later epochs are projected onto the *same* axes, so when the points
move across training it is the network that moved, not the axes.
"""
import numpy as np

from ..errors import ConfigError
from ..network import CHUNK
from .passes import as_batch, layer_index

#: The layer whose output is embedded: fc1 after its ReLU, 128 units.
EMBEDDING_LAYER = "relu5"


def dense_features(network, images, layer=EMBEDDING_LAYER, chunk=CHUNK):
    """The output of a dense (or any) layer for many images, ``(N, F)`` float32.

    Parameters
    ----------
    network : Network
    images : array_like, (N, 1, 28, 28)
    layer : str
        Default ``"relu5"``, fc1 after its ReLU.
    """
    batch = as_batch(images, network.dtype)
    layer_index(network, layer)         # an unknown name fails before any work
    parts = []
    with network.workspaces.lease() as workspace:
        for start in range(0, len(batch), chunk):
            out = network.forward(batch[start:start + chunk], record=True,
                                  workspace=workspace).outputs[layer]
            if out.ndim == 4:               # channel-major maps -> image rows
                out = out.transpose(1, 0, 2, 3).reshape(out.shape[1], -1)
            parts.append(np.array(out, np.float32))
    return np.concatenate(parts)


class PCAEmbedding:
    """Principal component projection with a basis that stays fixed once fitted.

    Parameters
    ----------
    n_components : int
        Dimensions of the embedding (2 for a scatter plot).

    Attributes
    ----------
    mean_ : ndarray, (F,)
    components_ : ndarray, (n_components, F)
        Orthonormal rows; each row's largest-magnitude entry is positive, so
        refitting on the same data gives the same axes, not mirrored ones.
    explained_variance_ratio_ : ndarray, (n_components,)
    """

    def __init__(self, n_components=2):
        if n_components < 1:
            raise ConfigError(f"an embedding needs at least 1 component, not {n_components}")
        self.n_components = n_components
        self.mean_ = self.components_ = self.explained_variance_ratio_ = None

    @property
    def fitted(self):
        return self.components_ is not None

    def fit(self, features):
        """Fit the basis to ``features (N, F)``; returns ``self``."""
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or len(x) < 2 or x.shape[1] < self.n_components:
            raise ConfigError(f"PCA needs at least 2 rows and {self.n_components} columns, "
                              f"got shape {x.shape}")
        self.mean_ = x.mean(axis=0)
        _, singular, rows = np.linalg.svd(x - self.mean_, full_matrices=False)
        rows = rows[:self.n_components]
        signs = np.sign(rows[np.arange(len(rows)), np.abs(rows).argmax(axis=1)])
        self.components_ = rows * signs[:, None]
        variance = singular ** 2
        total = variance.sum()
        self.explained_variance_ratio_ = variance[:self.n_components] / total if total > 0 \
            else np.zeros(self.n_components)
        return self

    def transform(self, features):
        """Project ``features (N, F)`` onto the fitted basis; returns ``(N, n_components)``."""
        if not self.fitted:
            raise ConfigError("the embedding has no basis yet: call fit() first")
        return ((np.asarray(features, np.float64) - self.mean_) @ self.components_.T).astype(np.float32)
