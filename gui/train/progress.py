"""Progress of the epoch and of the whole run, with speed and time left."""
import math

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QProgressBar, QVBoxLayout, QWidget

STATE_TEXT = {"idle": "Ready", "running": "Training…", "paused": "Paused",
              "stopping": "Stopping after this batch…"}


def format_duration(seconds):
    """``0:42``, ``12:05`` or ``1:02:03``; an em dash while unknown."""
    if not math.isfinite(seconds):
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class RunProgress(QGroupBox):
    """Two progress bars (epoch, run) and a line with samples per second and time left."""

    def __init__(self, parent=None):
        super().__init__("Progress", parent)
        # Text above slim bars rather than inside them: the bar's fill hides the text.
        epoch_row, self.epoch_bar, self.epoch_text = self._slim_bar()
        run_row, self.run_bar, self.run_text = self._slim_bar()
        self.speed = QLabel()
        self.state = QLabel()
        self.batches_seen = 0   # batches reported this session (the tests read it)
        form = QFormLayout(self)
        form.addRow("State", self.state)
        form.addRow("Epoch", epoch_row)
        form.addRow("Run", run_row)
        form.addRow("Speed", self.speed)
        self.clear()
        self.set_state("idle")

    @staticmethod
    def _slim_bar():
        holder = QWidget()
        box = QVBoxLayout(holder)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        text = QLabel()
        bar = QProgressBar(textVisible=False, maximumHeight=8)
        box.addWidget(text)
        box.addWidget(bar)
        return holder, bar, text

    @Slot()
    def clear(self):
        """Back to "not started" for a new session."""
        self.batches_seen = 0
        for bar, label, text in ((self.epoch_bar, self.epoch_text, "no batch yet"),
                                 (self.run_bar, self.run_text, "not started")):
            bar.setRange(0, 1)
            bar.setValue(0)
            label.setText(text)
        self.speed.setText("—")

    @Slot(str)
    def set_state(self, state):
        """Show the run's state in words."""
        self.state.setText(STATE_TEXT.get(state, state))

    @Slot(object)
    def add_batches(self, chunk):
        """Show where a :class:`gui.records.BatchChunk` leaves the run."""
        self.batches_seen += len(chunk)
        per_epoch = chunk.batches_per_epoch
        self.epoch_bar.setRange(0, per_epoch)
        self.epoch_bar.setValue(chunk.batch)
        self.epoch_text.setText(f"epoch {chunk.epoch}: batch {chunk.batch} of {per_epoch}")
        total = max(chunk.total_epochs * per_epoch, 1)
        step = int(chunk.step[-1])
        self.run_bar.setRange(0, total)
        self.run_bar.setValue(min(step, total))
        self.run_text.setText(f"epoch {chunk.epoch} of {chunk.total_epochs} "
                              f"({100 * min(step, total) // total}%)")
        if math.isfinite(chunk.samples_per_second):
            self.speed.setText(f"{chunk.samples_per_second:,.0f} images/s · "
                               f"{format_duration(chunk.seconds_left)} left")

    @Slot(object)
    def add_epoch(self, summary):
        """Fill the epoch bar and show the epoch's validation accuracy."""
        r = summary.record
        self.epoch_text.setText(f"epoch {r.epoch} done: validation accuracy "
                                f"{r.val_accuracy:.1%}")
        self.epoch_bar.setValue(self.epoch_bar.maximum())

    @Slot(int)
    def truncate(self, epoch):
        """Say the run went back to the end of ``epoch``."""
        self.epoch_bar.setValue(0)
        self.epoch_text.setText(f"back at the end of epoch {epoch}")
