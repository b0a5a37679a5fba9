"""One value of the network, computed before your eyes: the detail page of the network view.

A conv value gets :class:`~.conv_detail.ConvDetail` (the multiply-adds and
the sliding kernel); a max-pool value its 2×2 window with the winner marked;
a dense unit its largest contributions as a sorted bar chart; the softmax
the log-sum-exp steps with this drawing's numbers; a ReLU value the max with
zero.  Every number comes from :mod:`.arithmetic`, recomputed from the
inputs and weights, and the page says what the network view shows there.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout,
                               QWidget)

from ..style import KERNEL_COLOUR_MAP, muted
from .arithmetic import dense_terms, pool_terms, softmax_terms
from .conv_detail import ConvDetail
from .scales import colour_map_name, levels, signed_text
from .terms_canvas import Grid, TermsCanvas, colours_of

CAPTIONS = {
    "conv": "A conv value is the sum of 3×3 input patches times the kernel, over every input "
            "channel, plus a bias. Press Play to slide the kernel over the whole input.",
    "relu": "A ReLU keeps positive values and makes negative ones zero: that is all it does.",
    "maxpool": "Max-pooling keeps the largest value of each 2×2 window, so the map halves; "
               "only the winner receives gradient when the network learns.",
    "dense": "A dense unit weighs every input: here are its largest contributions (weight × "
             "input), the rest summed, and the bias.",
    "softmax": "Softmax turns the ten logits into probabilities. Subtracting the largest "
               "logit first (the log-sum-exp trick) changes nothing but keeps exp() from "
               "overflowing.",
    "input": "The input: the drawing, centred and scaled to 28×28 like MNIST, ink from 0 to 1.",
}


def source_name(source, index):
    """What input ``index`` of a dense unit is: ``"pool2 ch 12 (3, 4)"`` or ``"relu5 unit 17"``."""
    if source.is_maps:
        channel, row, col = np.unravel_index(index, source.shape)
        return f"{source.name} ch {channel} ({row}, {col})"
    return f"{source.name} unit {index}"


def value_title(column, element):
    """``"<b>conv2</b> (3×3 conv) · channel 6, row 14, column 12"``, or ``· class 3``."""
    return f"<b>{column.name}</b> ({column.operation}) · {column.where(element)}"


def softmax_table(terms, predicted):
    """The log-sum-exp steps as an HTML table, the predicted class in bold."""
    head = ("<tr><th>class</th><th>logit z</th><th>z − max</th><th>exp(z − max)</th>"
            "<th>÷ Σ = probability</th></tr>")
    rows = []
    for k in range(len(terms.logits)):
        cells = (k, signed_text(terms.logits[k]), signed_text(terms.shifted[k]),
                 f"{terms.exponentials[k]:.4g}", f"{terms.probabilities[k]:.4g}")
        style = ' style="font-weight:bold"' if k == predicted else ""
        rows.append(f"<tr{style}>" + "".join(f'<td align="right">&nbsp;{c}&nbsp;</td>'
                                             for c in cells) + "</tr>")
    return (f"max = {signed_text(terms.largest)}, Σ exp = {terms.total:.4g}"
            f'<table cellspacing="0" cellpadding="2">{head}{"".join(rows)}</table>')


class DetailView(QWidget):
    """The computation behind one value of the network view.

    Signals
    -------
    back_requested() : the person wants the whole network again.
    """

    back_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._terms = None
        self.shown = None           # (column name, element)
        self.back = QPushButton("◂ Back to the network")
        self.back.clicked.connect(self.back_requested)
        self.title = QLabel()
        self.caption = muted(QLabel(wordWrap=True))
        self.conv = ConvDetail()
        self.conv.moved.connect(self._kernel_moved)
        self.canvas = TermsCanvas()
        self.text = QLabel(textFormat=Qt.TextFormat.RichText, wordWrap=True,
                           alignment=Qt.AlignmentFlag.AlignTop)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bars = pg.PlotWidget()
        self.bars.setMenuEnabled(False)
        self.bars.setMouseEnabled(False, False)
        self.bars.getViewBox().invertY(True)
        self.bars.showGrid(x=True, alpha=0.2)
        self.bar_item = pg.BarGraphItem(x0=[0], y=[0], width=[0], height=0.7)
        self.bars.addItem(self.bar_item)
        self.pages = QStackedWidget()
        others = QWidget()
        box = QVBoxLayout(others)
        box.setContentsMargins(0, 0, 0, 0)
        for widget in (self.canvas, self.bars, self.text):
            box.addWidget(widget)
        box.addStretch(1)
        self.pages.addWidget(self.conv)
        self.pages.addWidget(others)
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addWidget(self.title, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.caption)
        layout.addWidget(self.pages, 1)

    def show_value(self, columns, weights, values, name, element):
        """Explain ``element`` of column ``name``.

        Parameters
        ----------
        columns : dict of str to Column
        weights : dict of str to ndarray
            The network's ``state_dict``.
        values : dict of str to ndarray
            Every column's values for the image.
        element : tuple of int
            ``(channel, row, col)`` or ``(unit,)``.
        """
        self.shown = (name, tuple(element))
        column = columns[name]
        source = columns.get(column.source)
        self.title.setText(value_title(column, element))
        self.caption.setText(CAPTIONS[column.kind])
        self.conv.stop()
        if column.kind == "conv":
            self.pages.setCurrentWidget(self.conv)
            self.conv.show_value(column, source, values, weights, element)
            return
        self.pages.setCurrentIndex(1)
        for widget in (self.canvas, self.bars, self.text):
            widget.setVisible(False)
        shown = float(values[name][element])
        show = getattr(self, f"_show_{column.kind}")
        self._terms = show(column, source, values, weights, element, shown)

    @property
    def terms(self):
        """The arithmetic on show (a ConvTerms follows the sliding kernel)."""
        return self.conv.terms if self.pages.currentWidget() is self.conv else self._terms

    def refresh(self, columns, weights, values):
        """The same value for a new pass; a sliding kernel stays where it is."""
        if self.pages.currentWidget() is self.conv:
            self.conv.refresh(values, weights)
        else:
            self.show_value(columns, weights, values, *self.shown)

    def _kernel_moved(self, row, col):
        self.title.setText(value_title(self.conv.column, (self.conv.channel, row, col)))

    def _show_input(self, column, source, values, weights, element, shown):
        self._say(f"ink {shown:.3f}")

    def _show_relu(self, column, source, values, weights, element, shown):
        before = float(values[source.name][element])
        self._say(f"max(0, {source.name}'s {signed_text(before)}) = <b>{max(before, 0):.3f}"
                  f"</b>; {column.name} shows <b>{shown:.3f}</b> here.")
        return max(before, 0.0)

    def _show_maxpool(self, column, source, values, weights, element, shown):
        channel, row, col = element
        terms = pool_terms(values[source.name], channel, row, col)
        low, high = levels(source, values[source.name])
        grid = Grid(terms.window, colours_of(terms.window, colour_map_name(source), low, high),
                    mark=terms.winner, digits=3)
        self.canvas.set_rows([[f"{source.name} ch {channel}, rows {2 * row}–{2 * row + 1}, "
                               f"columns {2 * col}–{2 * col + 1}", grid,
                               f"max = {terms.value:.3f}"]])
        self.canvas.setVisible(True)
        self._say(f"The winner (outlined) is <b>{terms.value:.3f}</b>; {column.name} shows "
                  f"<b>{shown:.3f}</b> here.")
        return terms

    def _show_dense(self, column, source, values, weights, element, shown):
        unit = element[0]
        terms = dense_terms(values[source.name].ravel(), weights[f"{column.name}.weight"],
                            weights[f"{column.name}.bias"], unit)
        labels = [source_name(source, int(i)) for i in terms.indices]
        labels += [f"the other {terms.rest_count}", "bias"]
        amounts = np.append(terms.contributions, [terms.rest, terms.bias])
        top = max(float(np.abs(amounts).max()), 1e-6)
        brushes = pg.colormap.get(KERNEL_COLOUR_MAP).map((amounts / top + 1) / 2, mode="qcolor")
        self.bar_item.setOpts(x0=np.minimum(amounts, 0), y=np.arange(len(amounts)),
                              width=np.abs(amounts), brushes=brushes)
        self.bars.getAxis("left").setTicks([list(enumerate(labels)), []])
        self.bars.setXRange(-top, top)
        self.bars.setYRange(-0.5, len(amounts) - 0.5)
        self.bars.setVisible(True)
        flattened = (f"{source.name}'s {source.shape_text} values, flattened to "
                     f"{int(np.prod(source.shape))}, " if column.flattened else "")
        self._say(f"Weight × input, largest first, from {flattened or source.name + ' '}"
                  f"plus the bias: Σ = <b>{signed_text(terms.pre_activation)}</b>; "
                  f"{column.name} shows <b>{signed_text(shown)}</b> here.")
        return terms

    def _show_softmax(self, column, source, values, weights, element, shown):
        terms = softmax_terms(values[source.name])
        self._say(softmax_table(terms, int(np.argmax(terms.probabilities))))
        return terms

    def _say(self, html):
        self.text.setText(html)
        self.text.setVisible(True)

    def stop(self):
        """Stop any animation."""
        self.conv.stop()
