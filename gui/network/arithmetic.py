"""The numbers behind one output value of each kind of layer, in plain NumPy.

Each function recomputes one value the engine computed in bulk (im2col and a
GEMM, a reshape-and-max, a matrix product), the way a person would on
paper, and returns every intermediate step, so the detail view can show
them and the tests can check that the steps add up to the engine's value.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConvTerms:
    """One output value of a 3×3 convolution (stride 1, zero padding 1).

    Attributes
    ----------
    patches : ndarray, (C, 3, 3)
        The input around the output pixel, channel by channel (zeros outside).
    kernel : ndarray, (C, 3, 3)
        The output channel's weights.
    products : ndarray, (C, 3, 3)
        ``patches * kernel``.
    channel_sums : ndarray, (C,)
        Each input channel's share: its products summed.
    total : float
        All products summed.
    bias : float
    pre_activation : float
        ``total + bias``: the conv layer's output value.
    """

    patches: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    total: float
    bias: float
    pre_activation: float

    @property
    def rectified(self):
        """The value after a ReLU, ``max(pre_activation, 0)``."""
        return max(self.pre_activation, 0.0)


def conv_terms(input_maps, weight, bias, channel, y, x):
    """The multiply-adds that give output ``channel`` at pixel ``(y, x)``.

    Parameters
    ----------
    input_maps : ndarray, (C, H, W)
        The layer's input for one image.
    weight : ndarray, (F, C, 3, 3)
    bias : ndarray, (F,)
    channel, y, x : int
        The output value, ``0 <= channel < F``, ``0 <= y < H``, ``0 <= x < W``.

    Returns
    -------
    ConvTerms
    """
    padded = np.pad(np.asarray(input_maps, np.float64), ((0, 0), (1, 1), (1, 1)))
    patches = padded[:, y:y + 3, x:x + 3]     # padded pixel (y + 1, x + 1) is input (y, x)
    kernel = np.asarray(weight[channel], np.float64)
    products = patches * kernel
    channel_sums = products.sum(axis=(1, 2))
    total = float(channel_sums.sum())
    return ConvTerms(patches, kernel, products, channel_sums, total, float(bias[channel]),
                     total + float(bias[channel]))


@dataclass(frozen=True)
class PoolTerms:
    """One output value of a 2×2 max-pool.

    Attributes
    ----------
    window : ndarray, (2, 2)
        The input values pooled.
    winner : (int, int)
        Row and column of the largest within the window (the first, on a tie).
    value : float
    """

    window: np.ndarray
    winner: tuple
    value: float


def pool_terms(input_maps, channel, y, x):
    """The 2×2 window of ``input_maps (C, H, W)`` that gives pooled pixel ``(y, x)``."""
    window = np.asarray(input_maps[channel, 2 * y:2 * y + 2, 2 * x:2 * x + 2], np.float64)
    winner = np.unravel_index(int(np.argmax(window)), window.shape)
    return PoolTerms(window, (int(winner[0]), int(winner[1])), float(window[winner]))


@dataclass(frozen=True)
class DenseTerms:
    """One unit of a dense layer: its largest contributions, weight × input.

    Attributes
    ----------
    indices : ndarray, int, (k,)
        The inputs with the largest ``|weight × input|``, largest first.
    contributions : ndarray, (k,)
        ``weight[i] * inputs[i]`` for those inputs.
    rest : float
        The other inputs' contributions, summed.
    rest_count : int
    bias : float
    pre_activation : float
        ``contributions.sum() + rest + bias``: the unit's output value.
    """

    indices: np.ndarray
    contributions: np.ndarray
    rest: float
    rest_count: int
    bias: float
    pre_activation: float


def dense_terms(inputs, weight, bias, unit, top=10):
    """The contributions that make dense ``unit``'s value.

    Parameters
    ----------
    inputs : ndarray, (F_in,)
    weight : ndarray, (F_out, F_in)
    bias : ndarray, (F_out,)
    unit : int
    top : int
        How many contributions to give one by one.

    Returns
    -------
    DenseTerms
    """
    products = np.asarray(weight[unit], np.float64) * np.asarray(inputs, np.float64)
    order = np.argsort(-np.abs(products), kind="stable")
    shown, others = order[:top], order[top:]
    rest = float(products[others].sum())
    return DenseTerms(shown, products[shown], rest, len(others), float(bias[unit]),
                      float(products.sum()) + float(bias[unit]))


@dataclass(frozen=True)
class SoftmaxTerms:
    """Softmax with the log-sum-exp trick, step by step, all ``(K,)`` but the sums.

    Attributes
    ----------
    logits : ndarray
    largest : float
        ``logits.max()``, subtracted so no exponential overflows.
    shifted : ndarray
        ``logits - largest`` (all ``<= 0``).
    exponentials : ndarray
        ``exp(shifted)`` (all in ``(0, 1]``).
    total : float
        ``exponentials.sum()``.
    probabilities : ndarray
        ``exponentials / total``.
    """

    logits: np.ndarray
    largest: float
    shifted: np.ndarray
    exponentials: np.ndarray
    total: float
    probabilities: np.ndarray


def softmax_terms(logits):
    """Every step of ``softmax(logits (K,))`` the stable way."""
    logits = np.asarray(logits, np.float64)
    largest = float(logits.max())
    shifted = logits - largest
    exponentials = np.exp(shifted)
    total = float(exponentials.sum())
    return SoftmaxTerms(logits, largest, shifted, exponentials, total, exponentials / total)
