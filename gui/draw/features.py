"""What one conv channel looks for: the input that excites it most, and the nine
validation patches that excite it most.  Computed off the GUI thread."""
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..images import ACTIVATION_COLOUR_MAP, GAP_BACKGROUND, image_view, mosaic
from ..style import level_bar, muted, nice_top, set_bar_levels

TIP = ("<p>Left: the 28×28 input that makes this channel's mean output largest, found by "
       "gradient ascent from noise (with jitter and blur, as in Olah et al. 2017). "
       "Right: the nine validation images' patches (the channel's receptive field) where "
       "it fires most, strongest first.</p>")


class FeaturePanel(QWidget):
    """Choose a conv layer and channel; see its feature visualisation and top patches.

    Parameters
    ----------
    channels : dict of str -> int
        Conv layer name -> number of channels.

    Signals
    -------
    channel_chosen(str, int) : the person chose a layer and channel.
    """

    channel_chosen = Signal(str, int)

    def __init__(self, channels, parent=None):
        super().__init__(parent)
        self.channels = dict(channels)
        self.layer = QComboBox(objectName="feature_layer")
        for name in self.channels:
            self.layer.addItem(name, name)
        self.channel = QSpinBox(objectName="feature_channel", minimum=0)
        self.status = muted(QLabel(wordWrap=True))   # long lines must not widen the page
        self._syncing = False
        # Once the layout has settled (the boxes are resized one by one).
        self._fit_timer = QTimer(self, singleShot=True, interval=0)
        self._fit_timer.timeout.connect(self._fit_height)
        self._set_range()
        self.layer.currentIndexChanged.connect(self._layer_changed)
        self.channel.valueChanged.connect(self._chosen)
        colour_map = pg.colormap.get(ACTIVATION_COLOUR_MAP)
        view = pg.GraphicsLayoutWidget()
        view.setToolTip(TIP)
        view.addLabel("Input that excites it most", row=0, col=0, colspan=2, size="8pt")
        view.addLabel("Top-9 validation patches", row=0, col=2, colspan=2, size="8pt")
        self.image = image_view(view, 1, 0, background=GAP_BACKGROUND)[1]
        self.patches = image_view(view, 1, 2, background=GAP_BACKGROUND)[1]
        self.image_bar = level_bar(view, 1, 1, colour_map)
        self.patches_bar = level_bar(view, 1, 3, colour_map)
        for item in (self.image, self.patches):
            item.setColorMap(colour_map)
            item.getViewBox().sigResized.connect(self._fit_timer.start)
        view.ci.layout.setRowStretchFactor(1, 10)     # the pictures take the height
        self.view = view
        row = QHBoxLayout()
        for widget in (QLabel("Layer"), self.layer, QLabel("Channel"), self.channel):
            row.addWidget(widget)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(view, 1)
        layout.addWidget(self.status)
        layout.addStretch(0)            # what the square pictures leave goes below

    def _fit_height(self):
        """Keep the pictures' boxes square: as tall as the width gives them, no taller.

        The pictures are square (an input, a mosaic of 3×3 patches), and their boxes keep
        the aspect; a taller box only shows an empty band above and below.  So the view
        may be as tall as its titles and the narrower box's width (less when the place
        is short), and the rest of the height goes below the status line.
        """
        boxes = [item.getViewBox() for item in (self.image, self.patches)]
        side = min(box.width() for box in boxes)
        if side <= 0:
            return
        # Above the boxes: the titles; below: the layout's margin and the view's frame.
        # Both keep their size however tall the view is (or is squeezed to).
        below = self.view.ci.layout.getContentsMargins()[3] + \
            self.view.ci.getContentsMargins()[3] + \
            self.view.height() - self.view.viewport().height()
        limit = math.ceil(max(box.y() for box in boxes) + side + below)
        if self.view.maximumHeight() != limit:
            self.view.setMaximumHeight(limit)

    @property
    def choice(self):
        """The chosen ``(layer, channel)``."""
        return self.layer.currentData(), self.channel.value()

    def _set_range(self):
        self.channel.setMaximum(self.channels[self.layer.currentData()] - 1)

    def _layer_changed(self):
        self._set_range()
        self._chosen()

    def _chosen(self):
        if not self._syncing:
            self.channel_chosen.emit(*self.choice)

    @Slot(str, int)
    def choose(self, layer, channel):
        """Select ``layer``/``channel`` (from a click on an activation); emits once."""
        if layer not in self.channels:
            return
        self._syncing = True
        self.layer.setCurrentIndex(self.layer.findData(layer))
        self._set_range()
        self.channel.setValue(channel)
        self._syncing = False
        self._chosen()

    @Slot(str)
    def show_status(self, text):
        """Say what is happening (computing, waiting for training to pause)."""
        self.status.setText(text)

    @Slot(object)
    def show_features(self, features):
        """Show a :class:`~gui.draw.jobs.ChannelFeatures` if it is still the one chosen."""
        if (features.layer, features.channel) != self.choice:
            return
        # Each its own top level: what matters is the pattern, and deep channels' are faint.
        tiles = mosaic(features.patches, 3)
        for item, bar, picture in ((self.image, self.image_bar, features.image),
                                   (self.patches, self.patches_bar, tiles)):
            levels = (0, nice_top(np.nanmax(picture)))
            item.setImage(picture, autoLevels=False, levels=levels)
            set_bar_levels(bar, levels)
            item.getViewBox().autoRange(padding=0.02)
        side = features.patches.shape[-1]
        self.status.setText(f"{features.layer} channel {features.channel}: patches of "
                            f"{side}×{side} pixels, strongest activation "
                            f"{features.values[0]:.2f}" if len(features.values) else "")
