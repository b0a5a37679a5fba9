"""Colour for the network view: one scale per column, diverging when values have a sign.

Signed values (conv and dense pre-activations, logits, weights) go on a
diverging map centred at zero, magnitudes (activations, probabilities) on a
sequential one, both colour-blind safe and the ones the rest of the app uses.
Levels are rounded up by :func:`gui.style.nice_top`, so a scale changes only
when the values cross 1, 2, 5, 10, ..., not on every pen move.
"""
import numpy as np
import pyqtgraph as pg

from ..images import ACTIVATION_COLOUR_MAP
from ..style import KERNEL_COLOUR_MAP, nice_top

#: The input digit: black paper, white ink, as the network sees it.
INPUT_COLOUR_MAP = "CET-L1"


def colour_map_name(column):
    """The name of a column's pyqtgraph colour map."""
    if column.kind == "input":
        return INPUT_COLOUR_MAP
    return KERNEL_COLOUR_MAP if column.signed else ACTIVATION_COLOUR_MAP


def colour_map(column):
    """The pyqtgraph ColorMap of a column."""
    return pg.colormap.get(colour_map_name(column))


def levels(column, values):
    """``(low, high)`` of a column's scale for ``values`` (any shape)."""
    if column.kind in ("input", "softmax"):
        return 0.0, 1.0
    if column.signed:
        top = nice_top(np.abs(values).max())
        return -top, top
    return 0.0, nice_top(values.max())


def scale_text(low, high):
    """The words under a colour bar: ``"±2"`` for a signed scale, ``"0 to 5"`` otherwise."""
    return f"±{high:g}" if low == -high else f"{low:g} to {high:g}"


def signed_text(value, digits=3):
    """A number with its sign and a true minus, ``"−0.532"``, ``"+1.20"``."""
    return f"{value:+.{digits}f}".replace("-", "−")
