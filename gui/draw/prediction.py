"""What the network sees (the 28×28 input) and what it answers (ten probability bars)."""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..images import image_view
from ..style import style_plot

BAR_COLOUR = "#9fb3c8"
PREDICTED_COLOUR = "#0072B2"
SEES_TIP = ("<p>The 28×28 picture the network actually gets: your drawing cropped, scaled so "
            "its longer side is 20 pixels and centred on its centre of mass, as MNIST digits "
            "were made. White is ink.</p>")
EMPTY_TEXT = "Draw a digit"


class PredictionPanel(QWidget):
    """The network's input and its ten class probabilities, with the answer in words."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.answer = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter)
        self.answer.setObjectName("answer")
        # A font, not a style sheet: a styled label keeps its text colour when the theme changes.
        font = self.answer.font()
        font.setPointSizeF(17)
        font.setWeight(QFont.Weight.DemiBold)
        self.answer.setFont(font)
        view = pg.GraphicsLayoutWidget()
        view.ci.layout.setColumnStretchFactor(1, 3)
        view.addLabel("What the network sees", row=0, col=0, size="9pt")
        self.sees_box, self.sees = image_view(view, 1, 0, background="k")
        self.sees_box.setToolTip(SEES_TIP)
        self.sees.setImage(np.zeros((28, 28), np.float32), autoLevels=False, levels=(0, 1))
        self.sees_box.setFixedWidth(120)
        plot = style_plot(view.addPlot(row=0, col=1, rowspan=2), "Probability of each digit")
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.setYRange(0, 1, padding=0.08)
        plot.setXRange(-0.6, 9.6, padding=0)
        plot.getAxis("bottom").setTicks([[(d, str(d)) for d in range(10)]])
        plot.getAxis("left").setTicks([[(v, f"{v:.0%}") for v in (0, 0.5, 1)]])
        plot.showGrid(x=False, y=True, alpha=0.15)
        plot.hideButtons()
        self.bars = pg.BarGraphItem(x=np.arange(10), y0=0, width=0.72, height=np.zeros(10),
                                    brushes=[BAR_COLOUR] * 10, pen=None)
        plot.addItem(self.bars)
        self.probabilities = np.zeros(10)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.answer)
        layout.addWidget(view, 1)

    @Slot(object, object)
    def show_analysis(self, digit, analysis):
        """Show the input and the probabilities of an :class:`~cnn_core.explain.Analysis`."""
        self.sees.setImage(digit, autoLevels=False, levels=(0, 1))
        self.probabilities = np.asarray(analysis.probabilities)
        brushes = [BAR_COLOUR] * 10
        brushes[analysis.predicted] = PREDICTED_COLOUR
        self.bars.setOpts(height=self.probabilities, brushes=brushes)
        self.answer.setText(f"It looks like a {analysis.predicted}  "
                            f"({self.probabilities[analysis.predicted]:.1%})")

    @Slot()
    def show_empty(self):
        """Nothing drawn: clear the input and the bars."""
        self.sees.setImage(np.zeros((28, 28), np.float32), autoLevels=False, levels=(0, 1))
        self.probabilities = np.zeros(10)
        self.bars.setOpts(height=self.probabilities, brushes=[BAR_COLOUR] * 10)
        self.answer.setText(EMPTY_TEXT)
