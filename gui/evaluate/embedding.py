"""The embedding map: every validation image as a point, where the layer the network's
answer is read from (the last dense layer's input) puts it, projected on two fixed
principal axes; hover a point to see its image.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..help_text import with_article
from ..images import digit_colours, digit_pixmap
from ..style import legend_html, style_plot

MARKER_COLOUR = "#ffd400"

TIP = ("<p>Each point is a validation image, placed by {units} "
       "projected on two principal axes. The axes were fitted once and are kept, so as "
       "the network trains the points move, not the axes. Hover a point to see its image; "
       "the star is your drawing.</p>")
TITLE = "Embedding of {layer} (PCA, fixed axes)"


class EmbeddingMap(QWidget):
    """A scatter plot coloured by digit, a legend, a hover preview and the drawing's marker."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.widget = widget = pg.PlotWidget()
        self.plot = style_plot(widget.getPlotItem(), "Embedding (PCA, fixed axes)",
                               "PC 1", "PC 2")
        colours = digit_colours()
        self.scatters = []
        for colour in colours:
            scatter = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(*colour, 190),
                                         hoverable=True, hoverSize=11, tip=None,
                                         hoverPen=pg.mkPen("k", width=1.5))
            scatter.sigHovered.connect(self._hovered)
            self.plot.addItem(scatter)
            self.scatters.append(scatter)
        self.marker = pg.ScatterPlotItem(symbol="star", size=22, brush=MARKER_COLOUR,
                                         pen=pg.mkPen("k", width=1.5))
        self.marker.setZValue(10)
        self.plot.addItem(self.marker)
        # The help sits on the legend, not the plot: over the plot it covered the
        # points on every hover, hiding the very image being pointed at.
        self.legend = QLabel(legend_html(
            [("●", "#%02x%02x%02x" % tuple(c), str(d)) for d, c in enumerate(colours)]
            + [("★", "#b39500", "your drawing")]) + " &nbsp;<u>What is this?</u>",
            wordWrap=True)      # wraps rather than widen the window
        # Which layer, and how wide, is known once a model is evaluated.
        self.legend.setToolTip(TIP.format(units="the units the network's answer is read from"))
        self.preview = QLabel(objectName="embedding_preview", autoFillBackground=True,
                              frameShape=QLabel.Shape.StyledPanel)
        self.preview.setFixedSize(58, 58)
        # White paper under the digit, as on the canvas, in either theme; only the paper
        # is fixed, so the frame still follows a change of theme.
        paper = self.preview.palette()
        paper.setColor(QPalette.ColorRole.Window, QColor("white"))
        self.preview.setPalette(paper)
        self.caption = QLabel("Hover a point to see its image.", objectName="embedding_caption")
        self._evaluation = None
        self._images = None
        row = QHBoxLayout()
        row.addWidget(self.preview)
        row.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addWidget(widget, 1)
        layout.addLayout(row)

    @Slot(object, object)
    def show_evaluation(self, evaluation, images):
        """Plot ``evaluation.points`` coloured by true digit; ``images (N, 28, 28)`` uint8."""
        self._evaluation, self._images = evaluation, images
        for digit, scatter in enumerate(self.scatters):
            rows = np.flatnonzero(evaluation.labels == digit)
            scatter.setData(pos=evaluation.points[rows], data=rows)
        self.plot.setTitle(TITLE.format(layer=evaluation.embedded), size="10pt")
        self.legend.setToolTip(TIP.format(
            units=f"the {evaluation.features.shape[1]:,} units of {evaluation.embedded}"))
        ratio = evaluation.embedding.explained_variance_ratio_
        self.plot.setLabel("bottom", f"PC 1 ({ratio[0]:.0%} of the variance)")
        self.plot.setLabel("left", f"PC 2 ({ratio[1]:.0%})")

    @Slot(object)
    def show_drawing(self, point):
        """Put the star at ``point (2,)``, or remove it (None)."""
        if point is None:
            self.marker.setData([], [])
        else:
            self.marker.setData([float(point[0])], [float(point[1])])

    def _hovered(self, scatter, points, event):
        if self._evaluation is None or len(points) == 0:
            return
        index = int(points[0].data())
        self.preview.setPixmap(digit_pixmap(self._images[index] / 255.0))
        evaluation = self._evaluation
        true, predicted = int(evaluation.labels[index]), int(evaluation.predicted[index])
        verdict = "right" if true == predicted else f"wrong: predicted {predicted}"
        self.caption.setText(f"Validation image #{index}: {with_article(true)} ({verdict})")
