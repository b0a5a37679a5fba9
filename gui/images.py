"""Pictures shared by the Draw & Explain and Evaluate places.

Colour maps are pyqtgraph built-ins and perceptually uniform; heat maps are
blended over the digit on the CPU (28×28, microseconds), so every map is one
ImageItem, and a mosaic of many small maps is one ImageItem too.
"""
import functools
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap

from .theme import is_dark

#: Heat maps: white (no evidence) through yellow and orange to red, so a map
#: drawn over the paper leaves the paper white where nothing matters.
HEAT_COLOUR_MAP = "CET-L18"
#: Heat maps in the dark theme: black (no evidence) through purple and orange to
#: yellow (perceptually uniform, colour-blind safe), so the paper of a map is as
#: dark as the window around it instead of a white glare.
DARK_HEAT_COLOUR_MAP = "inferno"
#: Activations: dark (silent) to bright (firing).
ACTIVATION_COLOUR_MAP = "viridis"
#: Counts in the confusion matrix: white for zero, so empty cells vanish.
COUNT_COLOUR_MAP = "CET-L17"
#: Ten digits: pyqtgraph's categorical palette for light backgrounds (nine hues)
#: and a dark grey for the tenth.
DIGIT_PALETTE = "PAL-relaxed"
TENTH_DIGIT_COLOUR = (77, 77, 77)
INK_RGB = np.array([31, 39, 51], np.float32)     # the canvas ink, dark blue-grey
DARK_INK_RGB = np.array([232, 234, 237], np.float32)   # light strokes on dark paper
INK_OVER_HEAT = 0.55                              # how strongly the strokes show over a map
#: Signed maps (evidence for and against a class): Okabe-Ito vermillion for,
#: blue against (told apart with any colour vision), paper where it is zero.
FOR_RGB = np.array([213, 94, 0], np.float32)
AGAINST_RGB = np.array([0, 114, 178], np.float32)
DARK_FOR_RGB = np.array([240, 140, 60], np.float32)
DARK_AGAINST_RGB = np.array([86, 180, 233], np.float32)
#: Under a signed map the strokes are a faint grey, so the colours stay clean
#: (ink blended into them made yellow and red a muddy olive) yet show the digit.
STROKE_UNDER_SIGNED = np.array([200, 200, 200], np.float32)
DARK_STROKE_UNDER_SIGNED = np.array([70, 70, 70], np.float32)
GAP_BACKGROUND = "#2b2b2b"                        # shows the NaN gaps of a mosaic
FRAME_COLOUR = "#b9b4a8"


@functools.lru_cache(maxsize=None)
def lookup_table(name):
    """A ``(256, 3)`` uint8 lookup table of a pyqtgraph colour map (read-only: shared)."""
    table = pg.colormap.get(name).getLookupTable(nPts=256, alpha=False)
    table.flags.writeable = False
    return table


def heat_colour_map():
    """The name of the heat maps' colour map in the app's current theme."""
    return DARK_HEAT_COLOUR_MAP if is_dark() else HEAT_COLOUR_MAP


def digit_colours():
    """Ten distinguishable colours, one per digit, as ``(10, 3)`` uint8."""
    hues = pg.colormap.get(DIGIT_PALETTE).getColors(mode="byte")[:9, :3]
    return np.vstack([hues, TENTH_DIGIT_COLOUR]).astype(np.uint8)


def heat_over_digit(digit, heatmap, table=None):
    """Blend a heat map over the digit's strokes.

    Parameters
    ----------
    digit : ndarray, (28, 28)
        Ink in [0, 1].
    heatmap : ndarray, (28, 28)
        Evidence in [0, 1].
    table : ndarray, uint8, (256, 3), optional
        The heat colour map, with dark ink; default the current theme's map and
        ink (light paper and dark ink, or dark paper and light ink).

    Returns
    -------
    rgb : ndarray, uint8, (28, 28, 3)
    """
    ink_rgb = INK_RGB
    if table is None:
        dark = is_dark()
        table, ink_rgb = lookup_table(heat_colour_map()), DARK_INK_RGB if dark else INK_RGB
    index = np.clip(np.nan_to_num(heatmap) * 255, 0, 255).astype(np.uint8)
    heat = table[index].astype(np.float32)
    ink = (INK_OVER_HEAT * np.clip(digit, 0, 1))[..., None]
    return (heat * (1 - ink) + ink_rgb * ink).astype(np.uint8)


def _signed_colours(dark):
    """``(paper, stroke, for, against)`` RGB of a signed map in the light or dark theme."""
    if dark:
        return np.zeros(3, np.float32), DARK_STROKE_UNDER_SIGNED, DARK_FOR_RGB, DARK_AGAINST_RGB
    return np.full(3, 255, np.float32), STROKE_UNDER_SIGNED, FOR_RGB, AGAINST_RGB


def signed_over_digit(digit, signed, dark=None):
    """Draw a signed map over faint strokes: for one colour, against another.

    Parameters
    ----------
    digit : ndarray, (28, 28)
        Ink in [0, 1], drawn as a faint grey outline of the digit.
    signed : ndarray, (28, 28)
        Evidence in [-1, 1]: positive for the class, negative against it.
    dark : bool, optional
        Dark paper; default the app's theme.

    Returns
    -------
    rgb : ndarray, uint8, (28, 28, 3)
        Each pixel's colour is mixed into the paper by the square root of its
        magnitude, so zero is plain paper and weak evidence still shows.
    """
    paper, stroke, for_rgb, against_rgb = _signed_colours(is_dark() if dark is None else dark)
    ink = np.clip(np.nan_to_num(digit), 0, 1)[..., None]
    base = paper * (1 - ink) + stroke * ink
    value = np.clip(np.nan_to_num(signed), -1, 1)[..., None]
    alpha = np.sqrt(np.abs(value))
    colour = np.where(value > 0, for_rgb, against_rgb)
    return np.rint(base * (1 - alpha) + colour * alpha).astype(np.uint8)


def signed_colour_map(dark=None):
    """The colour scale of :func:`signed_over_digit` from -1 to 1 (no strokes), a ColorMap."""
    values = np.linspace(-1, 1, 65, dtype=np.float32)[None]
    colours = signed_over_digit(np.zeros_like(values), values, dark)[0]
    return pg.ColorMap(np.linspace(0, 1, len(colours)), colours)


def mosaic(maps, columns, gap=1):
    """Tile ``maps (C, H, W)`` into one image, ``columns`` wide, NaN between tiles.

    Returns
    -------
    image : ndarray, float32, (rows * (H + gap) - gap, columns * (W + gap) - gap)
    """
    count, height, width = maps.shape
    rows = math.ceil(count / columns)
    out = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan,
                  np.float32)
    for index in range(count):
        row, col = divmod(index, columns)
        top, left = row * (height + gap), col * (width + gap)
        out[top:top + height, left:left + width] = maps[index]
    return out


def tile_at(x, y, tile_shape, columns, count, gap=1):
    """The index of the tile under mosaic pixel ``(x, y)``, or None in a gap or outside."""
    height, width = tile_shape
    col, within_x = divmod(int(math.floor(x)), width + gap)
    row, within_y = divmod(int(math.floor(y)), height + gap)
    if x < 0 or y < 0 or col >= columns or within_x >= width or within_y >= height:
        return None
    index = row * columns + col
    return index if index < count else None


def digit_pixmap(digit, scale=2):
    """A QPixmap of a 28×28 digit as dark ink on white paper, ``scale`` times larger.

    Its pixels are the screen's (device pixels), so the digit stays sharp on a
    high-DPI screen instead of being blurred up.
    """
    ratio = QGuiApplication.instance().devicePixelRatio()
    pixels = max(1, round(scale * ratio))
    gray = (255 - np.clip(digit, 0, 1) * 255).astype(np.uint8)
    gray = np.ascontiguousarray(np.kron(gray, np.ones((pixels, pixels), np.uint8)))
    height, width = gray.shape
    image = QImage(gray.data, width, height, width, QImage.Format.Format_Grayscale8)
    pixmap = QPixmap.fromImage(image.copy())   # copy: the array dies with this function
    pixmap.setDevicePixelRatio(pixels / scale)
    return pixmap


def image_view(layout, row, col, background=None, **span):
    """A locked-aspect, non-interactive ViewBox with one row-major ImageItem in it.

    ``span`` passes ``rowspan`` / ``colspan`` to the layout.
    """
    box = layout.addViewBox(row=row, col=col, lockAspect=True, enableMouse=False, invertY=True,
                            **span)
    box.setMenuEnabled(False)
    if background:
        box.setBackgroundColor(background)
    image = ClickableImage(axisOrder="row-major")
    box.addItem(image)
    return box, image


def framed(image, side=28):
    """Outline a ``side``-square image, so a map whose edges are white keeps its extent."""
    frame = pg.QtWidgets.QGraphicsRectItem(0, 0, side, side)
    frame.setPen(pg.mkPen(FRAME_COLOUR, width=1, cosmetic=True))
    frame.setZValue(1)
    image.getViewBox().addItem(frame)
    return image


class ClickableImage(pg.ImageItem):
    """An ImageItem that says which pixel (column ``x``, row ``y``) was clicked."""

    clicked = Signal(float, float)

    def mouseClickEvent(self, event):
        """Emit ``clicked(x, y)`` in image pixels for a left click."""
        if event.button() == pg.QtCore.Qt.MouseButton.LeftButton and self.image is not None:
            event.accept()
            position = event.pos()
            self.clicked.emit(position.x(), position.y())
        else:
            super().mouseClickEvent(event)
