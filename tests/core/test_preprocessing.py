"""Tests for cnn_core.preprocessing: drawings in, MNIST-like 28×28 digits out."""
import gzip
import struct

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from digit_files import load_image
from cnn_core.errors import EmptyImageError, ImageError
from cnn_core.model_files import load_model
from cnn_core.paths import SAMPLE_DIR, SHIPPED_MODEL
from cnn_core.preprocessing import normalise_ink, preprocess, resampling_matrix, to_grayscale

# A "7" with a crossbar and a "1": polylines in a unit box (row, col).
SEVEN = [[(0.0, 0.1), (0.0, 0.9), (1.0, 0.35)], [(0.5, 0.35), (0.5, 0.8)]]
ONE = [[(0.0, 0.5), (1.0, 0.5)]]


def draw(strokes, canvas=(280, 280), top=40, left=40, size=200, width=18.0):
    """Anti-aliased strokes as ink in [0, 1] on a canvas (0 = paper).

    Each polyline is scaled into a ``size``-pixel box at (top, left); a pixel
    is inked by how far its centre lies inside the pen's half-width.
    """
    rows, cols = np.mgrid[0:canvas[0], 0:canvas[1]].astype(np.float64)
    distance = np.full(canvas, np.inf)
    for line in strokes:
        points = [(top + r * size, left + c * size) for r, c in line]
        for (r0, c0), (r1, c1) in zip(points, points[1:]):
            dr, dc = r1 - r0, c1 - c0
            t = ((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc)
            t = np.clip(t, 0.0, 1.0)
            distance = np.minimum(distance, np.hypot(rows - r0 - t * dr, cols - c0 - t * dc))
    return np.clip(width / 2 + 0.5 - distance, 0.0, 1.0)


def on_paper(ink):
    """Dark ink on white paper, as uint8 0–255."""
    return np.round(255 * (1.0 - ink)).astype(np.uint8)


def centre_of_mass(image):
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return (rows * image).sum() / total, (cols * image).sum() / total


def ink_box(image):
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def correlation(a, b):
    return np.corrcoef(np.ravel(a), np.ravel(b))[0, 1]


def read_idx_images(path):
    """A few-line IDX reader, so this test does not depend on cnn_core.data."""
    raw = gzip.open(path).read()
    _, count, height, width = struct.unpack(">IIII", raw[:16])
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, height, width)


def test_output_is_28x28_float32_in_unit_range():
    digit = preprocess(on_paper(draw(SEVEN)))
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert digit.min() >= 0.0
    assert digit.max() == pytest.approx(1.0)


@pytest.mark.parametrize("top, left", [(12, 40), (67, 40), (40, -8), (40, 87)])
def test_ink_against_an_edge_is_boxed_and_centred_as_anywhere_else(top, left):
    # The canvas hands its ink over as it is: a 7 whose pen meets the sheet's
    # edge is the same 7 (its pen 24 wide, its centre line 12 from the edge).
    ink = draw(SEVEN, top=top, left=left, size=200, width=24.0)
    assert min(ink[0].max(), ink[-1].max(), ink[:, 0].max(), ink[:, -1].max()) == 0.0 \
        and max(ink[0].max(), ink[-1].max(), ink[:, 0].max(), ink[:, -1].max()) == 0.5
    digit = normalise_ink(ink)
    assert max(ink_box(digit > 0.1)) == 20
    assert np.allclose(centre_of_mass(digit), 14.0, atol=0.5)
    middle = normalise_ink(draw(SEVEN, top=40, left=40, size=200, width=24.0))
    np.testing.assert_allclose(digit, middle, atol=1e-6)


def test_dark_on_light_and_light_on_dark_agree():
    dark_on_light = on_paper(draw(SEVEN))
    light_on_dark = 255 - dark_on_light
    np.testing.assert_allclose(preprocess(dark_on_light), preprocess(light_on_dark), atol=1e-6)


def test_grey_paper_in_a_photo_reads_as_background():
    ink = draw(SEVEN)
    photo = 0.8 - 0.7 * ink   # grey paper, not-quite-black ink
    assert correlation(preprocess(photo), preprocess(ink)) > 0.99


def unevenly_lit(ink, light="side"):
    """A photo of ``ink`` (280×280) under uneven light, with sensor noise.

    ``"side"``: dark ink on paper whose light falls off from 0.8 at the left
    edge to 0.4 at the right; ``"vignette"``: white paper whose corners get a
    third of the centre's light, so the border is darker than mid-grey;
    ``"chalk"``: light chalk on a dark board lit from one side.  Paper, ink and
    chalk reflect a fixed share of the light that falls on them.
    """
    rows, cols = np.mgrid[-1:1:280j, -1:1:280j]
    noise = np.random.default_rng(0).normal(0, 0.02, ink.shape)
    if light == "vignette":
        level = 0.85 - 0.28 * (rows ** 2 + cols ** 2)
    else:
        level = 0.6 - 0.2 * cols
    reflected = 0.15 + 0.7 * ink if light == "chalk" else 1.0 - 0.8 * ink
    return np.clip(level * reflected + noise, 0, 1)


@pytest.mark.parametrize("light", ["side", "vignette", "chalk"])
def test_unevenly_lit_paper_reads_as_background(light):
    """The dark side of a photo is paper, not ink: with one tone for all the paper
    it read as a blob that swallowed the digit (or, vignetted, as light ink)."""
    ink = draw(SEVEN)
    assert correlation(preprocess(unevenly_lit(ink, light)), preprocess(ink)) > 0.95
    with pytest.raises(EmptyImageError):
        preprocess(unevenly_lit(np.zeros_like(ink), light))


def test_strokes_into_the_border_of_uneven_paper_are_still_ink():
    ink = draw(ONE, top=0, size=279)                # the stroke runs off top and bottom
    assert correlation(preprocess(unevenly_lit(ink)), preprocess(ink)) > 0.95


def test_a_large_photo_is_read_at_a_size_that_keeps_it_quick():
    """A phone photo's thousands of pixels are averaged down first: same digit."""
    ink = draw(SEVEN)
    large = np.kron(unevenly_lit(ink), np.ones((9, 9)))         # 2520 × 2520
    assert correlation(preprocess(large), preprocess(unevenly_lit(ink))) > 0.95


def test_clean_paper_is_measured_against_its_one_tone():
    """A clean sheet (one paper tone on the border) is read exactly as before:
    paper tone minus pixel."""
    from cnn_core.preprocessing import ink_intensity
    sheet = (0.8 - 0.7 * draw(SEVEN)).astype(np.float32)
    assert np.array_equal(ink_intensity(sheet), np.clip(np.float32(0.8) - sheet, 0, None))


def test_sensor_noise_on_even_paper_stays_out_of_the_digit():
    """Noise on an evenly lit photo used to put stray specks of ink far from the
    digit, which stretched its box."""
    ink = draw(SEVEN)
    photo = np.clip(0.5 * (1.0 - 0.8 * ink) + np.random.default_rng(2).normal(0, 0.025, ink.shape),
                    0, 1)
    assert correlation(preprocess(photo), preprocess(ink)) > 0.95


def test_position_on_the_canvas_does_not_matter():
    first = preprocess(draw(SEVEN, canvas=(400, 400), top=10, left=20))
    second = preprocess(draw(SEVEN, canvas=(400, 400), top=170, left=150))
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_size_of_the_drawing_hardly_matters():
    small = preprocess(draw(SEVEN, size=60, width=6.0))
    large = preprocess(draw(SEVEN, canvas=(560, 560), top=30, left=30, size=480, width=48.0))
    assert correlation(small, large) > 0.97
    assert np.abs(small - large).mean() < 0.05


@pytest.mark.parametrize("strokes", [SEVEN, ONE, [[(0.2, 0.0), (0.8, 1.0)]]])
def test_longer_side_is_20_and_centre_of_mass_is_central(strokes):
    digit = preprocess(on_paper(draw(strokes)))
    assert max(ink_box(digit)) == 20
    row, col = centre_of_mass(digit)
    # Whole-pixel shifts, as in MNIST: at most half a pixel off (a symmetric
    # "1" sits exactly on the half-pixel).
    assert abs(row - 14.0) <= 0.5 + 1e-5 and abs(col - 14.0) <= 0.5 + 1e-5


def test_thin_one_keeps_its_aspect_ratio():
    height, width = ink_box(preprocess(on_paper(draw(ONE, width=14.0))))
    assert height == 20
    assert width <= 4


def test_wide_stroke_keeps_its_aspect_ratio():
    dash = draw([[(0.5, 0.0), (0.5, 1.0)]], width=40.0)   # 240 wide, 40 tall
    height, width = ink_box(preprocess(dash))
    assert width == 20
    assert 3 <= height <= 5


@pytest.mark.parametrize("image", [
    np.full((280, 280), 255, np.uint8),
    np.zeros((280, 280), np.uint8),
    np.full((50, 70), 0.5),
    np.ones((1, 1)),
    np.zeros((5, 5, 4), np.uint8),   # fully transparent
], ids=["white", "black", "grey", "one-pixel", "transparent"])
def test_blank_images_are_reported_empty(image):
    with pytest.raises(EmptyImageError, match="empty"):
        preprocess(image)


def test_faint_noise_alone_is_empty():
    rng = np.random.default_rng(0)
    paper = np.clip(0.97 + 0.02 * rng.standard_normal((280, 280)), 0.0, 1.0)
    with pytest.raises(EmptyImageError):
        preprocess(paper)


def test_faint_noise_does_not_move_the_digit():
    rng = np.random.default_rng(1)
    ink = draw(SEVEN)
    noisy = np.clip(1.0 - ink + 0.02 * rng.standard_normal(ink.shape), 0.0, 1.0)
    assert correlation(preprocess(noisy), preprocess(1.0 - ink)) > 0.99


def test_a_single_dot_becomes_a_centred_blob():
    image = np.ones((3, 3))
    image[1, 1] = 0.0
    digit = preprocess(image)
    assert ink_box(digit) == (20, 20)
    assert centre_of_mass(digit) == pytest.approx((14.0, 14.0), abs=0.5 + 1e-5)


def test_gray_rgb_and_rgba_inputs_agree():
    ink = draw(SEVEN)
    gray = on_paper(ink)
    expected = preprocess(gray)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    opaque = np.dstack([rgb, np.full(gray.shape, 255, np.uint8)])
    alpha = 255 - gray
    black_strokes = np.dstack([np.zeros_like(rgb), alpha])      # transparent sheet
    white_strokes = np.dstack([np.full_like(rgb, 255), alpha])  # dark-mode app
    for image in (gray[:, :, None], rgb, opaque, black_strokes, white_strokes):
        np.testing.assert_allclose(preprocess(image), expected, atol=1e-5)


def test_transparent_margin_around_opaque_paper_is_paper():
    ink = draw(SEVEN, canvas=(200, 200), top=40, left=40, size=120, width=12.0)
    paper = on_paper(ink)
    rgba = np.zeros((300, 300, 4), np.uint8)   # transparent all round...
    rgba[50:250, 50:250, :3] = paper[:, :, None]
    rgba[50:250, 50:250, 3] = 255              # ...an opaque sheet inside
    assert correlation(preprocess(rgba), preprocess(paper)) > 0.999


def test_transparent_cut_out_reads_as_ink():
    sheet = np.zeros((280, 280, 4), np.uint8)
    sheet[:, :, :3] = 255
    sheet[:, :, 3] = np.round(255 * (1.0 - draw(SEVEN))).astype(np.uint8)
    assert correlation(preprocess(sheet), preprocess(draw(SEVEN))) > 0.999


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED_MODEL)[0]


def predicted(network, digit):
    return int(network.predict_proba(digit[None, None])[0].argmax())


def pillow_seven(width=20):
    """A "7" as a drawing program exports it, uint8 (100, 100): a black line
    ``width`` pixels thick on white, then a slight blur, so its edges are greys."""
    image = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(image).line([(25, 20), (75, 20), (40, 85)], fill=0, width=width, joint="curve")
    return np.asarray(image.filter(ImageFilter.GaussianBlur(2)))


def keyed(gray, variant):
    """``gray`` with its white paper made transparent, RGBA uint8.

    ``"hard"``: every pixel with gray >= 250 fully transparent; ``"soft"``:
    alpha ramps down over the lightest greys (0 < alpha < 255 on the edge);
    ``"noisy"``: sensor/JPEG-like noise, then keyed at 240; ``"light"``: the
    negative, light strokes keyed out of black paper.
    """
    values = gray.astype(np.float64)
    alpha = np.where(values >= 250, 0, 255)
    if variant == "soft":
        alpha = np.clip((250 - values) * 255 / 40, 0, 255)
    elif variant == "noisy":
        values = np.clip(values + np.random.default_rng(0).normal(0, 4, values.shape), 0, 255)
        alpha = np.where(values >= 240, 0, 255)
    elif variant == "light":
        values = 255 - values
    return np.dstack([values, values, values, alpha]).round().astype(np.uint8)


def assert_same_digit(network, digit, expected):
    """``digit`` is ``expected`` (both 28×28), not its hollow outline: inked in the
    strokes' interior, and read as the same digit."""
    interior = expected > 0.9
    assert digit[interior].mean() > 0.9       # an outline has ~0.1 there
    assert correlation(digit, expected) > 0.95
    assert predicted(network, digit) == predicted(network, expected)


@pytest.mark.parametrize("width", [8, 20], ids=["thin", "bold"])
@pytest.mark.parametrize("variant", ["hard", "soft", "noisy", "light"])
def test_paper_keyed_out_of_an_anti_aliased_digit_is_paper_again(shipped, variant, width):
    """The greys of the strokes' edges are not a second tone of a sheet whose
    paper is the dark ink: transparency is the paper they fade towards.  The
    bold 7 used to read as its outline, an 8."""
    gray = pillow_seven(width)
    assert_same_digit(shipped, preprocess(keyed(gray, variant)), preprocess(gray))


def test_palette_png_with_a_transparent_white_is_read_on_white(tmp_path, shipped):
    gray = pillow_seven()
    palette = Image.fromarray(gray).convert("P")
    path = tmp_path / "seven.png"
    palette.save(path, transparency=palette.getpixel((0, 0)))   # the white index
    image = load_image(path)
    assert image.shape == gray.shape + (4,) and image[..., 3].min() == 0.0
    assert_same_digit(shipped, preprocess(image), preprocess(gray))


def test_sheet_cut_out_of_a_dark_desk_keeps_its_white_paper():
    """A photo's background removed: the sheet's feathered rim is darkened by
    the desk, yet the transparency around it is the sheet's paper, not the
    desk the rim fades to (a thin pencil digit is no darker than the rim)."""
    sheet = 1.0 - 0.5 * draw(SEVEN, canvas=(200, 200), top=40, left=40, size=120, width=3.0)
    scene = np.full((260, 260), 0.15)
    scene[30:230, 30:230] = sheet
    mask = np.zeros((260, 260), np.uint8)
    mask[30:230, 30:230] = 255
    colour = Image.fromarray(np.round(255 * scene).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    alpha = Image.fromarray(mask).filter(ImageFilter.GaussianBlur(2))
    rgba = np.dstack([np.asarray(colour)] * 3 + [np.asarray(alpha)])
    assert to_grayscale(rgba)[0, 0] == 1.0


def test_dtypes_are_read_on_their_own_scale():
    ink = draw(SEVEN)
    expected = preprocess(ink)
    for image in (np.round(ink * 65535).astype(np.uint16),
                  ink.astype(np.float32),
                  np.round(ink * 255).astype(np.int64),
                  ink * 255.0):
        np.testing.assert_allclose(preprocess(image), expected, atol=2e-3)
    binary = preprocess(ink > 0.5)
    assert correlation(binary, expected) > 0.98


@pytest.mark.parametrize("image, message", [
    (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
    (np.array([[0.0, np.inf], [1.0, 0.0]]), "NaN or infinite"),
    (np.zeros((0, 5)), "no pixels"),
    (np.zeros((4, 4, 2)), "shape"),
    (np.zeros(16), "shape"),
    (np.zeros((2, 4, 4, 1)), "shape"),
    (np.array([[-1.0, 0.0]]), "negative"),
    (np.array([[1e6, 0.0]]), "16-bit"),
    (np.array([["a", "b"]]), "real numbers"),
    (np.array([[1 + 1j, 0]]), "real numbers"),
])
def test_unusable_arrays_are_rejected_in_one_line(image, message):
    with pytest.raises(ImageError, match=message) as caught:
        preprocess(image)
    assert "\n" not in str(caught.value)
    assert not isinstance(caught.value, EmptyImageError)


def test_to_grayscale_reads_rgb_as_luma():
    pixel = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(to_grayscale(pixel), [[0.299, 0.587, 0.114]], atol=1e-6)


@pytest.mark.parametrize("n_in, n_out", [(280, 20), (20, 20), (7, 20), (1, 20), (23, 20), (3, 1)])
def test_resampling_rows_sum_to_one(n_in, n_out):
    weights = resampling_matrix(n_in, n_out)
    assert weights.shape == (n_out, n_in)
    assert weights.min() >= 0.0
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)


def test_resampling_same_size_is_identity():
    np.testing.assert_array_equal(resampling_matrix(20, 20), np.eye(20))


def test_downsampling_averages_areas():
    signal = np.arange(280, dtype=np.float32)
    # Each of 20 cells averages 14 consecutive values.
    expected = signal.reshape(20, 14).mean(axis=1)
    np.testing.assert_allclose(resampling_matrix(280, 20) @ signal, expected, rtol=1e-5)


def test_upsampling_is_linear_not_blocky():
    ramp = np.arange(5, dtype=np.float32)
    upsampled = resampling_matrix(5, 20) @ ramp
    steps = np.diff(upsampled)
    assert np.all(steps >= 0)
    # Interior steps are all equal (a ramp stays a ramp); blocks would repeat.
    np.testing.assert_allclose(steps[2:-2], 0.25, atol=1e-6)


def test_real_mnist_digits_survive_a_round_trip():
    """Blown up ×10 and inverted, an MNIST digit comes back as itself.

    MNIST digits are already 20-pixel, centre-of-mass-centred images, so a
    faithful reimplementation of that recipe must reproduce them.
    """
    sample = SAMPLE_DIR / "images-idx3-ubyte.gz"
    if sample.exists():
        digits = read_idx_images(sample)[::500]   # one of each class
    else:
        digits = [np.round(255 * preprocess(draw(s))).astype(np.uint8) for s in (SEVEN, ONE)]
    for digit in digits:
        drawing = 255 - np.kron(digit, np.ones((10, 10), np.uint8))
        assert correlation(preprocess(drawing), digit) > 0.9
