"""Digits drawn the way people draw them on the canvas, for the unsure-flag tests.

The ten digits as polylines a hand makes (smooth curves through a few knots,
a 4 and a 5 in two strokes), in several styles each (a 4 open or closed, a
7 with or without its bar, a 1 with a flag and a foot...), then drawn as
:mod:`tests.nondigits` draws its shapes: wobbled, slanted, stretched,
placed at any size on the canvas's 140-pixel analysis sheet and painted with
a round pen 8 to 22 pixels wide (thin pen to the app's brush drawn large),
then boxed and centred by :func:`cnn_core.preprocessing.normalise_ink`, the
canvas's own path.  No Qt here, so the core tests can use it; the GUI test
``tests/gui/test_canvas_digits.py`` draws :data:`STROKES` through the widget.
"""
import math

import numpy as np

from cnn_core.preprocessing import normalise_ink
from tests.nondigits import SIDE, _paint, _wobble

#: Pen widths on the 140-pixel sheet: a thin pen to a thick brush drawn large.
PEN_WIDTHS = (8, 22)
#: The digit's height as a share of the sheet.
HEIGHTS = (0.35, 0.85)
#: Slant (a shear, x moves by this times the height above the baseline) and rotation (degrees).
SLANT = 0.3
ROTATION = 8


def smooth(*knots, steps=12):
    """Points of a Catmull-Rom curve through ``knots`` ``(x, y)``: a hand's path through them."""
    padded = [knots[0], *knots, knots[-1]]
    points = [knots[0]]
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = (np.array(p, float) for p in padded[i - 1:i + 3])
        for t in np.linspace(0, 1, steps + 1)[1:]:
            points.append(tuple(0.5 * (2 * p1 + (p2 - p0) * t
                                       + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                                       + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3)))
    return points


def arc(cx, cy, rx, ry, start, end, steps=40):
    """Points of an elliptic arc; angles in degrees, 0 at the top, clockwise on screen."""
    return [(cx + rx * math.sin(math.radians(a)), cy - ry * math.cos(math.radians(a)))
            for a in np.linspace(start, end, steps)]


#: Each digit as strokes of ``(x, y)`` points, y down, the digit 1 tall (one style each).
STROKES = {
    0: [arc(0.33, 0.5, 0.3, 0.5, 10, -355)],
    1: [smooth((0.42, 0.0), (0.35, 0.5), (0.3, 1.0))],
    2: [smooth((0.05, 0.22), (0.3, 0.0), (0.6, 0.12), (0.55, 0.4), (0.0, 1.0), (0.35, 0.95),
               (0.7, 0.97))],
    3: [smooth((0.05, 0.1), (0.35, 0.0), (0.6, 0.15), (0.45, 0.4), (0.25, 0.47), (0.5, 0.55),
               (0.65, 0.78), (0.4, 1.0), (0.0, 0.9))],
    4: [smooth((0.12, 0.0), (0.05, 0.35), (0.02, 0.6)) + smooth((0.02, 0.6), (0.7, 0.58)),
        smooth((0.55, 0.05), (0.55, 0.5), (0.52, 1.0))],
    5: [smooth((0.12, 0.0), (0.07, 0.45)) + smooth((0.07, 0.45), (0.35, 0.4), (0.62, 0.6),
                                                     (0.55, 0.9), (0.3, 1.0), (0.0, 0.9)),
        smooth((0.12, 0.0), (0.68, 0.0))],
    6: [smooth((0.55, 0.0), (0.25, 0.25), (0.05, 0.65), (0.2, 0.97), (0.5, 0.95), (0.62, 0.72),
               (0.4, 0.55), (0.15, 0.62), (0.07, 0.75))],
    7: [smooth((0.02, 0.02), (0.68, 0.0)) + smooth((0.68, 0.0), (0.45, 0.45), (0.28, 1.0))],
    8: [smooth((0.6, 0.12), (0.35, 0.0), (0.08, 0.15), (0.2, 0.38), (0.5, 0.58), (0.62, 0.82),
               (0.35, 1.0), (0.05, 0.82), (0.2, 0.58), (0.5, 0.38), (0.62, 0.2), (0.6, 0.12))],
    9: [arc(0.33, 0.27, 0.28, 0.27, 90, -265) + smooth((0.61, 0.28), (0.58, 0.65), (0.52, 1.0))],
}

#: Other ways people write the digits, beside :data:`STROKES`.
VARIANTS = {
    0: [[arc(0.3, 0.5, 0.22, 0.5, 0, 360)],                                 # narrow, closed
        [arc(0.4, 0.5, 0.4, 0.5, 20, 380)]],                                # round, overlapping
    1: [[smooth((0.15, 0.2), (0.4, 0.0)) + smooth((0.4, 0.0), (0.4, 1.0))],  # with a flag
        [smooth((0.15, 0.2), (0.4, 0.0)) + smooth((0.4, 0.0), (0.4, 1.0)),
         smooth((0.15, 1.0), (0.65, 1.0))],                                 # flag and foot
        [smooth((0.3, 0.0), (0.3, 1.0))]],                                  # a bare stroke
    2: [[smooth((0.05, 0.25), (0.35, 0.0), (0.65, 0.2), (0.5, 0.5), (0.05, 1.0))
         + smooth((0.05, 1.0), (0.75, 1.0))],                               # flat base
        [smooth((0.0, 0.2), (0.35, 0.0), (0.65, 0.2), (0.5, 0.5), (0.05, 0.95), (0.25, 0.85),
                (0.35, 1.0), (0.75, 0.95))]],                               # looped base
    3: [[smooth((0.05, 0.0), (0.6, 0.0), (0.3, 0.4), (0.6, 0.6), (0.55, 0.9), (0.3, 1.0),
                (0.0, 0.9))],                                               # flat top
        [smooth((0.0, 0.15), (0.3, 0.0), (0.6, 0.2), (0.35, 0.48)),
         smooth((0.35, 0.48), (0.65, 0.7), (0.4, 1.0), (0.0, 0.85))]],      # two strokes
    4: [[smooth((0.5, 0.0), (0.0, 0.65)) + smooth((0.0, 0.65), (0.75, 0.65)),
         smooth((0.5, 0.0), (0.5, 1.0))],                                   # closed
        [smooth((0.1, 0.0), (0.05, 0.55)) + smooth((0.05, 0.55), (0.55, 0.55))
         + smooth((0.55, 0.55), (0.55, 0.0)) + smooth((0.55, 0.0), (0.55, 1.0))]],  # one stroke
    5: [[smooth((0.65, 0.0), (0.1, 0.0)) + smooth((0.1, 0.0), (0.07, 0.45))
         + smooth((0.07, 0.45), (0.4, 0.38), (0.65, 0.65), (0.45, 0.95), (0.0, 0.9))]],
    6: [[smooth((0.5, 0.0), (0.15, 0.4), (0.1, 0.8), (0.35, 1.0), (0.6, 0.8), (0.4, 0.55),
                (0.1, 0.7))],
        [smooth((0.6, 0.05), (0.3, 0.0), (0.1, 0.4), (0.05, 0.75), (0.3, 1.0), (0.6, 0.85),
                (0.55, 0.6), (0.3, 0.52), (0.08, 0.65))]],
    7: [[smooth((0.0, 0.0), (0.7, 0.0)) + smooth((0.7, 0.0), (0.35, 1.0)),
         smooth((0.2, 0.5), (0.6, 0.5))],                                   # crossed
        [smooth((0.0, 0.15), (0.05, 0.0), (0.7, 0.0)) + smooth((0.7, 0.0), (0.4, 0.6),
                                                                 (0.35, 1.0))]],   # with a tick
    8: [[arc(0.35, 0.25, 0.23, 0.25, 0, 360), arc(0.35, 0.74, 0.3, 0.26, 0, 360)],  # two rings
        [smooth((0.55, 0.05), (0.3, 0.0), (0.1, 0.2), (0.3, 0.45), (0.6, 0.7), (0.4, 1.0),
                (0.05, 0.8), (0.3, 0.45), (0.6, 0.2), (0.55, 0.05))]],
    9: [[arc(0.33, 0.27, 0.28, 0.27, 90, -265) + smooth((0.61, 0.28), (0.61, 1.0))],  # straight
        [arc(0.33, 0.27, 0.28, 0.27, 90, -265) + smooth((0.61, 0.28), (0.55, 0.75),
                                                         (0.35, 1.0), (0.1, 0.95))]],  # curled
}


def styles(digit):
    """Every style of ``digit``: a list of stroke lists."""
    return [STROKES[digit], *VARIANTS[digit]]


def _place(strokes, rng, side=SIDE):
    """Slant, rotate and stretch ``strokes`` (digit 1 tall), then put them on the sheet
    at a random height and place, wholly inside it: pixel strokes."""
    shear = np.array([[1, -rng.uniform(-SLANT / 3, SLANT)], [0, 1]])   # most people slant right
    angle = np.radians(rng.uniform(-ROTATION, ROTATION))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    stretch = np.array([rng.uniform(0.8, 1.25), 1.0])
    shaped = [((np.asarray(s, float) - 0.5) * stretch) @ shear.T @ rotation.T for s in strokes]
    points = np.vstack(shaped)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = rng.uniform(*HEIGHTS) * side / (high - low)[1]
    scale = min(scale, 0.85 * side / (high - low).max())
    margin = 0.08 * side
    corner = [rng.uniform(margin, max(margin, side - margin - scale * extent))
              for extent in high - low]
    return [(s - low) * scale + corner for s in shaped]


def drawn_digits(per_style=4, seed=0):
    """Drawn digits through the canvas's preprocessing.

    Returns
    -------
    images : ndarray, float32, (N, 1, 28, 28)
    labels : ndarray, int, (N,)
    widths : ndarray, float, (N,)
        The pen width of each, in sheet pixels (for reports by thickness).
    """
    rng = np.random.default_rng(seed)
    images, labels, widths = [], [], []
    for digit in range(10):
        for strokes in styles(digit):
            for _ in range(per_style):
                width = rng.uniform(*PEN_WIDTHS)
                wobbled = [_wobble(np.asarray(s, np.float64), rng, rng.uniform(0.003, 0.015))
                           for s in strokes]
                images.append(normalise_ink(_paint(_place(wobbled, rng), width=width)))
                labels.append(digit)
                widths.append(width)
    return np.stack(images)[:, None].astype(np.float32), np.array(labels), np.array(widths)
