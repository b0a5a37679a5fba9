"""The numbers behind the kernel panel: weights back out of a record's mosaic, the
epochs' weights kept for "change since the previous epoch", and tile layout.

No Qt here, so all of it is tested against plain NumPy.
"""
import math

import numpy as np

from cnn_core.kernels import GAP


def kernels_from_mosaic(mosaic, shape, gap=GAP):
    """Undo :func:`cnn_core.kernels.kernel_mosaic`.

    Parameters
    ----------
    mosaic : ndarray (F*(k+gap)-gap, C*(k+gap)-gap)
    shape : tuple (F, C, k, k)
        The layer's weight shape.

    Returns
    -------
    weight : ndarray, float32 (F, C, k, k)
    """
    f, c, kh, kw = shape
    expected = (f * (kh + gap) - gap, c * (kw + gap) - gap)
    if mosaic.shape != expected:
        raise ValueError(f"a mosaic of shape {mosaic.shape} does not hold weights {shape}")
    # Pad one gap on the right and bottom, then every tile is a (k+gap)-square block.
    padded = np.pad(np.asarray(mosaic, np.float32), ((0, gap), (0, gap)))
    blocks = padded.reshape(f, kh + gap, c, kw + gap).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(blocks[:, :, :kh, :kw])


def stack_norms(weight):
    """How strongly each output channel listens to each input channel.

    Parameters
    ----------
    weight : ndarray (F, C, k, k)

    Returns
    -------
    norms : ndarray (C, F)
        ``‖weight[f, c]‖₂`` at row ``c``, column ``f``: one column per output channel.
    """
    return np.sqrt(np.square(weight, dtype=np.float64).sum(axis=(2, 3))).T


def fit_grid(count, width, height, gap_fraction=1 / 3):
    """Rows and columns for ``count`` square tiles that make them largest in a box.

    Parameters
    ----------
    count : int
    width, height : float
        The box, in pixels.
    gap_fraction : float
        The gap between tiles as a fraction of a tile.

    Returns
    -------
    (rows, columns) : (int, int)
    """
    def side(rows):
        columns = math.ceil(count / rows)
        return min(width / (columns + (columns - 1) * gap_fraction),
                   height / (rows + (rows - 1) * gap_fraction))
    rows = max(range(1, max(count, 1) + 1), key=side)
    return rows, math.ceil(max(count, 1) / rows)


def cell_at(x, y, side, columns, count, gap=GAP):
    """Which tile, and which cell of it, mosaic pixel ``(x, y)`` falls in.

    Returns
    -------
    (tile, row, col) or None
        None in a gap or outside the tiles.
    """
    if x < 0 or y < 0:
        return None
    tile_col, col = divmod(int(x), side + gap)
    tile_row, row = divmod(int(y), side + gap)
    tile = tile_row * columns + tile_col
    if tile_col >= columns or col >= side or row >= side or tile >= count:
        return None
    return tile, row, col


class EpochWeights:
    """The conv weights at the end of every epoch of the session, epoch 0 included.

    Fed from the session's first weights and each epoch's record; gives the
    weights to subtract for "change since the previous epoch".
    """

    def __init__(self):
        self._epochs = {}

    def start(self, state):
        """A new session: forget every epoch, keep ``state`` (a ``state_dict``) as epoch 0."""
        self._epochs = {}
        self.add(0, state)

    def add(self, epoch, state):
        """Keep the conv weights (the 4-D ``*.weight`` arrays) of ``state`` at ``epoch``."""
        self._epochs[epoch] = {key[:-len(".weight")]: np.asarray(value, np.float32)
                               for key, value in state.items()
                               if key.endswith(".weight") and np.ndim(value) == 4}

    def truncate(self, epoch):
        """Forget the epochs after ``epoch`` (a rewind)."""
        self._epochs = {e: w for e, w in self._epochs.items() if e <= epoch}

    def shapes(self):
        """``{layer: (F, C, k, k)}`` of the session's conv layers (empty before a session)."""
        first = self._epochs.get(0, {})
        return {name: weight.shape for name, weight in first.items()}

    def previous(self, weights):
        """The epoch before the weights on show, and its weights.

        Weights equal to an epoch's end are that epoch (the timeline, or a run
        between epochs): the one before it is returned.  Weights equal to none
        are mid-epoch: the latest finished epoch is returned.

        Parameters
        ----------
        weights : dict of str to ndarray (F, C, k, k)

        Returns
        -------
        (int, dict) or (None, None)
            None when there is no earlier epoch (epoch 0 itself).
        """
        epochs = sorted(self._epochs, reverse=True)
        for index, epoch in enumerate(epochs):
            stored = self._epochs[epoch]
            if all(np.array_equal(stored[name], value) for name, value in weights.items()):
                if index + 1 < len(epochs):
                    return epochs[index + 1], self._epochs[epochs[index + 1]]
                return None, None
        return (epochs[0], self._epochs[epochs[0]]) if epochs else (None, None)
