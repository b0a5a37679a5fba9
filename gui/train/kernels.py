"""Kernel grids of the conv layers and how far each layer's weights have moved.

Each layer is one ImageItem showing one mosaic (not one item per kernel), with
levels symmetric about zero so white means zero and the colour tells the sign.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QWidget

from ..style import KERNEL_BACKGROUND, KERNEL_COLOUR_MAP, LAYER_COLOURS, level_bar, style_plot

KERNEL_TIP = ("Every 3×3 filter of the layer, one tile each: columns are the layer's output "
              "channels, rows its input channels. Blue is negative, red positive, white zero.")
DRIFT_TIP = ("How far each layer's weights have moved since epoch 0, in per cent of their "
             "size at epoch 0 (100 × ‖W − W₀‖ / ‖W₀‖).")


class KernelGrids(QWidget):
    """One mosaic per conv layer, side by side, and a bar chart of weight drift.

    Parameters
    ----------
    conv_names : list of str
        The conv layers, in order.
    param_names : list of str
        Every layer with parameters, in order (one drift bar each).
    """

    def __init__(self, conv_names, param_names, parent=None):
        super().__init__(parent)
        self.conv_names = list(conv_names)
        self.param_names = list(param_names)
        view = pg.GraphicsLayoutWidget()
        view.setToolTip(KERNEL_TIP)
        self.images, self._titles, self.colour_bars = {}, {}, {}
        colour_map = pg.colormap.get(KERNEL_COLOUR_MAP)
        for index, name in enumerate(self.conv_names):
            title = view.addLabel(name, row=0, col=2 * index, colspan=2, size="9pt")
            box = view.addViewBox(row=1, col=2 * index, lockAspect=True, enableMouse=False,
                                  invertY=True)
            box.setBackgroundColor(KERNEL_BACKGROUND)
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(colour_map)
            box.addItem(image)
            # Each layer has its own symmetric scale, so each gets its own colour bar.
            self.colour_bars[name] = level_bar(view, 1, 2 * index + 1, colour_map)
            self.images[name], self._titles[name] = image, title
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view, 3)
        layout.addWidget(self._build_drift_plot(), 1)

    def _build_drift_plot(self):
        # Horizontal bars: the layer names read along the left axis without crowding.
        widget = pg.PlotWidget(toolTip=DRIFT_TIP)
        plot = self.drift_plot = style_plot(widget.getPlotItem(), "Weights moved since epoch 0",
                                            x_label="% of their size at epoch 0")
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.getViewBox().invertY(True)
        plot.getAxis("left").setTicks([list(enumerate(self.param_names))])
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        plot.setYRange(-0.6, len(self.param_names) - 0.4, padding=0)
        self.drift_bars = pg.BarGraphItem(
            x0=0, y=np.arange(len(self.param_names)), height=0.7,
            width=np.zeros(len(self.param_names)),
            brushes=[LAYER_COLOURS[i % len(LAYER_COLOURS)] for i in range(len(self.param_names))],
            pen=None)
        plot.addItem(self.drift_bars)
        return widget

    @Slot(object)
    def show_frame(self, frame):
        """Show a :class:`gui.records.KernelFrame`."""
        for name in self.conv_names:
            mosaic, limit = frame.mosaics[name]
            image = self.images[name]
            resized = image.image is None or image.image.shape != mosaic.T.shape
            # Transposed so the output channels run across: the grids fit a wide window.
            image.setImage(mosaic.T, autoLevels=False, levels=(-limit, limit))
            self.colour_bars[name].setLevels((-limit, limit))
            self._titles[name].setText(f"{name}  ±{limit:.2f}", size="9pt")
            if resized:
                image.getViewBox().autoRange(padding=0.02)
        percent = np.array([100 * frame.drift.get(n, 0.0) for n in self.param_names])
        self.drift_bars.setOpts(width=percent)
        self.drift_plot.setXRange(0, max(float(percent.max()) * 1.1, 1.0), padding=0)
