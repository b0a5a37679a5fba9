"""The timeline: a slider over the epoch snapshots, and a way back to one of them."""
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

TIMELINE_TIP = ("Look at the model as it was at the end of any epoch: kernels, curves and "
                "the other places follow. The right end follows the live model.")
REWIND_TIP = ("Make the chosen epoch the current model: later epochs are forgotten and "
              "Start trains on from here.")
#: Why "Continue from here" cannot be pressed now, and what to do about it.
REWIND_WHY_NOT = {
    "live": "Move the timeline to an earlier epoch first: the right end is already the "
            "current model.",
    "running": "Pause or Stop the run first, then continue from the chosen epoch.",
    "stopping": "Wait until the run has stopped.",
}
REWIND_WHILE_PAUSED = " The paused run is stopped first."


class Timeline(QWidget):
    """Slider from epoch 0 to the latest epoch; the right end is live.

    Signals
    -------
    epoch_selected(int) : the person moved the slider.
    rewind_requested() : "Continue from here" was pressed.
    position_shown(int, int) : ``(viewed, latest)`` now on show, for the panels of the
        Train place that follow the timeline.
    """

    epoch_selected = Signal(int)
    rewind_requested = Signal()
    position_shown = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, toolTip=TIMELINE_TIP)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setPageStep(1)
        self.label = QLabel(minimumWidth=260)
        self.rewind_button = QPushButton("Continue from here", toolTip=REWIND_TIP)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Timeline", toolTip=TIMELINE_TIP))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.rewind_button)
        self._accuracy = {}
        self._state = "idle"
        self.slider.valueChanged.connect(self.epoch_selected)
        self.rewind_button.clicked.connect(self.rewind_requested)
        self.set_position(0, 0)

    @Slot(int, int)
    def set_position(self, viewed, latest):
        """Show ``viewed`` of ``0..latest`` without echoing it back as a selection."""
        self.slider.blockSignals(True)
        self.slider.setRange(0, latest)
        self.slider.setValue(viewed)
        self.slider.blockSignals(False)
        self.slider.setEnabled(latest > 0)
        self._accuracy = {e: a for e, a in self._accuracy.items() if e <= latest}
        accuracy = self._accuracy.get(viewed)
        where = "live" if viewed == latest else "snapshot"
        extra = f" · validation {accuracy:.1%}" if accuracy is not None else ""
        self.label.setText(f"epoch {viewed} of {latest} ({where}){extra}")
        self._viewing_past = viewed < latest
        self._refresh()
        self.position_shown.emit(viewed, latest)

    @Slot(object)
    def add_epoch(self, summary):
        """Remember the epoch's validation accuracy for the label."""
        self._accuracy[summary.record.epoch] = summary.record.val_accuracy

    @Slot()
    def clear(self):
        """Back to epoch 0 of 0 for a new session."""
        self._accuracy = {}
        self.set_position(0, 0)

    @Slot(str)
    def set_state(self, state):
        """Going back to an epoch is possible while no run is active or the run is paused
        (the controller stops a paused run first)."""
        self._state = state
        self._refresh()

    def _refresh(self):
        if not self._viewing_past:
            why_not = REWIND_WHY_NOT["live"]
        else:
            why_not = REWIND_WHY_NOT.get(self._state)
        self.rewind_button.setEnabled(why_not is None)
        if why_not is not None:
            tip = f"{why_not}\n\n{REWIND_TIP}"
        elif self._state == "paused":
            tip = REWIND_TIP + REWIND_WHILE_PAUSED
        else:
            tip = REWIND_TIP
        self.rewind_button.setToolTip(tip)
