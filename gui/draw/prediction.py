"""What the network sees (the 28×28 input) and what it answers (ten probability bars)."""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cnn_core.explain.novelty import CALIBRATION_RATE, NOT_A_DIGIT

from ..help_text import with_article
from ..images import image_view
from ..style import style_plot

BAR_COLOUR = "#9fb3c8"
PREDICTED_COLOUR = "#0072B2"
SEES_TIP = ("<p>The 28×28 picture the network actually gets: your drawing cropped, scaled so "
            "its longer side is 20 pixels and centred on its centre of mass, as MNIST digits "
            "were made. White is ink.</p>")
EMPTY_TEXT = "Draw a digit"
#: Side of "What the network sees", in pixels: 4 screen pixels per input pixel, so its
#: strokes are readable from the back of a room (it was about 72 px).
SEES_SIDE = 112
#: The probability axis's ticks; the plot is tall enough that none is dropped.
PROBABILITY_TICKS = (0, 0.25, 0.5, 0.75, 1)
NOT_A_DIGIT_TEXT = "Not sure: this may not be a digit"
NOT_A_DIGIT_TIP = ("<p>The network's best guess is {guess}, but the features its last conv layer "
                   "finds are unlike those of every digit it learnt (novelty {novelty:.1f}; "
                   "above 1 is stranger than {typical:.1%} of the validation digits). A high "
                   "probability alone cannot tell: the ten probabilities always add up to "
                   "100 %, whatever is drawn.</p>")
CLOSE_CALL_TIP = ("<p>{first} ({p_first:.0%}) and {second} ({p_second:.0%}) are too close to "
                  "call: the drawing has something of both.</p>")


class PredictionPanel(QWidget):
    """The network's input and its ten class probabilities, with the answer in words."""

    def __init__(self, parent=None):
        super().__init__(parent)
        # Wraps rather than widen the window (the answer is twice as large when presenting).
        self.answer = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.answer.setObjectName("answer")
        # A font, not a style sheet: a styled label keeps its text colour when the theme changes.
        font = self.answer.font()
        font.setPointSizeF(17)
        font.setWeight(QFont.Weight.DemiBold)
        self.answer.setFont(font)
        # The input on the left; the answer above the bars on the right, so the answer
        # costs no height of its own (height is scarce at 640-720 px).
        view = pg.GraphicsLayoutWidget()
        view.ci.setContentsMargins(2, 2, 2, 2)
        view.ci.layout.setVerticalSpacing(0)
        view.addLabel("What the network sees", row=0, col=0, size="9pt")
        self.sees_box, self.sees = image_view(view, 1, 0, background="k")
        self.sees_box.setToolTip(SEES_TIP)
        self.sees.setImage(np.zeros((28, 28), np.float32), autoLevels=False, levels=(0, 1))
        self.sees_box.setDefaultPadding(0)
        self.sees_box.setFixedWidth(SEES_SIDE + 4)
        self.sees_box.setMinimumHeight(SEES_SIDE + 4)
        view.setMinimumHeight(SEES_SIDE + 30)       # the box and its title
        view.setFixedWidth(SEES_SIDE + 12)
        bars_view = pg.GraphicsLayoutWidget()
        bars_view.ci.setContentsMargins(2, 0, 2, 2)
        plot = style_plot(bars_view.addPlot(), None)
        plot.setLabel("left", "probability")
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        # Room around 0 and 100 % for half a label, and an axis as wide as "100%":
        # pyqtgraph drops a label that sticks out of its axis (only 50 % was left).
        plot.setYRange(-0.12, 1.12, padding=0)
        plot.setXRange(-0.6, 9.6, padding=0)
        plot.getAxis("bottom").setTicks([[(d, str(d)) for d in range(10)]])
        axis = plot.getAxis("left")
        axis.setTicks([[(v, f"{v:.0%}") for v in PROBABILITY_TICKS]])
        axis.setWidth(QFontMetrics(axis.font()).horizontalAdvance("100%") + 32)
        plot.showGrid(x=False, y=True, alpha=0.15)
        plot.hideButtons()
        self.bars = pg.BarGraphItem(x=np.arange(10), y0=0, width=0.72, height=np.zeros(10),
                                    brushes=[BAR_COLOUR] * 10, pen=None)
        plot.addItem(self.bars)
        self.plot = plot
        self.probabilities = np.zeros(10)
        right = QVBoxLayout()
        right.setSpacing(0)
        right.addWidget(self.answer)
        right.addWidget(bars_view, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)
        layout.addLayout(right, 1)

    @Slot(object, object)
    def show_analysis(self, digit, analysis):
        """Show the input and the probabilities of an :class:`~cnn_core.explain.Analysis`."""
        self.sees.setImage(digit, autoLevels=False, levels=(0, 1))
        self.probabilities = np.asarray(analysis.probabilities)
        brushes = [BAR_COLOUR] * 10
        brushes[analysis.predicted] = PREDICTED_COLOUR
        self.bars.setOpts(height=self.probabilities, brushes=brushes)
        self.answer.setText(f"It looks like {with_article(analysis.predicted)}  "
                            f"({self.probabilities[analysis.predicted]:.1%})")
        self.answer.setToolTip("")

    @Slot(object)
    def show_verdict(self, verdict):
        """Say when the answer shown should not be trusted (a
        :class:`~cnn_core.explain.novelty.Verdict`; None or a sure one leaves it as it is)."""
        if verdict is None or not verdict.unsure:
            return
        first, second = np.argsort(self.probabilities)[::-1][:2]
        if verdict.reason == NOT_A_DIGIT:
            self.answer.setText(NOT_A_DIGIT_TEXT)
            guess = f"{first} ({self.probabilities[first]:.1%})"
            self.answer.setToolTip(NOT_A_DIGIT_TIP.format(guess=guess, novelty=verdict.novelty,
                                                          typical=1 - CALIBRATION_RATE))
        else:
            low, high = sorted((first, second))
            self.answer.setText(f"Not sure: {low} or {high}")
            self.answer.setToolTip(CLOSE_CALL_TIP.format(
                first=first, second=second, p_first=self.probabilities[first],
                p_second=self.probabilities[second]))

    @Slot()
    def show_empty(self):
        """Nothing drawn: clear the input and the bars."""
        self.sees.setImage(np.zeros((28, 28), np.float32), autoLevels=False, levels=(0, 1))
        self.probabilities = np.zeros(10)
        self.bars.setOpts(height=self.probabilities, brushes=[BAR_COLOUR] * 10)
        self.answer.setText(EMPTY_TEXT)
        self.answer.setToolTip("")
