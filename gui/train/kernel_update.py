"""The update of one kernel in one SGD step: the numbers before, the gradient, the momentum
buffer, the settings in force, the numbers after, and SGD's formula with them written in.

A conv kernel is chosen by layer, output channel and input channel (its 3×3 weights); a dense
unit by layer and unit (its row of weights, shown nine at a time around the chosen input).
The numbers come from :func:`cnn_core.step_record.kernel_update`, which repeats the
optimizer's float32 arithmetic; the formula prints each float32 in its shortest exact form.
"""
import html

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from cnn_core.step_record import kernel_update

#: Dense units have hundreds of inputs: a window of this many around the chosen one shows.
WINDOW = 9
GRIDS = (("w_before", "w before"), ("grad", "gradient (batch mean)"),
         ("velocity_before", "velocity before"), ("w_after", "w after"))


def exact(value):
    """The shortest text that reads back as the same float32 (so shown == stored)."""
    value = np.float32(value)
    if value != 0 and not 1e-3 <= abs(value) < 1e4:
        return np.format_float_scientific(value, unique=True, trim="-")
    return np.format_float_positional(value, unique=True, trim="-")


def window_start(element, size):
    """First shown input of a dense unit's row of ``size`` weights, the chosen one inside."""
    return int(min(max(element - WINDOW // 2, 0), max(size - WINDOW, 0)))


def grid_html(title, values, chosen):
    """A small table of ``values`` (2-D, or a 1-D window shown three to a row), the
    ``chosen`` flat position in bold."""
    flat = np.asarray(values).reshape(-1)
    columns = values.shape[-1] if values.ndim == 2 else 3
    cells = []
    for row in range(0, len(flat), columns):
        tds = []
        for k in range(row, min(row + columns, len(flat))):
            text = f"{flat[k]:.4g}"
            tds.append(f"<td align='right'>{'<b><u>' + text + '</u></b>' if k == chosen else text}"
                       f"</td>")
        cells.append("<tr>" + "".join(tds) + "</tr>")
    return (f"<b>{html.escape(title)}</b><table cellspacing='0' cellpadding='2'>"
            + "".join(cells) + "</table>")


class KernelUpdateView(QWidget):
    """Choose a kernel; see its update.

    Signals
    -------
    check_requested(str, int) : check the gradient of this parameter's entry (flat index)
        numerically; answer with :meth:`show_check` or :meth:`show_check_failed`.
    """

    check_requested = Signal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._step = None
        self.update_shown = None        # the KernelUpdate on show
        self.layer = QComboBox()
        self.out_channel, self.in_channel, self.element = QSpinBox(), QSpinBox(), QSpinBox()
        self.out_label, self.in_label = QLabel("Out channel"), QLabel("In channel")
        self.element_label = QLabel("Element")
        choose = QGridLayout()     # two rows: narrow enough to sit beside the batch
        for position, (label, widget) in enumerate((
                (QLabel("Layer"), self.layer), (self.element_label, self.element),
                (self.out_label, self.out_channel), (self.in_label, self.in_channel))):
            choose.addWidget(label, position // 2, 2 * (position % 2))
            choose.addWidget(widget, position // 2, 2 * (position % 2) + 1)
        choose.setColumnStretch(4, 1)
        self.grids = {key: QLabel(textFormat=Qt.TextFormat.RichText) for key, _ in GRIDS}
        grid_row = QGridLayout()
        for position, (key, _) in enumerate(GRIDS):     # two by two: fits beside the batch
            self.grids[key].setAlignment(Qt.AlignmentFlag.AlignTop)
            grid_row.addWidget(self.grids[key], position // 2, position % 2)
        grid_row.setColumnStretch(2, 1)
        self.settings = QLabel(wordWrap=True)
        self.formula = QLabel(textFormat=Qt.TextFormat.RichText, wordWrap=True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.check_button = QPushButton("Check this gradient numerically")
        self.check_button.setToolTip("The backpropagated gradient of the chosen weight on this "
                                     "batch against a central difference, both in float64.")
        self.check_result = QLabel(wordWrap=True)
        self.check_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        check_row = QHBoxLayout()
        check_row.addWidget(self.check_button)
        check_row.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("<b>The update of one kernel</b>"))
        box.addLayout(choose)
        box.addLayout(grid_row)
        box.addWidget(self.settings)
        box.addWidget(self.formula)
        box.addLayout(check_row)
        box.addWidget(self.check_result)
        box.addStretch(1)
        self.layer.currentIndexChanged.connect(self._layer_chosen)
        for spin in (self.out_channel, self.in_channel, self.element):
            spin.valueChanged.connect(self._refresh)
        self.check_button.clicked.connect(self._ask_check)
        self.set_step(None)

    # --- slots --------------------------------------------------------------------------

    def set_step(self, step):
        """Show the update of the chosen kernel in ``step`` (a StepRecord, or None)."""
        self._step = step
        names = [] if step is None else [name for name, value in step.params_before.items()
                                         if name.endswith(".weight") and value.ndim in (2, 4)]
        if names != [self.layer.itemData(i) for i in range(self.layer.count())]:
            self.layer.blockSignals(True)
            self.layer.clear()
            for name in names:
                self.layer.addItem(name.rsplit(".", 1)[0], name)
            self.layer.blockSignals(False)
            self._layer_chosen()
        else:
            self._refresh()

    def show_check(self, check):
        """Show a :class:`~cnn_core.step_record.NumericalCheck` if it is of the chosen weight."""
        if (check.param_name, check.flat_index) != self.chosen_weight():
            return
        verdict = "agree" if check.relative_error < 1e-6 else "DISAGREE"
        self.check_result.setText(
            f"backprop (float64) {check.backprop:.10g}, numeric (central difference, "
            f"ε = {check.epsilon:g}) {check.numeric:.10g}: relative error "
            f"{check.relative_error:.2e}, they {verdict}. The step itself used "
            f"{check.step_gradient:.7g} (float32).")
        self.check_button.setEnabled(True)

    def show_check_failed(self, message):
        self.check_result.setText(f"The check failed: {message}")
        self.check_button.setEnabled(True)

    # --- what is chosen -----------------------------------------------------------------

    def chosen_weight(self):
        """``(parameter name, flat index)`` of the chosen weight, or None without a step."""
        if self._step is None or self.layer.currentIndex() < 0:
            return None
        name = self.layer.currentData()
        index = self._kernel_index() + self._element_position()
        return name, int(np.ravel_multi_index(index, self._step.params_before[name].shape))

    def _is_conv(self):
        return self._step.params_before[self.layer.currentData()].ndim == 4

    def _kernel_index(self):
        if self._is_conv():
            return self.out_channel.value(), self.in_channel.value()
        return (self.out_channel.value(),)

    def _element_position(self):
        shape = self._step.params_before[self.layer.currentData()].shape
        if self._is_conv():
            return tuple(int(i) for i in np.unravel_index(self.element.value(), shape[2:]))
        return (self.element.value(),)

    def _layer_chosen(self):
        if self._step is None or self.layer.currentIndex() < 0:
            self._refresh()
            return
        shape = self._step.params_before[self.layer.currentData()].shape
        conv = len(shape) == 4
        for spin in (self.out_channel, self.in_channel, self.element):
            spin.blockSignals(True)
        self.out_channel.setMaximum(shape[0] - 1)
        self.in_channel.setMaximum(shape[1] - 1 if conv else 0)
        self.element.setMaximum((shape[2] * shape[3] if conv else shape[1]) - 1)
        for spin in (self.out_channel, self.in_channel, self.element):
            spin.blockSignals(False)
        self.out_label.setText("Out channel" if conv else "Unit")
        self.in_label.setVisible(conv)
        self.in_channel.setVisible(conv)
        self.element_label.setText("Element" if conv else "Input")
        self._refresh()

    # --- showing ------------------------------------------------------------------------

    def _refresh(self):
        self.check_result.setText("")
        self.check_button.setEnabled(self._step is not None)
        if self._step is None or self.layer.currentIndex() < 0:
            self.update_shown = None
            for label in self.grids.values():
                label.setText("")
            self.settings.setText("")
            self.formula.setText("No step yet: press Step batch, or Show the last step.")
            return
        update = self.update_shown = kernel_update(self._step, self.layer.currentData(),
                                                   self._kernel_index())
        element = self._element_position()
        if self._is_conv():
            chosen = int(np.ravel_multi_index(element, update.w_before.shape))
            window = slice(None)
        else:
            start = window_start(element[0], update.w_before.size)
            window = slice(start, start + WINDOW)
            chosen = element[0] - start
        for key, title in GRIDS:
            values = getattr(update, key)[window]
            if not self._is_conv():
                title += f" (inputs {window.start}–{window.start + len(values) - 1})"
            self.grids[key].setText(grid_html(title, values, chosen))
        self.settings.setText(
            f"learning rate {update.lr:g} (as scheduled), momentum {update.momentum:g}, "
            f"weight decay {update.weight_decay:g}"
            + ("" if update.momentum_applied else
               "; the first step after a start or rewind: no velocity yet, so v = g"))
        self.formula.setText(self._formula(update, element))

    def _formula(self, update, element):
        at = element if self._is_conv() else element[:1]
        w, grad, v0 = update.w_before[at], update.grad[at], update.velocity_before[at]
        g, v, w1 = update.g[at], update.velocity_after[at], update.w_after[at]
        lines = [f"g = grad + wd·w = {exact(grad)} + {update.weight_decay:g} × {exact(w)} "
                 f"= {exact(g)}"]
        if update.momentum_applied:
            lines.append(f"v = μ·v + g = {update.momentum:g} × {exact(v0)} + {exact(g)} "
                         f"= {exact(v)}")
        else:
            lines.append(f"v = g = {exact(v)}")
        lines.append(f"w′ = w − lr·v = {exact(w)} − {update.lr:g} × {exact(v)} = {exact(w1)}")
        same = np.array_equal(update.w_after, update.w_optimizer)
        verdict = ("equal to the optimizer's new weights, every one to the last bit" if same
                   else "NOT equal to the optimizer's new weights")
        return ("<b>SGD for the underlined weight</b> (float32, the optimizer's order):<br>"
                + "<br>".join(html.escape(line) for line in lines)
                + f"<br>w after, as worked out here: {verdict}.")

    def _ask_check(self):
        chosen = self.chosen_weight()
        if chosen is None:
            return
        self.check_button.setEnabled(False)
        self.check_result.setText("Checking… (a float64 backward pass and two forward passes "
                                  "over the batch)")
        self.check_requested.emit(*chosen)

