"""Shared look: pyqtgraph options, colours per layer, the diverging kernel colour map, and
the colours that change between the light and the dark theme."""
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from .theme import is_dark

#: One colour per parametrised layer (Okabe-Ito, readable for colour-blind people).
LAYER_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
TRAIN_COLOUR = "#0072B2"
VALIDATION_COLOUR = "#D55E00"
RAW_COLOUR = (0, 114, 178, 70)      # the train colour, faint: raw batch points are noisy
CURSOR_COLOUR = "#CC79A7"
#: Diverging map: blue for negative weights, white for zero, red for positive.
KERNEL_COLOUR_MAP = "CET-D1A"
KERNEL_BACKGROUND = "#3a3a3a"        # shows the NaN gaps between tiles
#: What the palette has no role for, as style sheets by tone: ``(light, dark)``.
TONES = {
    "error": ("color: #b00020;", "color: #ff8a80;"),
    "warning": (("QFrame#banner { background: #fff3cd; border: 1px solid #d39e00;"
                 " border-radius: 4px; } QLabel { color: #4d3800; }"),
                ("QFrame#banner { background: #3d3206; border: 1px solid #a07c00;"
                 " border-radius: 4px; } QLabel { color: #ffe7a0; }")),
}


def legend_html(entries):
    """One line of coloured symbols and names, for a QLabel above a plot.

    A Qt label instead of a pyqtgraph legend: it never covers the data and
    costs nothing to repaint when the curves change.
    """
    # Entries are joined by a breakable space: a narrow window wraps the line between them.
    return "&nbsp;&nbsp; ".join(
        f'<span style="color:{colour}; font-size:12pt;">{symbol}</span>&nbsp;{name}'
        for symbol, colour, name in entries)


def plot_colours(palette=None):
    """``(background, foreground)`` of the plots: the base and text colours of ``palette``
    (default the app's), so plots look like the text fields of the theme."""
    palette = QGuiApplication.palette() if palette is None else palette
    return (palette.color(QPalette.ColorRole.Base).name(),
            palette.color(QPalette.ColorRole.Text).name())


def configure_pyqtgraph():
    """Plots in the app palette's colours, antialiased, images ``[row, column]``.

    Plots made afterwards take these colours; :func:`restyle` gives them to
    the plots already made.
    """
    background, foreground = plot_colours()
    pg.setConfigOptions(background=background, foreground=foreground, antialias=True,
                        imageAxisOrder="row-major")


class _WholePlot(QObject):
    """Raises a view's minimum width to what its items need, whenever it paints."""

    def eventFilter(self, viewport, event):
        if event.type() == QEvent.Type.Paint:
            view = self.parent()
            needed = view.centralWidget.effectiveSizeHint(Qt.SizeHint.MinimumSize).width()
            if math.ceil(needed) > view.minimumWidth():
                view.setMinimumWidth(math.ceil(needed))
        return False


def keep_plots_whole(root):
    """Keep every pyqtgraph view under the widget ``root`` as wide as its items need.

    Qt's layouts cannot see inside a view, so a narrow window (a laptop at 150 %
    has 1280 points across) would squeeze a plot until its edge is cut off;
    with a minimum width, the splitters and layouts make room instead.  What the
    items need is known only once they paint (axes widen to fit their tick labels).
    """
    for view in root.findChildren(pg.GraphicsView):
        view.viewport().installEventFilter(_WholePlot(view))


def muted(label):
    """Draw ``label`` in the palette's faint text colour (it follows the theme by itself)."""
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def set_tone(widget, tone):
    """Colour ``widget`` by a :data:`TONES` key for the current theme; None for plain."""
    widget.setProperty("tone", tone)
    widget.setStyleSheet(TONES[tone][is_dark()] if tone else "")


def restyle(root):
    """Recolour what does not follow the palette by itself, under the widget ``root``.

    pyqtgraph fixes its colours when an item is made: every plot's background,
    axes and titles are given the palette's colours afresh (no plot of the app
    sets colours of its own on these), every colour bar that names its map by
    theme (``theme_colour_map``, a callable giving a map's name or a ColorMap)
    that map, and every toned widget its style sheet.
    """
    configure_pyqtgraph()
    for view in root.findChildren(pg.GraphicsView):
        view.setBackground("default")
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem):
                item.setPen()
                item.setTextPen()
            elif isinstance(item, pg.LabelItem):
                item.setText(item.text)
            elif callable(getattr(item, "theme_colour_map", None)):    # a heat map's bar
                colour_map = item.theme_colour_map()     # a map's name, or a ColorMap
                item.setColorMap(colour_map if isinstance(colour_map, pg.ColorMap)
                                 else pg.colormap.get(colour_map))
    for widget in root.findChildren(QWidget):
        if widget.property("tone"):
            set_tone(widget, widget.property("tone"))


def level_bar(layout, row, col, colour_map, **span):
    """A slim colour bar for an image whose levels change, at ``row``, ``col`` of ``layout``.

    Not linked to the image: whoever sets the image's levels calls
    ``bar.setLevels`` with the same pair.  ``span`` passes ``rowspan`` / ``colspan``.
    """
    bar = pg.ColorBarItem(values=(0, 1), colorMap=colour_map, interactive=False, width=8,
                          colorMapMenu=False)
    layout.addItem(bar, row=row, col=col, **span)
    return bar


def nice_top(value):
    """The smallest of 1, 2, 5, 10, 20, ... times a power of ten that is at least ``value``.

    Images whose levels are rounded up this way keep their colour bar's scale
    (and its ticks and labels) while a drawing changes, instead of relaying
    out the bar on every pen move.  Nothing lit (zero, an empty canvas) gets 1,
    not a scale of millionths.
    """
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-9))


def set_bar_levels(bar, levels):
    """``bar.setLevels(levels)``, skipped when they are already set (a relayout saved)."""
    if tuple(bar.levels()) != tuple(levels):
        bar.setLevels(levels)


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


def others_give_way(tabs, kept):
    """Let every page of the QTabWidget ``tabs`` but ``kept`` take whatever room it is given
    (size policy Ignored), so hidden pages do not set the window's minimum size.

    Returns ``[(page, its former QSizePolicy)]`` for :func:`restore_policies`.
    """
    pages = [tabs.widget(i) for i in range(tabs.count()) if tabs.widget(i) is not kept]
    saved = [(page, page.sizePolicy()) for page in pages]
    for page in pages:
        page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
    return saved


def restore_policies(saved):
    """Put back the size policies :func:`others_give_way` changed."""
    for widget, policy in saved:
        widget.setSizePolicy(policy)
