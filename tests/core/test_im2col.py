"""im2col and col2im by flat shifts, against a plain loop over padded images.

Shapes are written ``(C, N, H, W)``; the layers take ``(C, H, W, N)``, and their
columns run over ``(h, w, n)``."""
import numpy as np
import pytest

from cnn_core.layers import col2im, im2col, internal_maps

SHAPES = [(1, 1, 1, 1), (1, 1, 1, 2), (2, 1, 2, 1), (2, 3, 3, 2), (3, 2, 5, 4), (2, 4, 28, 28),
          (4, 3, 14, 14)]


def reference_im2col(x):
    """cols (C, 9, H*W*N) with a padded copy and nine window slices, one pixel at a time."""
    C, N, H, W = x.shape
    padded = np.zeros((C, N, H + 2, W + 2), x.dtype)
    padded[:, :, 1:-1, 1:-1] = x
    cols = np.empty((C, 9, N, H, W), x.dtype)
    for c in range(C):
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    cols[c, :, n, h, w] = padded[c, n, h:h + 3, w:w + 3].ravel()
    return cols.transpose(0, 1, 3, 4, 2).reshape(C, 9, H * W * N)   # columns over (h, w, n)


def internal(shape):
    C, N, H, W = shape
    return (C, H, W, N)


@pytest.mark.parametrize("shape", SHAPES)
def test_im2col_matches_the_padded_windows(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    cols = np.full((shape[0], 9, int(np.prod(shape[1:]))), np.nan, np.float32)  # no stale values
    im2col(internal_maps(x), cols)
    np.testing.assert_array_equal(cols, reference_im2col(x))


@pytest.mark.parametrize("shape", SHAPES)
def test_col2im_is_the_adjoint_of_im2col(shape):
    """<im2col(x), d> == <x, col2im(d)> for every x and d: col2im is im2col's transpose."""
    rng = np.random.default_rng(1)
    shape = internal(shape)
    x = rng.standard_normal(shape)
    d = rng.standard_normal((shape[0], 9, int(np.prod(shape[1:]))))
    cols = np.empty_like(d)
    im2col(x, cols)
    assert np.vdot(cols, d) == pytest.approx(np.vdot(x, col2im(d.copy(), shape)), rel=1e-12)


def test_col2im_adds_each_tap_onto_the_pixel_it_saw():
    """One image, one channel: a gradient of 1 on a single tap lands on one neighbour."""
    shape = (1, 1, 4, 5)
    for k in range(9):
        dy, dx = divmod(k, 3)
        d = np.zeros((1, 9, 20))
        d[0, k] = 1.0
        expected = np.zeros((6, 7))            # padded, then cropped
        for h in range(4):
            for w in range(5):
                expected[h + dy, w + dx] += 1.0
        np.testing.assert_array_equal(col2im(d, internal(shape))[0, :, :, 0], expected[1:-1, 1:-1])
