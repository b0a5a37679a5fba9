"""Where each column of the network view goes, and what lies under a point.

Pure Python: no Qt.  Units are the view's, one unit a screen pixel when the
view is at its natural size (:data:`SCENE_WIDTH` by :data:`SCENE_HEIGHT`
roughly); a map of a layer with at most :data:`MAX_ROWS` channels is a
:data:`TILE` units square, wider layers fold into more columns of smaller tiles.
A ReLU right after a layer of its shape shares that layer's header (same
shape), so the headers have room to say it.
"""
import math
from dataclasses import dataclass

MAX_ROWS = 16          # maps per column of tiles; more fold into another column
TILE = 28              # units per map side while a layer's maps fit one column
WIDE = 52              # units a folded layer's tiles take across
STRIP = 14             # units across a dense layer's strip of units
BAR_WIDTH = 44         # units of the longest bar (logits, probabilities)
BAR_ROW = 30           # units per bar, top to bottom
LABEL_SPACE = 14       # units left of the bars for the class digits
SPACING = 8            # units between columns
MIN_SLOT = 36          # units a column takes at least (its small label)
LONE_SLOT = 54         # units a column with a header of its own takes (the shape's width)
HEADER_TOP, DATA_TOP = 0, 46
DATA_HEIGHT = MAX_ROWS * (TILE + 2)
SCALE_TOP = DATA_TOP + DATA_HEIGHT + 8     # the colour bar under each column
SCALE_HEIGHT = 6


@dataclass(frozen=True)
class Place:
    """Where one column's values are drawn.

    Attributes
    ----------
    left, top, width, height : float
        The data rectangle (tiles, strip or bars), in view units.
    grid : (int, int) or None
        ``(columns, rows)`` of tiles for maps, None for units.
    scale : float
        View units per map pixel (maps), or per unit along the strip or bars.
    centre : float
        The middle of the column's slot, where its labels go.
    """

    left: float
    top: float
    width: float
    height: float
    grid: object
    scale: float
    centre: float

    def contains(self, x, y):
        """Whether view point ``(x, y)`` is on the data rectangle."""
        return self.left <= x < self.left + self.width and self.top <= y < self.top + self.height


def tile_grid(channels):
    """``(columns, rows, tile side in units)`` for ``channels`` maps."""
    columns = math.ceil(channels / MAX_ROWS)
    rows = math.ceil(channels / columns)
    side = TILE if columns == 1 else (WIDE - 2 * (columns - 1)) / columns
    return columns, rows, side


def _data_size(column):
    """``(width, height, grid, scale)`` of a column's data rectangle."""
    if column.is_maps:
        channels, height, width = column.shape
        columns, rows, side = tile_grid(channels)
        if channels == 1:
            side = 2 * TILE         # the input: one map, and the eye starts there
        scale = side / height
        # One map pixel of gap between tiles, as in gui.images.mosaic.
        return ((columns * (width + 1) - 1) * scale, (rows * (height + 1) - 1) * scale,
                (columns, rows), scale)
    units = column.shape[0]
    if units > MAX_ROWS:
        return STRIP, DATA_HEIGHT, None, DATA_HEIGHT / units
    return LABEL_SPACE + BAR_WIDTH, units * BAR_ROW, None, BAR_ROW


def column_places(columns):
    """The :class:`Place` of every column, by name, left to right, and the total width."""
    alone = {group[0].name for group in header_groups(columns) if len(group) == 1}
    places, left = {}, 0.0
    for column in columns:
        width, height, grid, scale = _data_size(column)
        slot = max(width, LONE_SLOT if column.name in alone else MIN_SLOT)
        top = DATA_TOP + (DATA_HEIGHT - height) / 2
        places[column.name] = Place(left + (slot - width) / 2, top, width, height, grid, scale,
                                    left + slot / 2)
        left += slot + SPACING
    return places, left - SPACING


def header_groups(columns):
    """Columns that share a header: a ReLU joins the layer before it when shapes match.

    Returns
    -------
    list of list of Column
    """
    groups = []
    for column in columns:
        if groups and column.kind == "relu" and groups[-1][-1].shape == column.shape:
            groups[-1].append(column)
        else:
            groups.append([column])
    return groups


def element_at(column, place, x, y):
    """The value of ``column`` under view point ``(x, y)``, or None.

    Returns
    -------
    tuple of int or None
        ``(channel, row, col)`` for maps, ``(unit,)`` for units.
    """
    if not place.contains(x, y):
        return None
    if column.is_maps:
        channels, height, width = column.shape
        columns = place.grid[0]
        across, row = divmod(int((x - place.left) / place.scale), width + 1)
        down, line = divmod(int((y - place.top) / place.scale), height + 1)
        channel = down * columns + across
        if row >= width or line >= height or channel >= channels:
            return None
        return channel, line, row
    unit = int((y - place.top) / place.scale)
    return (unit,) if unit < column.shape[0] else None


def tile_rect(column, place, channel):
    """``(left, top, width, height)`` of one map's tile, in view units."""
    _, height, width = column.shape
    down, across = divmod(channel, place.grid[0])
    return (place.left + across * (width + 1) * place.scale,
            place.top + down * (height + 1) * place.scale,
            width * place.scale, height * place.scale)


def element_rect(column, place, element):
    """``(left, top, width, height)`` of one value (a map pixel, a unit) in view units."""
    if column.is_maps:
        channel, row, col = element
        left, top, _, _ = tile_rect(column, place, channel)
        return left + col * place.scale, top + row * place.scale, place.scale, place.scale
    return place.left, place.top + element[0] * place.scale, place.width, place.scale


def source_rects(column, element, source, source_place):
    """The values of ``source`` that ``column``'s ``element`` is computed from, as rectangles.

    A conv value reads a 3×3 window of every input map (cut at the edges), a
    max-pool value a 2×2 window of its channel, a ReLU the same value; a
    dense unit or the softmax reads every tile or unit of its source.

    Returns
    -------
    list of (float, float, float, float)
        ``(left, top, width, height)`` in view units.
    """
    if not source.is_maps:
        if column.kind == "relu":
            return [element_rect(source, source_place, element)]
        return [element_rect(source, source_place, (unit,)) for unit in range(source.shape[0])]
    if not column.is_maps:
        return [tile_rect(source, source_place, channel) for channel in range(source.shape[0])]
    channel, row, col = element
    _, height, width = source.shape
    if column.kind == "conv":
        channels, rows, cols = range(source.shape[0]), (row - 1, row + 2), (col - 1, col + 2)
    elif column.kind == "maxpool":
        channels, rows, cols = [channel], (2 * row, 2 * row + 2), (2 * col, 2 * col + 2)
    else:
        channels, rows, cols = [channel], (row, row + 1), (col, col + 1)
    top, bottom = max(rows[0], 0), min(rows[1], height)
    left, right = max(cols[0], 0), min(cols[1], width)
    rects = []
    for source_channel in channels:
        x, y, _, _ = tile_rect(source, source_place, source_channel)
        scale = source_place.scale
        rects.append((x + left * scale, y + top * scale, (right - left) * scale,
                      (bottom - top) * scale))
    return rects
