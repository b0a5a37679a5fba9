"""Non-digit drawings made the way the canvas makes them, for the novelty tests.

The canvas (``gui/draw/canvas.py``) rasterises round-pen strokes into an
alpha layer ``ANALYSIS_SIDE`` (140) pixels square, ink 1 and paper 0, with
anti-aliased edges; :func:`cnn_core.preprocessing.preprocess` then crops,
scales to a 20 px box and centres it.  Here every shape is a list of
polylines in a unit box, wobbled like a hand, rotated a little, placed at a
random size on the 140-pixel sheet and drawn with a pen 10 to 18 pixels wide
(the app's default brush, 28 of the paper's 280 units, is 14): after
preprocessing its strokes are 2 to 3 pixels wide, as the app's are.

Shapes that a person could take for a digit (O, I, S, Z, a plain circle)
are left out on purpose: flagging them would be wrong, not a success.
No Qt here, so the core tests can use it; the GUI test draws its X through
the real widget instead.
"""
import numpy as np

from cnn_core.preprocessing import preprocess

#: Side of the canvas's analysis raster (gui.draw.canvas.ANALYSIS_SIDE, not
#: imported: that module needs Qt).
SIDE = 140


def _line(*points):
    return np.array(points, dtype=np.float64)


def _arc(cx, cy, rx, ry, start, stop, n=40):
    """Points on an ellipse from angle ``start`` to ``stop`` (degrees, y down)."""
    t = np.radians(np.linspace(start, stop, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


#: Capital letters as strokes in a unit box (x right, y down).
LETTERS = {
    "A": [_line((0.1, 1), (0.5, 0), (0.9, 1)), _line((0.27, 0.6), (0.73, 0.6))],
    "B": [_line((0.15, 0), (0.15, 1)),
          np.vstack([_line((0.15, 0)), _arc(0.5, 0.25, 0.35, 0.25, -90, 90), _line((0.15, 0.5))]),
          np.vstack([_line((0.15, 0.5)), _arc(0.5, 0.75, 0.38, 0.25, -90, 90), _line((0.15, 1))])],
    "E": [_line((0.85, 0), (0.15, 0), (0.15, 1), (0.85, 1)), _line((0.15, 0.5), (0.7, 0.5))],
    "F": [_line((0.85, 0), (0.15, 0), (0.15, 1)), _line((0.15, 0.5), (0.7, 0.5))],
    "H": [_line((0.15, 0), (0.15, 1)), _line((0.85, 0), (0.85, 1)), _line((0.15, 0.5), (0.85, 0.5))],
    "K": [_line((0.2, 0), (0.2, 1)), _line((0.85, 0), (0.2, 0.55)), _line((0.4, 0.4), (0.85, 1))],
    "M": [_line((0.05, 1), (0.15, 0), (0.5, 0.65), (0.85, 0), (0.95, 1))],
    "N": [_line((0.15, 1), (0.15, 0), (0.85, 1), (0.85, 0))],
    "W": [_line((0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0))],
    "X": [_line((0.1, 0), (0.9, 1)), _line((0.9, 0), (0.1, 1))],
    "R": [_line((0.15, 1), (0.15, 0)),
          np.vstack([_line((0.15, 0)), _arc(0.45, 0.27, 0.38, 0.27, -90, 90), _line((0.15, 0.54))]),
          _line((0.4, 0.54), (0.85, 1))],
    "P": [_line((0.2, 1), (0.2, 0)),
          np.vstack([_line((0.2, 0)), _arc(0.5, 0.27, 0.35, 0.27, -90, 90), _line((0.2, 0.54))])],
    "T": [_line((0.05, 0), (0.95, 0)), _line((0.5, 0), (0.5, 1))],
    "V": [_line((0.05, 0), (0.5, 1), (0.95, 0))],
    "Y": [_line((0.1, 0), (0.5, 0.5), (0.9, 0)), _line((0.5, 0.5), (0.5, 1))],
    "D": [np.vstack([_line((0.2, 1), (0.2, 0)), _arc(0.3, 0.5, 0.55, 0.5, -90, 90)])],
    "G": [np.vstack([_arc(0.5, 0.5, 0.45, 0.5, -40, -330), _line((0.95, 0.55), (0.6, 0.55))])],
    "Q": [_arc(0.5, 0.45, 0.45, 0.45, 0, 360, 60), _line((0.6, 0.75), (0.95, 1.05))],
    "U": [np.vstack([_line((0.1, 0)), _arc(0.5, 0.6, 0.4, 0.4, 180, 0), _line((0.9, 0))])],
    "J": [np.vstack([_line((0.3, 0), (0.9, 0))]),
          np.vstack([_line((0.65, 0)), _arc(0.4, 0.72, 0.25, 0.28, 0, 180)])],
}


def _star(points=5):
    angles = np.radians(-90 + np.arange(2 * points + 1) * 180 / points)
    radius = np.where(np.arange(2 * points + 1) % 2 == 0, 0.5, 0.2)
    return [np.stack([0.5 + radius * np.cos(angles), 0.5 + radius * np.sin(angles)], axis=1)]


def _spiral(turns):
    t = np.linspace(0, turns * 2 * np.pi, int(60 * turns))
    r = 0.5 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], axis=1)]


def _grid(lines):
    ticks = np.linspace(0, 1, lines)
    return ([_line((0, y), (1, y)) for y in ticks[1:-1]]
            + [_line((x, 0), (x, 1)) for x in ticks[1:-1]])


SHAPES = {
    "square": lambda rng: [_line((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))],
    "triangle": lambda rng: [_line((0.5, 0), (1, 1), (0, 1), (0.5, 0))],
    "star": lambda rng: _star(int(rng.integers(5, 8))),
    "spiral": lambda rng: _spiral(rng.uniform(2.0, 3.5)),
    "plus": lambda rng: [_line((0.5, 0), (0.5, 1)), _line((0, 0.5), (1, 0.5))],
    "grid": lambda rng: _grid(int(rng.integers(4, 6))),
    "box-cross": lambda rng: [_line((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)),
                              _line((0, 0), (1, 1)), _line((1, 0), (0, 1))],
    "arrow": lambda rng: [_line((0, 0.5), (1, 0.5)), _line((0.65, 0.15), (1, 0.5), (0.65, 0.85))],
    "house": lambda rng: [_line((0.1, 1), (0.1, 0.45), (0.5, 0), (0.9, 0.45), (0.9, 1), (0.1, 1))],
    "smiley": lambda rng: [_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 60), _arc(0.5, 0.5, 0.28, 0.25, 20, 160),
                           _arc(0.33, 0.35, 0.04, 0.04, 0, 360, 8),
                           _arc(0.67, 0.35, 0.04, 0.04, 0, 360, 8)],
}


def _scribble(rng):
    """A tangle: one stroke through a dozen or more random points, smoothed."""
    points = rng.uniform(0, 1, size=(int(rng.integers(12, 25)), 2))
    dense = np.concatenate([np.linspace(a, b, 6, endpoint=False) for a, b in zip(points, points[1:])])
    kernel = np.ones(5) / 5
    smooth = np.stack([np.convolve(dense[:, k], kernel, mode="valid") for k in (0, 1)], axis=1)
    return [smooth]


def _random_strokes(rng):
    """Three to six straight strokes anywhere in the box."""
    return [rng.uniform(0, 1, size=(2, 2)) for _ in range(int(rng.integers(3, 7)))]


def _zigzag(rng):
    n = int(rng.integers(6, 10))
    x = np.linspace(0, 1, n)
    return [np.stack([x, np.where(np.arange(n) % 2 == 0, 0.0, 1.0)], axis=1)]


def _hatching(rng):
    """Parallel diagonal strokes, as when shading an area."""
    offsets = np.linspace(-0.6, 0.6, int(rng.integers(3, 6)))
    return [_line((max(0, o), max(0, -o)), (min(1, 1 + o), min(1, 1 - o))) for o in offsets]


def _blob_alpha(rng, box, side=SIDE):
    """A filled blob: a wobbly disc of ink in ``box`` (x0, y0, size) on the raster."""
    x0, y0, size = box
    yy, xx = np.mgrid[0:side, 0:side] + 0.5
    dx, dy = (xx - x0 - size / 2) / (size / 2), (yy - y0 - size / 2) / (size / 2)
    angle, radius = np.arctan2(dy, dx), np.hypot(dx, dy)
    harmonics = rng.normal(0, 0.12, size=(4, 2))
    edge = 0.8 + sum(a * np.cos((k + 2) * angle) + b * np.sin((k + 2) * angle)
                     for k, (a, b) in enumerate(harmonics))
    return np.clip((edge - radius) * size / 2 + 0.5, 0, 1)


GENERATORS = {
    "scribble": _scribble,
    "random strokes": _random_strokes,
    "zigzag": _zigzag,
    "hatching": _hatching,
}


def _wobble(stroke, rng, amount):
    """Resample ``stroke (P, 2)`` finely and add a slow hand wobble of about ``amount``."""
    lengths = np.hypot(*np.diff(stroke, axis=0).T)
    along = np.concatenate([[0], np.cumsum(lengths)])
    if along[-1] == 0:
        return stroke
    t = np.linspace(0, along[-1], max(2, int(along[-1] * 25)))
    fine = np.stack([np.interp(t, along, stroke[:, k]) for k in (0, 1)], axis=1)
    phase = rng.uniform(0, 2 * np.pi, size=(2, 2))
    wave = np.stack([np.sin(t * 5 + phase[k, 0]) + 0.5 * np.sin(t * 11 + phase[k, 1])
                     for k in (0, 1)], axis=1)
    return fine + amount * wave


def _paint(strokes, width, side=SIDE):
    """Anti-aliased round-pen strokes, as QPainter draws them: coverage ``(side, side)`` in [0, 1].

    Each segment only looks at the pixels of its own bounding box, pen included.
    """
    distance = np.full((side, side), np.inf)
    reach = width / 2 + 1
    for stroke in strokes:
        stroke = np.vstack([stroke, stroke]) if len(stroke) == 1 else stroke
        for a, b in zip(stroke[:-1], stroke[1:]):
            x0, y0 = np.maximum(np.floor(np.minimum(a, b) - reach), 0).astype(int)
            x1, y1 = np.minimum(np.ceil(np.maximum(a, b) + reach), side).astype(int)
            yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
            v = b - a
            t = np.clip(((xx - a[0]) * v[0] + (yy - a[1]) * v[1]) / max(v @ v, 1e-12), 0, 1)
            near = np.hypot(xx - a[0] - t * v[0], yy - a[1] - t * v[1])
            np.minimum(distance[y0:y1, x0:x1], near, out=distance[y0:y1, x0:x1])
    return np.clip(width / 2 - distance + 0.5, 0, 1)


def _place(strokes, rng, side=SIDE):
    """Rotate, stretch and place unit-box strokes on the raster, wholly inside it."""
    angle = np.radians(rng.uniform(-15, 15))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shaped = [((s - 0.5) * rng.uniform(0.8, 1.2, size=2)) @ rotation.T for s in strokes]
    points = np.vstack(shaped)
    low, high = points.min(axis=0), points.max(axis=0)
    size = rng.uniform(0.45, 0.8) * side / (high - low).max()      # the longer side, in pixels
    margin = 0.1 * side                                            # room for the pen
    corner = [rng.uniform(margin, max(margin, side - margin - size * extent))
              for extent in high - low]
    return [(s - low) * size + corner for s in shaped]


def draw(kind, rng):
    """One canvas ink layer ``(140, 140)`` of a non-digit named ``kind``.

    ``kind`` is a letter of :data:`LETTERS`, a shape of :data:`SHAPES`, a
    generator of :data:`GENERATORS` or ``"blob"``.
    """
    if kind == "blob":
        size = rng.uniform(0.3, 0.6) * SIDE
        x0, y0 = rng.uniform(0.1 * SIDE, 0.9 * SIDE - size, size=2)
        return _blob_alpha(rng, (x0, y0, size))
    if kind in LETTERS:
        strokes = LETTERS[kind]
    elif kind in SHAPES:
        strokes = SHAPES[kind](rng)
    else:
        strokes = GENERATORS[kind](rng)
    wobbled = [_wobble(np.asarray(s, np.float64), rng, rng.uniform(0.005, 0.02)) for s in strokes]
    return _paint(_place(wobbled, rng), width=rng.uniform(10, 18))


def kinds():
    """Every kind of non-digit :func:`draw` makes."""
    return [*LETTERS, *SHAPES, *GENERATORS, "blob"]


def nondigits(per_kind=4, seed=0):
    """Preprocessed non-digit drawings: ``(images (N, 1, 28, 28) float32, kinds (N,))``."""
    rng = np.random.default_rng(seed)
    names = [kind for kind in kinds() for _ in range(per_kind)]
    images = np.stack([preprocess(draw(kind, rng)) for kind in names])[:, None]
    return images.astype(np.float32), np.array(names)
