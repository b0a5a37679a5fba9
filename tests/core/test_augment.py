"""Tests for cnn_core.augment: small random affine warps of training digits."""
import math

import numpy as np
import pytest

from cnn_core.augment import affine_warp, random_affine


def digits(count=16, seed=0):
    """Blobby random "digits": ink in the central 14×14 of a 28×28 frame."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), np.float32)
    images[:, 7:21, 7:21] = rng.random((count, 14, 14)) ** 3
    return images


def centre_of_mass(images):
    rows, cols = np.indices(images.shape[-2:])
    total = images.sum(axis=(-2, -1))
    return ((images * rows).sum(axis=(-2, -1)) / total,
            (images * cols).sum(axis=(-2, -1)) / total)


def reference_warp(image, angle, scale, shift):
    """Pixel-by-pixel bilinear warp, written from the documented formula.

    ``p_out = scale · R(angle) · (p_in - c) + c + shift`` with a positive
    angle counter-clockwise on screen; each output pixel is inverted on its
    own and the four neighbours are read with zeros outside.
    """
    height, width = image.shape
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    theta = math.radians(angle)
    # Counter-clockwise on screen, in (row, col) coordinates with rows
    # pointing down: a point right of the centre, (0, 1), moves up to (-1, 0).
    rotation = np.array([[math.cos(theta), -math.sin(theta)],
                         [math.sin(theta), math.cos(theta)]])
    out = np.zeros_like(image)
    for r in range(height):
        for c in range(width):
            source = np.linalg.solve(scale * rotation, np.array([r, c]) - centre - shift) + centre
            top, left = math.floor(source[0]), math.floor(source[1])
            total = 0.0
            for dr in (0, 1):
                for dc in (0, 1):
                    rr, cc = top + dr, left + dc
                    if 0 <= rr < height and 0 <= cc < width:
                        weight = ((1 - abs(source[0] - rr)) * (1 - abs(source[1] - cc)))
                        total += weight * image[rr, cc]
            out[r, c] = total
    return out


def test_output_shape_and_dtype():
    images = digits()
    for batch in (images, images[:, None]):
        warped = random_affine(batch, np.random.default_rng(0))
        assert warped.shape == batch.shape
        assert warped.dtype == np.float32


def test_input_is_left_untouched():
    images = digits()
    before = images.copy()
    random_affine(images, np.random.default_rng(0))
    np.testing.assert_array_equal(images, before)


def test_zero_limits_are_the_identity():
    images = digits()
    for batch in (images, images[:, None]):
        unchanged = random_affine(batch, np.random.default_rng(0), 0, 0, 0)
        np.testing.assert_allclose(unchanged, batch, atol=1e-6)


def test_same_seed_same_output_and_new_seed_new_output():
    images = digits()
    first = random_affine(images, np.random.default_rng(7))
    again = random_affine(images, np.random.default_rng(7))
    other = random_affine(images, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0.1


def test_each_image_gets_its_own_warp():
    same = np.repeat(digits(1), 8, axis=0)
    warped = random_affine(same, np.random.default_rng(0))
    assert np.abs(warped[1:] - warped[0]).max(axis=(1, 2)).min() > 0.01


def test_quarter_turn_matches_rot90():
    images = digits(3)
    turned = affine_warp(images, [90.0] * 3, [1.0] * 3, np.zeros((3, 2)))
    np.testing.assert_allclose(turned, np.rot90(images, axes=(1, 2)), atol=1e-5)


def test_whole_pixel_shift_moves_down_right_with_zero_fill():
    image = np.random.default_rng(1).random((1, 28, 28)).astype(np.float32)
    shifted = affine_warp(image, [0.0], [1.0], [[2.0, -3.0]])
    expected = np.zeros_like(image)
    expected[:, 2:, :-3] = image[:, :-2, 3:]
    np.testing.assert_allclose(shifted, expected, atol=1e-6)


@pytest.mark.parametrize("angle, scale, shift", [
    (11.0, 1.08, (1.3, -0.7)),
    (-7.5, 0.91, (-2.0, 1.9)),
    (40.0, 1.5, (0.25, 0.5)),   # beyond the training limits: edges and zeros
])
def test_matches_a_pixel_by_pixel_reference(angle, scale, shift):
    image = np.random.default_rng(2).random((28, 28)).astype(np.float32)
    warped = affine_warp(image[None], [angle], [scale], [shift])[0]
    np.testing.assert_allclose(warped, reference_warp(image, angle, scale, np.array(shift)),
                               atol=1e-5)


def test_shifts_move_the_centre_of_mass_by_at_most_the_limit():
    images = digits(64)
    warped = random_affine(images, np.random.default_rng(3), max_rotation=0, max_scale=0)
    before, after = centre_of_mass(images), centre_of_mass(warped)
    moved = np.abs(np.stack(after) - np.stack(before))
    assert moved.max() <= 2.0 + 1e-3
    assert moved.max() > 1.0   # the shifts are really used


def test_default_warp_keeps_digits_near_where_they_were():
    images = digits(64)
    warped = random_affine(images, np.random.default_rng(4))
    moved = np.abs(np.stack(centre_of_mass(warped)) - np.stack(centre_of_mass(images)))
    # Shift ±2 plus what rotation and scaling about the centre do to a
    # centre of mass that is already near the centre.
    assert moved.max() <= 2.5


def test_ink_mass_is_about_preserved():
    images = digits(64)
    warped = random_affine(images, np.random.default_rng(5), max_scale=0)
    ratio = warped.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    np.testing.assert_allclose(ratio, 1.0, atol=0.03)
    # Scaling by s changes the area, hence the mass, by s².
    scaled = affine_warp(images, np.zeros(64), np.full(64, 1.1), np.zeros((64, 2)))
    ratio = scaled.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    np.testing.assert_allclose(ratio, 1.21, atol=0.03)


def test_empty_batch():
    empty = np.zeros((0, 28, 28), np.float32)
    assert random_affine(empty, np.random.default_rng(0)).shape == (0, 28, 28)


@pytest.mark.parametrize("shape", [(28, 28), (4, 3, 28, 28), (2, 1, 1, 28, 28)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match="expected images"):
        random_affine(np.zeros(shape, np.float32), np.random.default_rng(0))
