"""The picture of ``python main.py landscape``: filled loss contours, the path over them.

Drawn with Pillow alone (no plotting library): the loss grid is interpolated to
the plot's pixels on a log scale, cut into :data:`LEVELS` bands coloured from
viridis, with a darker line where two bands meet (the contour lines); the path
is a white line through its points, the model on show a larger vermilion dot.
"""
import numpy as np
from PIL import Image, ImageDraw

from cli.explain_cmd import colour_table, pil_font

#: Colour bands of the fill, evenly spaced in log(loss): a landscape spans 0.01 to
#: 100 and more, and the interesting part is the bottom of it.
LEVELS = 14
PLOT = 440
_LEFT, _TOP, _BOTTOM, _GAP, _BAR, _BAR_LABELS, _RIGHT = 78, 58, 62, 16, 18, 56, 10
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
PATH = (255, 255, 255)
MODEL = (213, 94, 0)            # Okabe-Ito vermilion, as the app's outlines
CONTOUR_SHADE = 0.55            # a contour line is its band's colour this much darker
#: Beyond this many points only the first and the last are labelled with their names.
_MAX_LABELS = 16
#: Pixels between two points for both to be named.
_LABEL_ROOM = 14


def _upsample(values, width, height):
    """Bilinear interpolation of ``values (ny, nx)`` (row 0 at the bottom) to
    ``(height, width)`` pixels, row 0 at the top; grid points sit on the edges."""
    def along(array, size, axis):
        n = array.shape[axis]
        if n == 1:
            return np.repeat(array, size, axis=axis)
        where = np.linspace(0, n - 1, size)
        low = np.minimum(where.astype(np.int64), n - 2)
        frac = where - low
        a, b = np.take(array, low, axis=axis), np.take(array, low + 1, axis=axis)
        frac = frac[None, :] if axis == 1 else frac[:, None]
        return a * (1 - frac) + b * frac
    return along(along(values, width, 1), height, 0)[::-1]


def log_levels(loss):
    """``(low, high)``: the log of the smallest and the largest finite loss of the grid."""
    finite = loss[np.isfinite(loss)]
    if not finite.size:
        return 0.0, 1.0
    logs = np.log(np.maximum(finite, 1e-12))
    return float(logs.min()), float(logs.max())


def bands(loss, width, height):
    """The band index ``(height, width)`` in ``0..LEVELS-1`` of each pixel of the plot."""
    low, high = log_levels(loss)
    # Points that overflowed count as the highest loss seen.
    logs = np.log(np.maximum(np.where(np.isfinite(loss), loss, np.exp(high)), 1e-12))
    scaled = (_upsample(logs, width, height) - low) / max(high - low, 1e-12)
    return np.clip((scaled * LEVELS).astype(np.int64), 0, LEVELS - 1)


def _fill(loss, table):
    """The plot's pixels ``(PLOT, PLOT, 3)`` uint8: bands and their boundaries."""
    band = bands(loss, PLOT, PLOT)
    colours = table[((np.arange(LEVELS) + 0.5) / LEVELS * 255).astype(np.int64)]
    rgb = colours[band].astype(np.float64)
    edge = np.zeros(band.shape, bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:, :] |= band[1:, :] != band[:-1, :]
    rgb[edge] *= CONTOUR_SHADE
    return rgb.astype(np.uint8)


def _to_pixels(points, xs, ys):
    """Plane coordinates ``(n, 2)`` as pixel positions on the canvas."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    u = (points[:, 0] - xs[0]) / (xs[-1] - xs[0])
    v = (points[:, 1] - ys[0]) / (ys[-1] - ys[0])
    return [(_LEFT + a * (PLOT - 1), _TOP + (1 - b) * (PLOT - 1)) for a, b in zip(u, v)]


def _axes(canvas, draw, xs, ys, x_label, y_label, font):
    """Ticks with values on the bottom and left edges, and the two axis names."""
    for fraction in np.linspace(0, 1, 5):
        x = _LEFT + fraction * (PLOT - 1)
        value = xs[0] + fraction * (xs[-1] - xs[0])
        draw.line([(x, _TOP + PLOT), (x, _TOP + PLOT + 4)], fill=TEXT)
        draw.text((x, _TOP + PLOT + 6), f"{value:.3g}", fill=TEXT, font=font, anchor="ma")
        y = _TOP + (1 - fraction) * (PLOT - 1)
        value = ys[0] + fraction * (ys[-1] - ys[0])
        draw.line([(_LEFT - 4, y), (_LEFT, y)], fill=TEXT)
        draw.text((_LEFT - 6, y), f"{value:.3g}", fill=TEXT, font=font, anchor="rm")
    draw.text((_LEFT + PLOT / 2, _TOP + PLOT + 26), x_label, fill=TEXT, font=font, anchor="ma")
    # Pillow writes only horizontally: the y label is written on its own and turned.
    box = draw.textbbox((0, 0), y_label, font=font)
    label = Image.new("RGB", (box[2] + 2, box[3] + 4), BACKGROUND)
    ImageDraw.Draw(label).text((1, 1), y_label, fill=TEXT, font=font)
    label = label.rotate(90, expand=True)
    canvas.paste(label, (4, int(_TOP + PLOT / 2 - label.height / 2)))


def _colour_bar(canvas, draw, loss, table, font):
    """Bands from the lowest loss (bottom) to the highest (top), with their values."""
    left = _LEFT + PLOT + _GAP
    low, high = log_levels(loss)
    band_height = PLOT / LEVELS
    for level in range(LEVELS):
        colour = tuple(int(c) for c in table[int((level + 0.5) / LEVELS * 255)])
        top = _TOP + PLOT - (level + 1) * band_height
        draw.rectangle([left, top, left + _BAR, top + band_height], fill=colour)
    for level in range(0, LEVELS + 1, max(1, LEVELS // 7)):
        y = _TOP + PLOT - level * band_height
        value = np.exp(low + level / LEVELS * (high - low))
        draw.line([(left + _BAR, y), (left + _BAR + 3, y)], fill=TEXT)
        draw.text((left + _BAR + 8, y), f"{value:.3g}", fill=TEXT, font=font, anchor="lm")
    draw.text((left, _TOP - 6), "loss", fill=TEXT, font=font, anchor="ld")


def _path(draw, pixels, names, font):
    """The path as a line through its points, each named when there are few and
    its name has room (the last point's name first: the model's wins)."""
    if len(pixels) > 1:
        draw.line(pixels, fill=PATH, width=2)
    last = len(pixels) - 1
    for index, (x, y) in enumerate(pixels):
        radius = 6 if index == last else 3.5
        draw.ellipse([x - radius, y - radius, x + radius, y + radius],
                     fill=MODEL if index == last else PATH, outline=(0, 0, 0))
    named = []
    for index in range(last, -1, -1):
        x, y = pixels[index]
        crowded = any(abs(x - u) < _LABEL_ROOM and abs(y - v) < _LABEL_ROOM for u, v in named)
        if not crowded and (len(pixels) <= _MAX_LABELS or index in (0, last)):
            draw.text((x + 7, y - 7), names[index], fill=PATH, font=font, anchor="ls")
            named.append((x, y))


def render(grid, path, names, title, x_label, y_label):
    """The landscape as an RGB picture.

    Parameters
    ----------
    grid : cnn_core.landscape.Grid
        At least 2 x 2 points.
    path : array-like, (n, 2)
        Plane coordinates of the path's points, the model on show last.
    names : list of str
        A short name for each point ("0", "1", ..., "model").
    title, x_label, y_label : str

    Returns
    -------
    PIL.Image.Image, mode ``"RGB"``
    """
    table = colour_table("viridis")
    width = _LEFT + PLOT + _GAP + _BAR + _BAR_LABELS + _RIGHT
    canvas = Image.new("RGB", (width, _TOP + PLOT + _BOTTOM), BACKGROUND)
    canvas.paste(Image.fromarray(_fill(grid.loss, table), "RGB"), (_LEFT, _TOP))
    draw = ImageDraw.Draw(canvas)
    font = pil_font(13)
    draw.text((_LEFT, 8), title, fill=TEXT, font=pil_font(15))
    _axes(canvas, draw, grid.xs, grid.ys, x_label, y_label, font)
    _colour_bar(canvas, draw, grid.loss, table, font)
    # Points off the grid (a random plane's least-squares path) are drawn where they
    # fall, clipped by the plot's frame.
    plot = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    _path(ImageDraw.Draw(plot), _to_pixels(path, grid.xs, grid.ys), names, font)
    mask = Image.new("L", canvas.size, 0)
    ImageDraw.Draw(mask).rectangle([_LEFT, _TOP, _LEFT + PLOT - 1, _TOP + PLOT - 1], fill=255)
    alpha = Image.fromarray(np.minimum(np.asarray(plot.getchannel("A")), np.asarray(mask)))
    plot.putalpha(alpha)
    canvas.paste(plot, (0, 0), plot)
    return canvas
