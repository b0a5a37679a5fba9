"""The confusion matrix as a heat map with counts; click a cell to see its images.

Colour is ``log10(1 + count)``: a diagonal of a hundred and a handful of
mistakes both stay readable.  The colour bar is labelled in counts.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..images import COUNT_COLOUR_MAP, ClickableImage
from ..style import style_plot

TIP = ("<p>Rows: the true digit. Columns: the network's answer. Each cell counts the "
       "validation images; the diagonal is right, everything else a mistake. "
       "Click a cell to see its images, and again to see all the mistakes.</p>")
SELECTED_PEN = pg.mkPen("#0072B2", width=3)


class ConfusionView(QWidget):
    """A 10×10 heat map of counts with the counts written in.

    Signals
    -------
    cell_clicked(int, int) : ``(true class, predicted class)``.
    """

    cell_clicked = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        view = self.view = pg.GraphicsLayoutWidget()
        view.setToolTip(TIP)
        plot = self.plot = style_plot(view.addPlot(row=0, col=0), "Confusion matrix",
                                      x_label="predicted", y_label="true")
        plot.showGrid(x=False, y=False)
        plot.hideButtons()
        box = plot.getViewBox()
        box.setMouseEnabled(x=False, y=False)
        box.invertY(True)
        box.setAspectLocked(True)
        digits = [[(d + 0.5, str(d)) for d in range(10)]]
        for axis in ("bottom", "left"):
            plot.getAxis(axis).setTicks(digits)
        plot.setRange(xRange=(0, 10), yRange=(0, 10), padding=0.01)
        self.image = ClickableImage(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(COUNT_COLOUR_MAP))
        self.image.clicked.connect(self._clicked)
        plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 3), colorMap=pg.colormap.get(COUNT_COLOUR_MAP),
                                   interactive=False, width=14, colorMapMenu=False,
                                   label="images")
        self.bar.setImageItem(self.image)
        view.addItem(self.bar, row=0, col=1)
        self.counts = []
        for row in range(10):
            for col in range(10):
                text = pg.TextItem("", anchor=(0.5, 0.5))
                text.setPos(col + 0.5, row + 0.5)
                plot.addItem(text)
                self.counts.append(text)
        self.selection = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.selection.setPen(SELECTED_PEN)
        self.selection.setVisible(False)
        plot.addItem(self.selection)
        self.selected = None            # (true class, predicted) outlined, or None
        self.matrix = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)

    @Slot(object)
    def show_matrix(self, matrix):
        """Show counts ``(10, 10)``, rows true, columns predicted."""
        self.matrix = np.asarray(matrix)
        top = max(float(np.log10(1 + self.matrix.max())), 1.0)
        self.image.setImage(np.log10(1 + self.matrix.astype(np.float32)), autoLevels=False,
                            levels=(0, top))
        self.image.setRect(0, 0, 10, 10)
        self.bar.setLevels((0, top))
        self.bar.getAxis("right").setTicks([[(np.log10(1 + n), str(n))
                                             for n in (0, 1, 3, 10, 30, 100, 300, 1000, 3000)
                                             if np.log10(1 + n) <= top + 1e-9]])
        for index, text in enumerate(self.counts):
            count = int(self.matrix.flat[index])
            text.setText(str(count) if count else "")
            # Dark text on light cells, light on dark ones.
            text.setColor("w" if np.log10(1 + count) > 0.6 * top else "k")

    def select(self, true_class, predicted):
        """Outline one cell."""
        self.selected = (true_class, predicted)
        self.selection.setRect(predicted, true_class, 1, 1)
        self.selection.setVisible(True)

    def clear_selection(self):
        """Outline no cell."""
        self.selected = None
        self.selection.setVisible(False)

    def _clicked(self, x, y):
        # The owner outlines the cell (or, clicked again, takes the outline away).
        if self.matrix is not None and 0 <= x < 10 and 0 <= y < 10:
            self.cell_clicked.emit(int(y), int(x))
