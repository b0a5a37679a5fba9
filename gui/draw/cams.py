"""Heat maps over the drawing: one per conv layer side by side, and labelled pairs.

Every map is one ImageItem holding the heat map blended over the digit's
strokes; a colour bar beside them gives the scale.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Slot
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cnn_core.explain import empty_map_note

from ..images import framed, heat_colour_map, heat_over_digit, image_view, signed_colour_map
from ..theme import is_dark

#: How the methods are called on screen.
METHOD_NAMES = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "hirescam": "HiResCAM",
                "layercam": "LayerCAM", "saliency": "Saliency", "smoothgrad": "SmoothGrad",
                "integrated-gradients": "Integrated Gradients", "occlusion": "Occlusion"}
AUC_TIP = (
    "<p><b>Deletion AUC</b> (Petsiuk et al. 2018): how faithful a heat map is.</p>"
    "<p>The pixels are blacked out 16 at a time, the ones the map rates most important "
    "first, and after each step the network's probability for the explained class is "
    "measured. The area under that curve runs from 0 to 1: <b>lower is better</b>, because a "
    "map that found the pixels the decision rests on makes the probability collapse "
    "quickly.</p><p>For scale, the same curve with the pixels in a random order is shown "
    "in brackets: a useful map scores well below it.</p>"
    "<p>A map that says <b>no positive evidence</b> has nothing in it: a CAM keeps only the "
    "positive part of its weighted channels, and at that layer nothing was left, so it has "
    "no AUC.</p>")


def colour_bar(view, row, col, rowspan=1):
    """A fixed 0-1 colour bar of the heat colour map (:func:`gui.style.restyle` gives it
    the map of a new theme)."""
    bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(heat_colour_map()),
                          interactive=False, width=12, colorMapMenu=False)
    bar.theme_colour_map = heat_colour_map
    view.addItem(bar, row=row, col=col, rowspan=rowspan)
    set_ticks(bar, [(0, "0"), (0.5, "evidence"), (1, "1")])
    return bar


def set_ticks(bar, ticks):
    """Label a colour bar with ``[(value, text), ...]``, its axis wide enough for them
    (pyqtgraph silently drops a label wider than the axis, such as "evidence")."""
    axis = bar.getAxis("right")
    axis.setTicks([ticks])
    metrics = QFontMetrics(axis.font() if axis.style["tickFont"] is None
                           else axis.style["tickFont"])
    widest = max(metrics.horizontalAdvance(text) for _, text in ticks)
    axis.setWidth(widest + axis.style["tickTextOffset"][0] + 4)


#: The legend of a signed map: what its two colours mean.
SIGNED_TIP = ("<p><b>Evidence for and against.</b> Orange pixels raise the score of the "
              "explained class, blue ones lower it; the stronger the colour, the larger the "
              "effect, on one scale for both. The digit's strokes are the faint grey.</p>"
              "<p>Saliency and SmoothGrad: the score's gradient, how more ink at a pixel "
              "would change it. Integrated Gradients and occlusion: how much the ink that is "
              "there adds to it (blue: this ink speaks against the class).</p>")


def set_signed_scale(bar, signed):
    """Make a :func:`colour_bar` the legend of a signed map (-1 against … +1 for) or,
    with ``signed`` False, of a heat map again (0 … 1 evidence)."""
    if signed:
        bar.theme_colour_map = signed_colour_map
        bar.setLevels((-1, 1))
        ticks = [(-1, "against"), (0, "0"), (1, "for")]
    else:
        bar.theme_colour_map = heat_colour_map
        bar.setLevels((0, 1))
        ticks = [(0, "0"), (0.5, "evidence"), (1, "1")]
    colour_map = bar.theme_colour_map()
    bar.setColorMap(colour_map if signed else pg.colormap.get(colour_map))
    set_ticks(bar, ticks)
    bar.setToolTip(SIGNED_TIP if signed else "")


class HeatMapRow(QWidget):
    """Titled heat maps over the digit in a row, with one colour bar.

    Parameters
    ----------
    names : list of str
        One map per name, left to right.
    heading : str
        Shown above the row.
    """

    def __init__(self, names, heading="", parent=None):
        super().__init__(parent)
        self.names = list(names)
        self._shown = {}
        self.heading = QLabel(heading, alignment=Qt.AlignmentFlag.AlignCenter)
        view = self.view = pg.GraphicsLayoutWidget()
        view.ci.layout.setSpacing(2)
        view.ci.setContentsMargins(2, 2, 2, 2)
        self.titles, self.images = {}, {}
        for col, name in enumerate(self.names):
            self.titles[name] = view.addLabel(name, row=0, col=col, size="9pt")
            self.images[name] = framed(image_view(view, 1, col)[1])
        colour_bar(view, 0, len(self.names), rowspan=2)
        view.ci.layout.setRowStretchFactor(1, 10)     # the maps take the height, not titles
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.heading)
        layout.addWidget(view, 1)
        self.show_empty()

    def set_heading(self, text):
        """Change the line above the maps."""
        self.heading.setText(text)

    def set_title(self, name, text):
        """Change the title above one map."""
        self.titles[name].setText(text, size="9pt")

    def show_map(self, name, digit, heatmap):
        """Show ``heatmap (28, 28)`` over ``digit (28, 28)`` in the map called ``name``."""
        self._shown[name] = (digit, heatmap)
        self.images[name].setImage(heat_over_digit(digit, heatmap),
                                   autoLevels=False, levels=(0, 255))

    def changeEvent(self, event):
        """A new theme: the maps again, on its paper."""
        if event.type() == QEvent.Type.PaletteChange:
            for name, shown in list(self._shown.items()):
                self.show_map(name, *shown)
        super().changeEvent(event)

    @Slot()
    def show_empty(self):
        """Blank paper in every map."""
        blank = np.zeros((28, 28), np.float32)
        for name in self.names:
            self.show_map(name, blank, blank)


#: Width of the words over an empty map, in pixels (a map is about 90 px wide at 1280).
NOTE_WIDTH = 76


class CamStrip(HeatMapRow):
    """The chosen CAM at every conv layer, each titled with its deletion AUC."""

    #: The heading while nothing is drawn: no class, no method, no scores.
    EMPTY_HEADING = "A heat map at every conv layer: draw a digit to see them"

    def __init__(self, conv_names, parent=None):
        self.notes = {}             # layer -> TextItem over its map, shown when it is empty
        super().__init__(conv_names, self.EMPTY_HEADING, parent)
        self.setToolTip(AUC_TIP)
        self._digit = None
        for name in self.names:
            note = self.notes[name] = pg.TextItem(anchor=(0.5, 0.5))
            note.setPos(14, 14)         # the middle of the 28×28 map
            note.textItem.setTextWidth(NOTE_WIDTH)      # wrapped and centred on the map
            note.setVisible(False)
            self.images[name].getViewBox().addItem(note)
        self._equal_columns()

    def _equal_columns(self):
        """Make every map as wide as the longest title it can have, so that the maps
        keep one size whichever are scored."""
        widest = 0
        for name in self.names:
            self.set_title(name, f"{name} · AUC 0.00")
            widest = max(widest, self.titles[name].minimumWidth())
            self.set_title(name, name)
        for col in range(len(self.names)):
            self.view.ci.layout.setColumnMinimumWidth(col, widest)
            self.view.ci.layout.setColumnStretchFactor(col, 1)

    @Slot(object, object)
    def show_analysis(self, digit, analysis):
        """Show the CAM of every conv layer from one :class:`~cnn_core.explain.Analysis`."""
        self._digit = digit
        for name in self.names:
            heatmap = analysis.cams[name][1]
            self.show_map(name, digit, heatmap)
            self.set_title(name, name)
            if not heatmap.any():
                self._explain_empty(name, analysis)
            else:
                self.notes[name].setVisible(False)
                self.images[name].setToolTip("")
        versus = f" rather than {analysis.contrast}" if analysis.contrast is not None else ""
        self.set_heading(f"{METHOD_NAMES[analysis.method]} for class {analysis.target}{versus}"
                         f" at every conv layer")

    def _explain_empty(self, name, analysis):
        """Say on the blank map itself why it is blank (a CAM keeps only evidence for
        the class, and at this layer there was none); the tooltip says it in full."""
        versus = f" over {analysis.contrast}" if analysis.contrast is not None else ""
        dark = is_dark()
        note = self.notes[name]
        # On a veil of paper, so the words stay readable over the digit's strokes.
        note.fill = pg.mkBrush((0, 0, 0, 215) if dark else (255, 255, 255, 225))
        note.setHtml(f'<div style="text-align:center; color:{"#c8c8c8" if dark else "#404040"}; '
                     f'font-size:8pt">no positive evidence at {name} for class '
                     f'{analysis.target}{versus}</div>')
        note.setVisible(True)
        self.images[name].setToolTip(
            "No positive evidence: " + empty_map_note(name, analysis.target, analysis.contrast)
            + ". A CAM keeps only the positive part of its weighted channels.")

    @Slot(object)
    def show_scores(self, scores):
        """Add each layer's deletion AUC to its title (ignored when the digit moved on;
        empty maps are not scored and keep their note)."""
        if self._digit is None or not np.array_equal(scores.digit, self._digit):
            return
        for name, auc in scores.aucs.items():
            self.set_title(name, f"{name} · AUC {auc:.2f}")

    @Slot()
    def show_empty(self):
        """Nothing drawn: blank maps under the layer names alone and a neutral heading
        (no class, AUC or "no evidence" of a drawing that is gone)."""
        self._digit = None
        super().show_empty()
        for name in self.names:
            self.set_title(name, name)
            self.images[name].setToolTip("")
            if name in self.notes:
                self.notes[name].setVisible(False)
        self.set_heading(self.EMPTY_HEADING)
