"""The backward pass of one image, read right to left, in the network view's columns.

Each column shows the gradient of the loss with respect to that layer's
output (:func:`cnn_core.gradient_flow.gradient_flow`): at the right
dL/dlogits = softmax − one-hot as ten numbered bars, then the dense layers'
units, then every conv, ReLU and max-pool layer's maps, one per channel.  All
of them are on the diverging colour map centred at zero (red: raising this
value raises the loss; blue: lowers it), with one symmetric scale per column
written under it, and under that the gradient's L2 norm, so a vanishing or
exploding gradient reads as a number.  Under the ReLU and max-pool columns a
short caption says how much gradient they stopped.
"""
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from cnn_core.gradient_flow import gradient_flow
from ..style import muted, set_tone
from . import layout
from .columns import MEANINGS, network_columns
from .view import NetworkView

NORM_TOP = layout.SCALE_TOP + layout.SCALE_HEIGHT + 13     # under the scale's words
CAPTION_TOP = NORM_TOP + 13
NUMBER_SPACE = 62          # units right of the dL/dlogits bars for their numbers
NORM_SPACE = 22            # units left of the first column for the norms' row name
HOVER_HINT = ("Hover over a gradient to read it and its channel's range; click to keep it "
              "and see the values it passes gradient to.")
EMPTY_NOTE = "Draw a digit: the backward pass follows the canvas."
LEGEND = ("Right to left: the gradient of the loss at each layer's output. Red: raising that "
          "value raises the loss; blue: lowers it; palest: zero. ReLU passes none "
          "where it was switched off (input ≤ 0); max-pool passes it only to each 2×2 "
          "window's winner.")


def gradient_columns(architecture):
    """The backward view's columns: every layer's output (not the input nor the
    softmax), all signed, since a gradient of any layer can have either sign."""
    return [replace(column, signed=True) for column in network_columns(architecture)[1:-1]]


def routing_caption(layer):
    """The words under a ReLU or max-pool column: how much gradient it let through."""
    if layer.kind == "relu":
        return f"{1 - layer.routing.mean():.0%} off"
    if layer.kind == "maxpool":
        return "1 in 4 wins"
    return ""


def short_text(value, digits=2):
    """A number in ``digits`` significant figures with its sign and a true minus, so
    that vanishing gradients read as such: ``"+2.9e-10"``, ``"−0.78"``."""
    return f"{value:+.{digits}g}".replace("-", "−")


def summary_text(flow):
    """The line over the view: the label, its loss and probability, the network's own
    answer (the norms are under the columns)."""
    predicted, label = int(np.argmax(flow.probabilities)), flow.label
    answer = ("the network's answer" if predicted == label else
              f"the network says {predicted}, p = {flow.probabilities[predicted]:.3g}")
    return (f"Loss for label <b>{label}</b>: {max(0.0, flow.loss):.3g}, "
            f"p({label}) = {flow.probabilities[label]:.3g} ({answer}).")


class GradientMaps(NetworkView):
    """The columns of gradients: the network view's items, with gradient words.

    ``values`` holds each column's gradient by layer name, ``flow`` the
    :class:`~cnn_core.gradient_flow.GradientFlow` on show.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.flow = None
        self.pinned = None            # the words of the clicked value, kept on the hover line
        self.hover.setText(EMPTY_NOTE)

    def make_columns(self, architecture):
        return gradient_columns(architecture)

    def set_architecture(self, architecture):
        if architecture == self.architecture:
            return
        super().set_architecture(architecture)
        self.norms, self.captions = {}, {}
        for column in self.columns:
            centre = self.places[column.name].centre
            self.norms[column.name] = self._text("", centre, NORM_TOP, (0.5, 0))
            if column.kind in ("relu", "maxpool"):
                self.captions[column.name] = self._text("", centre, CAPTION_TOP, (0.5, 0))
        self._text("‖g‖", -3, NORM_TOP, (1, 0), bold=True)
        last = self.columns[-1]
        place = self.places[last.name]
        self.numbers = [self._text("", place.left + place.width + 3,
                                   place.top + (unit + 0.5) * place.scale, (0, 0.5))
                        for unit in range(last.shape[0])]
        width = place.left + place.width + NUMBER_SPACE
        self.box.setRange(QRectF(-NORM_SPACE, layout.HEADER_TOP, width + NORM_SPACE,
                                 CAPTION_TOP + 14 - layout.HEADER_TOP), padding=0.01)

    def _add_headers(self):
        """The network view's headers, but the last column is named for what it holds."""
        last = self.columns[-1]
        for group in layout.header_groups(self.columns):
            centre = sum(self.places[column.name].centre for column in group) / len(group)
            if group == [last]:
                title, shape = "dL/dlogits", "softmax − one-hot"
            else:
                title, shape = " + ".join(column.name for column in group), group[0].shape_text
            self._text(title, centre, layout.HEADER_TOP, (0.5, 0), bold=True)
            self._text(shape, centre, layout.HEADER_TOP + 13, (0.5, 0))
            for column in group:
                self._text(column.operation, self.places[column.name].centre,
                           layout.DATA_TOP - 1, (0.5, 1))

    def show_flow(self, architecture, flow):
        """Show the gradients of ``flow`` (a GradientFlow) for a network of ``architecture``."""
        self.set_architecture(architecture)
        self.flow = flow
        self.values = {layer.name: layer.output_grad for layer in flow.layers}
        for name, items in self.items.items():
            layer = flow.layer(name)
            items.show(np.asarray(layer.output_grad, np.float32))
            self.norms[name].setText(f"{layer.norm:.2g}")
            if name in self.captions:
                self.captions[name].setText(routing_caption(layer))
        for unit, (item, value) in enumerate(zip(self.numbers, flow.dlogits)):
            item.setText(short_text(float(value), 3) + ("  ← label" if unit == flow.label else ""))
        self.pinned = None
        self.hover.setText(HOVER_HINT)
        self._draw_links()

    def describe_value(self, name, element):
        """One line for a gradient: where, its value, its channel's range (maps), and
        whether its ReLU unit was switched off or it lost its max-pool window."""
        column, layer = self.by_name[name], self.flow.layer(name)
        meaning = "logit" if column is self.columns[-1] else MEANINGS[column.kind]
        words = (f"{column.name} {column.where(element)}: dL/d {meaning} "
                 f"{short_text(float(layer.output_grad[element]), 4)}")
        if column.is_maps:
            channel = layer.output_grad[element[0]]
            words += (f"; channel {element[0]} from {short_text(float(channel.min()), 3)} "
                      f"to {short_text(float(channel.max()), 3)}")
        if layer.kind == "relu" and not layer.routing[element]:
            words += " (switched off: passes no gradient)"
        layers = self.flow.layers
        position = [each.name for each in layers].index(name)
        above = layers[position + 1] if position + 1 < len(layers) else None
        if above is not None and above.kind == "maxpool" and not above.routing[element]:
            words += " (not its window's winner: gets no gradient)"
        return words

    def _hovered(self, scene_pos):
        hit = self.element_at(scene_pos) if self.flow is not None else None
        if hit is None:
            self.hover.setText(self.pinned or (HOVER_HINT if self.flow else EMPTY_NOTE))
            return
        self.hover.setText(self.describe_value(*hit))

    def select(self, name, element):
        """Select a value: its words stay on the hover line, and links go to the values
        of the layer below that its gradient flows to (its forward sources)."""
        super().select(name, element)
        self.pinned = self.describe_value(name, element)
        self.hover.setText(self.pinned)


class BackwardView(QWidget):
    """The backward pass of one image for a label: a summary line, the gradients, a legend."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.maps = GradientMaps()
        self.summary = QLabel()
        self.hover = self.maps.hover
        self.legend = muted(QLabel(LEGEND, wordWrap=True))
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._model = self._network = None
        #: The summary's row: who embeds the view may put its own controls before it.
        self.top_row = QHBoxLayout()
        self.top_row.addWidget(self.summary, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.top_row)
        box.addWidget(self.hover)
        box.addWidget(self.maps, 1)
        box.addWidget(self.legend)

    @property
    def flow(self):
        """The GradientFlow on show, or None."""
        return self.maps.flow

    def show_pass(self, model, image, label):
        """Show the backward pass of ``image (28, 28)`` for ``label`` through ``model``
        (a ModelRecord); a bad image or label is said in the summary line."""
        if model is not self._model:        # a private network per model, built once
            self._model, self._network = model, model.network()
        try:
            flow = gradient_flow(self._network, image, label)
        except ValueError as exc:
            set_tone(self.summary, "error")
            self.summary.setText(f"Cannot show the backward pass: {exc}")
            return None
        set_tone(self.summary, None)
        self.maps.show_flow(self._network.architecture, flow)
        self.summary.setText(summary_text(flow))
        return flow

    def show_empty(self):
        """Nothing drawn: the last pass stays on show, and the hover line says so."""
        self.hover.setText(EMPTY_NOTE)
