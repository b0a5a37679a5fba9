"""Random small affine distortions of training digits.

A digit drawn on the canvas is never quite upright, quite the size, or quite
centred as in MNIST; training on slightly rotated, scaled and shifted copies
teaches the network to shrug that off.  The limits (±12°, ±10 %, ±2 px) stay
well short of turning a 6 into a 9 or pushing strokes out of the frame.

The whole batch is warped at once: one inverse map per image, evaluated on
the shared output grid, and bilinear sampling with zeros outside, so the cost
is a handful of array operations whatever the batch size.
"""
import numpy as np


def random_affine(images, rng, max_rotation=12.0, max_scale=0.10, max_shift=2.0):
    """Rotate, scale and shift each image by its own small random amount.

    Each image turns about its centre by an angle drawn uniformly from
    ``±max_rotation`` degrees, is scaled by a factor from
    ``1 ± max_scale`` and shifted by up to ``±max_shift`` pixels along each
    axis.  With all three limits 0 the images come back unchanged.

    Parameters
    ----------
    images : ndarray, float, (N, H, W) or (N, 1, H, W)
        A batch of single-channel images, ink as positive values.
    rng : numpy.random.Generator
        Source of the random parameters; the same state gives the same output.
    max_rotation : float
        Largest rotation, in degrees.
    max_scale : float
        Largest relative change of size (0.10 is ±10 %).
    max_shift : float
        Largest translation along each axis, in pixels.

    Returns
    -------
    warped : ndarray, float32, same shape as ``images``
        A new array; pixels mapped from outside the input are 0.
    """
    count = len(images)
    angles = rng.uniform(-max_rotation, max_rotation, count)
    scales = 1.0 + rng.uniform(-max_scale, max_scale, count)
    shifts = rng.uniform(-max_shift, max_shift, (count, 2))
    return affine_warp(images, angles, scales, shifts)


def affine_warp(images, angles, scales, shifts):
    """Apply a given rotation, scale and shift to each image of a batch.

    The map is ``p_out = scale · R(angle) · (p_in - c) + c + shift`` about
    the image centre ``c = ((H-1)/2, (W-1)/2)``; a positive angle turns the
    digit counter-clockwise as displayed (row 0 at the top), like
    ``np.rot90``, and a positive shift moves it down and to the right.
    Output pixels are sampled bilinearly from the input, with zeros outside.

    Parameters
    ----------
    images : ndarray, float, (N, H, W) or (N, 1, H, W)
    angles : array_like, float, (N,)
        Rotation in degrees.
    scales : array_like, float, (N,)
        Size factor, > 0 (1 keeps the size).
    shifts : array_like, float, (N, 2)
        Translation (rows, columns) in pixels.

    Returns
    -------
    warped : ndarray, float32, same shape as ``images``
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[1] != 1):
        raise ValueError(f"expected images (N, H, W) or (N, 1, H, W), got {images.shape}")
    count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    angle = np.deg2rad(np.asarray(angles, dtype=np.float64)).reshape(count)
    scale = np.asarray(scales, dtype=np.float64).reshape(count)
    shift = np.asarray(shifts, dtype=np.float64).reshape(count, 2)
    rows, cols = _inverse_map(angle, scale, shift, height, width)
    stack = images.reshape(count, height, width)
    return _bilinear_sample(stack, rows, cols).reshape(images.shape)


def _inverse_map(angle, scale, shift, height, width):
    """Where each output pixel comes from in its input image.

    Inverting the forward map of :func:`affine_warp` gives
    ``p_in = R(-angle) · (p_out - c - shift) / scale + c``.  Being affine,
    each input coordinate is a per-row term plus a per-column term, so each
    full grid is one broadcast addition of two small tables.

    Parameters
    ----------
    angle, scale : ndarray, float64, (N,)
        Rotation in radians and scale factor per image.
    shift : ndarray, float64, (N, 2)
        Row and column translation per image, in pixels.
    height, width : int
        Image size.

    Returns
    -------
    rows, cols : ndarray, float32, (N, H, W)
        Input coordinates (pixel-index units) of every output pixel.
    """
    centre_row, centre_col = (height - 1) / 2.0, (width - 1) / 2.0
    cos = (np.cos(angle) / scale)[:, None]
    sin = (np.sin(angle) / scale)[:, None]
    from_row = -centre_row - shift[:, 0:1]
    from_col = -centre_col - shift[:, 1:2]
    # Input point of output pixel (0, 0); with no warp it is exactly 0, and
    # whole-pixel steps keep the grid exact, so a zero warp copies exactly.
    origin_row = centre_row + cos * from_row + sin * from_col
    origin_col = centre_col - sin * from_row + cos * from_col
    out_row = np.arange(height)
    out_col = np.arange(width)
    rows = _outer_sum(origin_row + cos * out_row, sin * out_col)
    cols = _outer_sum(origin_col - sin * out_row, cos * out_col)
    return rows, cols


def _outer_sum(per_row, per_col):
    """``per_row (N, H)`` and ``per_col (N, W)`` summed to ``(N, H, W)`` float32."""
    per_row = per_row.astype(np.float32)[:, :, None]
    per_col = per_col.astype(np.float32)[:, None, :]
    return per_row + per_col


def _bilinear_sample(images, rows, cols):
    """Sample ``images (N, H, W)`` at ``rows, cols (N, H, W)``, zero outside.

    The images sit in a frame of zeros (one pixel before, two after, so the
    right-hand and lower neighbours always exist) and the coordinates are
    clipped into that frame: a point far outside reads pure zeros and a
    point half a pixel past the edge blends with zero, as it should.
    ``rows`` and ``cols`` are overwritten: for a batch they are big enough
    that every fresh temporary costs page faults, so work happens in place.

    Returns
    -------
    samples : ndarray, float32, (N, H, W)
    """
    count, height, width = images.shape
    stride = width + 3
    padded = np.zeros((count, height + 3, stride), dtype=np.float32)
    padded[:, 1:-2, 1:-2] = images
    flat = padded.ravel()
    # Padded coordinates: zeros at 0 and from H+1 (or W+1) on.
    rows += 1.0
    cols += 1.0
    np.clip(rows, 0.0, height + 1.0, out=rows)
    np.clip(cols, 0.0, width + 1.0, out=cols)
    top = np.floor(rows)
    left = np.floor(cols)
    rows -= top   # now the weight of the lower neighbour
    cols -= left  # now the weight of the right-hand neighbour
    corner = top.astype(np.intp)
    corner *= stride
    corner += left.astype(np.intp)
    corner += (np.arange(count) * ((height + 3) * stride))[:, None, None]
    upper_left = flat.take(corner)
    corner += 1
    upper = _lerp(upper_left, flat.take(corner), cols)
    corner += stride
    lower_right = flat.take(corner)
    corner -= 1
    lower = _lerp(flat.take(corner), lower_right, cols)
    return _lerp(upper, lower, rows)


def _lerp(start, end, weight):
    """``start + (end - start) * weight``, computed in ``start`` and ``end``."""
    end -= start
    end *= weight
    start += end
    return start
