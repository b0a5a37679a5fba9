"""Shared look: pyqtgraph options, colours per layer, the diverging kernel colour map."""
import numpy as np
import pyqtgraph as pg

#: One colour per parametrised layer (Okabe-Ito, readable for colour-blind people).
LAYER_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
TRAIN_COLOUR = "#0072B2"
VALIDATION_COLOUR = "#D55E00"
RAW_COLOUR = (0, 114, 178, 70)      # the train colour, faint: raw batch points are noisy
CURSOR_COLOUR = "#CC79A7"
#: Diverging map: blue for negative weights, white for zero, red for positive.
KERNEL_COLOUR_MAP = "CET-D1A"
KERNEL_BACKGROUND = "#3a3a3a"        # shows the NaN gaps between tiles
WARNING_STYLE = ("QFrame#banner { background: #fff3cd; border: 1px solid #d39e00;"
                 " border-radius: 4px; } QLabel { color: #4d3800; }")
ERROR_TEXT_STYLE = "color: #b00020;"


def legend_html(entries):
    """One line of coloured symbols and names, for a QLabel above a plot.

    A Qt label instead of a pyqtgraph legend: it never covers the data and
    costs nothing to repaint when the curves change.
    """
    return "&nbsp;&nbsp;&nbsp;".join(
        f'<span style="color:{colour}; font-size:12pt;">{symbol}</span>&nbsp;{name}'
        for symbol, colour, name in entries)


def configure_pyqtgraph(dark=False):
    """Light plots with dark text (or dark with light), antialiased, images ``[row, column]``."""
    background, foreground = ("#202124", "#e8eaed") if dark else ("w", "k")
    pg.setConfigOptions(background=background, foreground=foreground, antialias=True,
                        imageAxisOrder="row-major")


def decade_range(values, floor=1e-6):
    """``(low, high)`` whole powers of ten around the positive finite ``values``, as log10.

    A log axis fixed to whole decades changes only when the data crosses one,
    so the axis is not redrawn (and the view not repainted twice) on every update.
    It spans at least two decades, so there is always more than one labelled tick.
    """
    values = np.asarray(values, float)
    values = values[np.isfinite(values) & (values > floor)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.floor(np.log10(values.min())), np.ceil(np.log10(values.max()))
    return float(low), float(max(high, low + 2))


def style_plot(plot, title, x_label=None, y_label=None):
    """Give a PlotItem a small title, axis labels and a light grid."""
    plot.setTitle(title, size="10pt")
    if x_label:
        plot.setLabel("bottom", x_label)
    if y_label:
        plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    return plot


def set_decade_ticks(axis, low, high):
    """Label a log axis at its whole decades only (``low``, ``high`` as log10).

    pyqtgraph labels the minor ticks (0.2, 0.3, ...) of a short log axis too,
    and they pile up into an unreadable column.
    """
    decades = range(int(low), int(high) + 1)
    axis.setTicks([[(d, f"{10.0 ** d:g}") for d in decades], []])
