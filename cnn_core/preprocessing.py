"""Turn any drawn or loaded image into the 28×28 picture the network expects.

MNIST was made in two steps (LeCun, Cortes and Burges): each digit was
size-normalised to fit a 20×20 box, keeping its aspect ratio, with
anti-aliasing; then it was placed in a 28×28 frame so that its centre of mass
sits at the centre.  :func:`normalise_ink` repeats those steps on ink;
:func:`preprocess` first works out, in an image file, a pasted picture or a
photo, which tone is ink and which is paper (in a photo, against the paper's
brightness where each pixel lies).
Measured on the bundled 5,000 MNIST training digits, the centre of mass in
pixel-index coordinates always lies within half a pixel of (14, 14), which
is what a whole-pixel shift towards 14 produces, so that is the target here.

The canvas's ink is already ink on zero paper, so the canvas calls
:func:`normalise_ink` alone, on every pen move; everything is whole-array
NumPy (no loop over pixels).
"""
import numpy as np

from .errors import EmptyImageError, ImageError

#: Side of the square the network sees.
FRAME_SIDE = 28
#: Longer side of the digit's box once size-normalised, as in MNIST.
BOX_SIDE = 20
#: Where the centre of mass lands, in pixel-index coordinates (row, column).
FRAME_CENTRE = 14.0
#: Ink fainter than this (on a 0–1 scale, about 25/255) may be paper texture,
#: sensor noise or JPEG ringing, so it does not count towards the digit's box
#: nor make an image non-empty.  Inside the box faint pixels are kept: they
#: are the anti-aliased edges of strokes, and dropping them moves the centre
#: of mass enough to shift 1 % of MNIST digits by a pixel.
NOISE_LEVEL = 0.1

#: Paper whose border tones lie within this of each other (2nd to 98th
#: percentile, on a 0-1 scale) is one clean sheet: a drawing program's canvas,
#: a clean scan, MNIST itself.  Its tone is subtracted as it is.  Anything else
#: is a photo: sensor noise, a lamp to one side, a shadow, so its paper is
#: modelled as a smooth surface and its noise kept out of the digit.
CLEAN_PAPER = 0.02
#: A photo is read at most this many pixels across (a phone's 4000 would take
#: seconds, and a digit 20 pixels tall needs no more).
PHOTO_SIDE = 800

# ITU-R BT.601 luma weights: the ones Pillow's "L" conversion uses, so a file
# converted by Pillow and an array converted here agree.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# Reading transparency (see _alpha_background), on the 0-1 scale.  Tones this
# far apart are ink and paper, not noise:
_TONE_GAP = 0.3
# and a tone held by fewer than this share of the pixels is stray.
_STRAY = 0.01
# A pixel this much lighter or darker than the ink departs from it: the faint
# end of anti-aliasing, and beyond the sensor and JPEG noise of a clean image.
_FADE = 0.1
# Edges fade where at least this share of their pixels departs (a key close
# to the ink leaves few greys), and more than twice as often as the inside.
_FADING_EDGE = 0.1
# A sheet is this many times its longer side deep (see _is_sheet), judged on
# its mask read at most _SHAPE_SIDE pixels across.
_SHEET_DEPTH = 0.235
_SHAPE_SIDE = 128

EMPTY_MESSAGE = "the image is empty: draw or load a digit first"


def preprocess(image):
    """Size-normalise and centre a digit the way MNIST was made.

    Parameters
    ----------
    image : array_like, (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
        Any size and numeric dtype; see :func:`to_grayscale` for how values
        and channels are read.  Dark ink on light paper and light ink on dark
        paper are both accepted.

    Returns
    -------
    digit : ndarray, float32, (28, 28)
        Ink intensity in [0, 1] with the paper at 0 and the strongest ink
        at exactly 1.  The ink's bounding box has its longer side 20 px and
        its centre of mass lies within half a pixel of (14, 14), unless that
        would push ink off the frame.

    Raises
    ------
    ImageError
        The array has an unusable shape, dtype or non-finite values.
    EmptyImageError
        There is no ink: a blank or uniform image, or only faint noise.
    """
    gray = to_grayscale(image)
    photo = is_photo(gray)
    if photo and max(gray.shape) > PHOTO_SIDE:
        gray = _shrink(gray, -(-max(gray.shape) // PHOTO_SIDE))
    return normalise_ink(ink_intensity(gray, photo))


def normalise_ink(ink):
    """Box and centre ink that is already ink on zero paper, the MNIST way.

    The canvas's ink is this already (an alpha layer over the paper), so it
    comes here straight: no tone, photo or transparency rule is asked, and a
    digit touching the sheet's edge reads as the same digit anywhere else.

    Parameters
    ----------
    ink : array_like, float, (H, W)
        Ink intensity in [0, 1], the paper at 0.

    Returns
    -------
    digit : ndarray, float32, (28, 28)
        As :func:`preprocess` returns it: the ink's bounding box scaled so its
        longer side is 20 px (aspect kept), the strongest ink at 1, and the
        centre of mass moved to (14, 14) by whole pixels.

    Raises
    ------
    EmptyImageError
        No ink above :data:`NOISE_LEVEL`.
    """
    ink = np.asarray(ink, dtype=np.float32)
    visible = ink > NOISE_LEVEL
    rows = np.flatnonzero(visible.any(axis=1))
    if rows.size == 0:
        raise EmptyImageError(EMPTY_MESSAGE)
    cols = np.flatnonzero(visible.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box = _fit_box(crop)
    return _centre_in_frame(box / box.max())


def to_grayscale(image):
    """Read an array as brightness in [0, 1], whatever its dtype and channels.

    Parameters
    ----------
    image : array_like, (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
        Channels are gray, RGB or RGBA, in that order.  Values are read on
        the scale their dtype implies: ``bool`` as 0/1, ``uint8`` as 0–255,
        ``uint16`` as 0–65535.  For other dtypes (floats, wider integers) the
        largest value picks the scale: up to 1 means 0–1, up to 255 means
        8-bit, up to 65535 means 16-bit.  Transparent pixels are background:
        they are composited over the paper tone of the opaque part: the
        tone its strokes' edges fade towards, a sheet's own paper, or the
        tone opposite strokes of one tone (see :func:`_alpha_background`).

    Returns
    -------
    gray : ndarray, float32, (H, W)
        Brightness, 0 black and 1 white.

    Raises
    ------
    ImageError
        Zero-size, wrong number of dimensions or channels, a non-numeric
        dtype, NaN or infinite values, negative values, or values beyond the
        16-bit range.
    """
    array = np.asarray(image)
    _check_shape(array)
    values = _unit_scale(array)
    if values.ndim == 2:
        return values
    channels = values.shape[2]
    if channels == 1:
        return values[:, :, 0]
    luma = values[:, :, :3] @ _LUMA
    if channels == 3:
        return luma
    alpha = values[:, :, 3]
    if alpha.min() == 1.0:
        return luma
    background = _alpha_background(luma, alpha)
    return alpha * luma + (1.0 - alpha) * background


def ink_intensity(gray, photo=None):
    """Separate ink from paper in a grayscale image.

    The paper is the majority tone of the image's outer ring of pixels (its
    median): a digit seldom fills the border, whereas it may well cover half
    of a tightly cropped picture.  Ink is how far a pixel departs from the
    paper towards the other tone, so light paper is inverted and grey paper
    in a photo still reads as background.  In a photo (see
    :data:`CLEAN_PAPER`) the paper is measured against a smooth surface
    fitted to the border instead, so that its shaded side does not read as
    ink, nor does its noise.

    Parameters
    ----------
    gray : ndarray, float, (H, W)
        Brightness in [0, 1], as returned by :func:`to_grayscale`.
    photo : bool or None
        Whether ``gray`` is a photo; ``None`` asks :func:`is_photo`.

    Returns
    -------
    ink : ndarray, float32, (H, W)
        Ink in [0, 1]; the paper and anything on its far side are 0.
    """
    if photo is None:
        photo = is_photo(gray)
    if photo:
        ink = _ink_on_photo(gray)
    else:
        paper = np.median(_border(gray))
        ink = (paper - gray) if paper >= 0.5 else (gray - paper)
    return np.clip(ink, 0.0, 1.0).astype(np.float32, copy=False)


def is_photo(gray):
    """Whether ``gray (H, W)`` is a photo rather than a clean sheet: its border
    holds more than one tone (see :data:`CLEAN_PAPER`)."""
    if min(gray.shape) < 8:
        return False
    low, high = np.percentile(_border(gray), [2, 98])
    return high - low > CLEAN_PAPER


def _shrink(gray, factor):
    """``gray (H, W)`` averaged over ``factor``-square blocks (a few edge pixels
    that fill no block are dropped)."""
    height, width = gray.shape[0] // factor, gray.shape[1] // factor
    blocks = gray[:height * factor, :width * factor].reshape(height, factor, width, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _ink_on_photo(gray):
    """Ink of ``gray (H, W)`` measured against the paper's own brightness at each pixel.

    Which tone is ink is read from the image, not the border: the side of the
    paper surface that the larger departures lie on (a vignetted photo of
    white paper may have a border darker than mid-grey).  Paper and ink both
    reflect in proportion to the light that falls on them, so a departure
    from the paper is divided by the paper's brightness there and put on the
    scale of the brightest paper: a stroke in the shade counts as much as one
    in the light.  That magnifies the sensor noise in the shade too, so ink
    counts only where its neighbourhood, about half a pixel of the 28×28
    frame across, is inked on average: noise averages out there, strokes do
    not.
    """
    surface = _paper_surface(gray)
    departure = gray - surface
    noise = 3 * 1.4826 * np.median(np.abs(departure))
    darker, lighter = (np.clip(d - noise, 0, None).sum() for d in (-departure, departure))
    dark_ink = darker >= lighter
    paper = np.clip(surface, 1e-3, None)
    ink = (-departure if dark_ink else departure) * (paper.max() / paper)
    window = max(3, round(max(gray.shape) / (2 * FRAME_SIDE)))
    return np.where(_local_mean(ink, window) > NOISE_LEVEL / 2, ink, 0.0)


def _local_mean(image, window):
    """The mean of ``image (H, W)`` over a ``window``-square around each pixel
    (a smaller one at the edges), from running sums."""
    for axis in (0, 1):
        n = image.shape[axis]
        sums = np.cumsum(np.insert(image, 0, 0.0, axis=axis), axis=axis)
        high = np.minimum(np.arange(n) + window // 2 + 1, n)
        low = np.maximum(np.arange(n) - window // 2, 0)
        count = (high - low).reshape((-1, 1) if axis == 0 else (1, -1))
        image = (np.take(sums, high, axis=axis) - np.take(sums, low, axis=axis)) / count
    return image


def _paper_surface(gray):
    """The paper's brightness under ``gray (H, W)``, as a quadratic in the pixel
    coordinates fitted to the border.

    Border pixels far from the fit, on either side, are ink that runs into
    the border; they are left out and the fit repeated.
    """
    height, width = gray.shape
    ys, xs = np.linspace(-1, 1, height), np.linspace(-1, 1, width)
    ring_y = np.concatenate((np.full(width, -1.0), np.full(width, 1.0), ys[1:-1], ys[1:-1]))
    ring_x = np.concatenate((xs, xs, np.full(height - 2, -1.0), np.full(height - 2, 1.0)))

    def terms(x, y):
        return [np.ones_like(x * y), x, y, x * x, y * y, x * y]
    design = np.stack(terms(ring_x, ring_y), axis=1)            # (ring, 6)
    ring = _border(gray).astype(np.float64)
    keep = np.ones(len(ring), bool)
    for _ in range(3):
        coefficients = np.linalg.lstsq(design[keep], ring[keep], rcond=None)[0]
        residual = ring - design @ coefficients
        spread = 1.4826 * np.median(np.abs(residual[keep])) + 1e-3   # robust sigma
        keep = np.abs(residual) < 3 * spread
    grid = terms(xs[None, :], ys[:, None])                       # broadcasts to (H, W)
    return sum(c * t for c, t in zip(coefficients, grid)).astype(np.float32)


def resampling_matrix(n_in, n_out):
    """Weights that resample a length-``n_in`` signal to length ``n_out``.

    Shrinking averages each output cell over the input area it covers (the
    anti-aliased "area" filter, which keeps thin strokes as faint lines rather
    than dropping them); enlarging interpolates linearly between pixel
    centres, so a small drawing is not blown up into blocks.  A 2-D image is
    resampled as ``R_rows @ image @ R_cols.T``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output lengths, both at least 1.

    Returns
    -------
    weights : ndarray, float32, (n_out, n_in)
        Non-negative; every row sums to 1, so a uniform input stays uniform.
    """
    source = np.arange(n_in, dtype=np.float64)
    if n_out <= n_in:
        step = n_in / n_out
        edges = np.arange(n_out + 1) * step
        overlap = (np.minimum(source + 1, edges[1:, None])
                   - np.maximum(source, edges[:-1, None]))
        weights = np.clip(overlap, 0.0, None) / step
    else:
        centres = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        centres = np.clip(centres, 0.0, n_in - 1)
        # Triangle weights over unit-spaced pixels sum to one anywhere inside
        # [0, n_in - 1], hence the clip: edge pixels are simply repeated.
        weights = np.clip(1.0 - np.abs(centres[:, None] - source), 0.0, None)
    return weights.astype(np.float32)


def _fit_box(crop):
    """Scale ``crop (h, w)`` so its longer side is :data:`BOX_SIDE`."""
    height, width = crop.shape
    longer = max(height, width)
    out_h = max(1, round(BOX_SIDE * height / longer))
    out_w = max(1, round(BOX_SIDE * width / longer))
    return resampling_matrix(height, out_h) @ crop @ resampling_matrix(width, out_w).T


def _centre_in_frame(box):
    """Paste ``box (h, w)`` into a 28×28 frame with its centre of mass at the centre.

    The shift is whole pixels, as in MNIST, and clipped so that no ink falls
    off the frame (a lopsided digit then sits slightly off centre).
    """
    height, width = box.shape
    total = box.sum()
    row_centre = box.sum(axis=1) @ np.arange(height) / total
    col_centre = box.sum(axis=0) @ np.arange(width) / total
    top = int(np.clip(round(FRAME_CENTRE - row_centre), 0, FRAME_SIDE - height))
    left = int(np.clip(round(FRAME_CENTRE - col_centre), 0, FRAME_SIDE - width))
    frame = np.zeros((FRAME_SIDE, FRAME_SIDE), dtype=np.float32)
    frame[top:top + height, left:left + width] = box
    return frame


def _check_shape(array):
    """Reject arrays that cannot be an image, with a message a person can act on."""
    shape_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))
    if not shape_ok:
        raise ImageError(
            f"expected an image of shape (H, W) or (H, W, 1|3|4), got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"the image has no pixels (shape {array.shape})")
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.number)) \
            or np.issubdtype(array.dtype, np.complexfloating):
        raise ImageError(f"pixel values must be real numbers, not {array.dtype}")


def _unit_scale(array):
    """Return ``array`` as float32 in [0, 1], on the scale its dtype implies."""
    if array.dtype == bool:
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) * np.float32(1 / 255)
    if array.dtype == np.uint16:
        return array.astype(np.float32) * np.float32(1 / 65535)
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise ImageError("the image contains NaN or infinite values")
    low, high = values.min(), values.max()
    if low < 0:
        raise ImageError(f"pixel values must not be negative (minimum {low:g})")
    for full_scale in (1.0, 255.0, 65535.0):
        if high <= full_scale:
            return values if full_scale == 1.0 else values / np.float32(full_scale)
    raise ImageError(f"pixel values beyond the 16-bit range (maximum {high:g})")


def _alpha_background(luma, alpha):
    """Pick the tone (0 or 1) that transparent pixels of ``luma, alpha (H, W)`` stand for.

    If the opaque part is strokes (not a solid sheet, see :func:`_is_sheet`)
    whose edges fade towards one tone, that is the paper that was made
    transparent (see :func:`_fade_at_edge`): dark anti-aliased ink keyed out
    of white paper gets its white back.  Otherwise, if the opaque part holds
    two tones, it is a sheet with its own paper (its majority tone) and ink,
    and transparency extends that paper.  If it is all one tone, it is the
    strokes themselves, and the background must contrast with them: dark
    strokes on a transparent sheet become dark on white, white strokes (a
    dark-mode app) white on black.
    """
    peak = alpha.max()
    if peak == 0:
        return np.float32(1.0)
    opaque = alpha >= 0.5 * peak
    # A sheet's edge may fade too (a photo cut out of a dark desk, its rim
    # shaded), but towards what lay around it, not towards its paper.
    fade = None if _is_sheet(opaque) else _fade_at_edge(luma, opaque)
    if fade is not None:
        return fade
    tones = luma[opaque]
    majority = np.median(tones)
    light = np.float32(1.0 if majority >= 0.5 else 0.0)
    # A sheet's ink covers several per cent of it; anti-aliased stroke edges
    # that change alpha, not colour, do not count as a second tone.
    two_tones = np.mean(np.abs(tones - majority) > _TONE_GAP) > _STRAY
    return light if two_tones else 1.0 - light


def _fade_at_edge(luma, opaque):
    """The tone (0 or 1) that the opaque part fades towards at its edge, or None.

    When the paper behind anti-aliased strokes was made transparent (a
    colour key, a palette's transparent index, a magic wand), what is left
    is the ink with the greys that ran from it towards the paper, and those
    greys are where the opaque part meets the transparent one.  So its edge
    departs from its inside, the ink, towards the paper, and far more often
    than the inside does: a sharp key leaves a few greys on the edge, a
    blurred stroke a wide ramp, and the stroke's thickness does not matter.
    Strokes drawn in alpha have their one tone on the edge as inside; so
    does a sheet with a transparent margin, whose paper reaches its edge.

    Parameters
    ----------
    luma : ndarray, float32, (H, W)
        Brightness in [0, 1].
    opaque : ndarray, bool, (H, W)
        The pixels that count as opaque.

    Returns
    -------
    tone : float32 or None
        1 for a fade towards light, 0 towards dark; None for no fade, and
        when there is nothing to compare: hairlines, whose every pixel is
        edge, or an opaque part with no edge at all.
    """
    edge_map = _edge_of(opaque)
    edge, inside = luma[edge_map], luma[opaque & ~edge_map]    # (n_edge,), (n_inside,)
    if edge.size == 0 or inside.size == 0:
        return None
    ink = np.median(inside)
    for side in (1.0, -1.0):                                  # lighter, darker
        departs = side * (edge - ink) > _FADE
        if departs.mean() < max(_FADING_EDGE, 2 * np.mean(side * (inside - ink) > _FADE)):
            continue
        # A fade ends at the edge: nothing inside lies well past its greys.
        # Ink that does is what a sheet's shaded rim surrounds.
        beyond = side * (inside - np.median(edge[departs])) > _TONE_GAP
        if np.mean(beyond) <= _STRAY:
            return np.float32(side > 0)
    return None


def _is_sheet(opaque):
    """Whether ``opaque (H, W)``, bool, is a solid sheet rather than strokes.

    A sheet is about half as wide as it is long, or wider (a square, an A4
    page at any slant): peeling its outer pixels off ring by ring, it lasts
    for ``_SHEET_DEPTH`` of its longer side.  Strokes are gone well before,
    even a bold digit's (a stroke a third of the digit's height thick lasts
    about 0.21), as their half-width is what lasts.  Rings alternate 4- and
    8-neighbour peels, so the depth is nearly the same at any slant; and
    unlike a ratio of area to perimeter, it does not halve at a ragged edge.
    The mask is read at most ``_SHAPE_SIDE`` pixels across, as only its
    shape counts here.
    """
    rows = np.flatnonzero(opaque.any(axis=1))
    cols = np.flatnonzero(opaque.any(axis=0))
    crop = opaque[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    factor = min(-(-max(crop.shape) // _SHAPE_SIDE), min(crop.shape))
    mask = _shrink(crop, factor) >= 0.5                       # (h, w), at most 128 across
    for ring in range(int(np.ceil(_SHEET_DEPTH * max(mask.shape)))):
        if not mask.any():
            return False
        mask = _erode(mask, diagonals=ring % 2 == 1, frame=False)
    return bool(mask.any())


def _edge_of(opaque):
    """The pixels of ``opaque (H, W)``, bool, with a non-opaque 4-neighbour.

    The image's own border is not transparency, so a sheet filling the frame
    has no edge there.
    """
    return opaque & ~_erode(opaque, diagonals=False, frame=True)


def _erode(mask, diagonals, frame):
    """``mask (H, W)``, bool, without its pixels that have a 4-neighbour outside
    it (or an 8-neighbour, with ``diagonals``); beyond the array, the mask is
    taken to be ``frame``."""
    padded = np.pad(mask, 1, constant_values=frame)
    kept = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    if diagonals:
        kept &= padded[:-2, :-2] & padded[:-2, 2:] & padded[2:, :-2] & padded[2:, 2:]
    return kept


def _border(gray):
    """The outermost ring of pixels of ``gray (H, W)``, as one flat array."""
    if min(gray.shape) <= 2:
        return gray.ravel()
    return np.concatenate((gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]))
