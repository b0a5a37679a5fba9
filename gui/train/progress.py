"""Progress of the epoch and of the whole run, with speed and time left.

It also says where a paused run stands, and which epoch is on show when the
timeline looks at an earlier one (the bars always follow the run itself).
"""
import math

from PySide6.QtCore import Signal, Slot
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


def paused_text(epoch, batch, batches_per_epoch):
    """``Paused at epoch 7, batch 35 of 63``, or ``Paused after epoch 6`` between epochs.

    ``epoch`` counts from 1 and ``batch`` is the number of its batches trained.
    """
    if batch <= 0 or batch >= batches_per_epoch:
        return f"Paused after epoch {epoch if batch else epoch - 1}"
    return f"Paused at epoch {epoch}, batch {batch} of {batches_per_epoch}"


class RunProgress(QGroupBox):
    """Two progress bars (epoch, run) and a line with samples per second and time left.

    Signals
    -------
    history_cut() : the run's history was forgotten (a new session) or cut back (the
        run went back to an earlier epoch); messages about how it ended are stale.
    """

    history_cut = Signal()

    def __init__(self, parent=None):
        super().__init__("Progress", parent)
        # Text above slim bars rather than inside them: the bar's fill hides the text.
        epoch_row, self.epoch_bar, self.epoch_text = self._slim_bar()
        run_row, self.run_bar, self.run_text = self._slim_bar()
        self.speed = QLabel()
        self.state = QLabel()
        self.on_show = QLabel(wordWrap=True)
        self.batches_seen = 0   # batches reported this session (the tests read it)
        self._state = "idle"
        self._form = form = QFormLayout(self)
        form.addRow("On show", self.on_show)
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
        self._where = None          # (epoch, batch, batches_per_epoch, total_epochs)
        self._rate = self._left = float("nan")
        self._accuracy = {}
        for bar, label, text in ((self.epoch_bar, self.epoch_text, "no batch yet"),
                                 (self.run_bar, self.run_text, "not started")):
            bar.setRange(0, 1)
            bar.setValue(0)
            label.setText(text)
        self.show_viewed(0, 0)
        self._show_state()
        self.history_cut.emit()

    @Slot(str)
    def set_state(self, state):
        """Show the run's state in words."""
        self._state = state
        self._show_state()

    def _show_state(self):
        if self._state == "paused" and self._where is not None:
            self.state.setText(paused_text(*self._where[:3]))
        else:
            self.state.setText(STATE_TEXT.get(self._state, self._state))
        self._show_speed()

    def _show_speed(self):
        """The training speed; the time left only while the run runs (a pause stops it)."""
        if not math.isfinite(self._rate):
            self.speed.setText("—")
            return
        rate = f"{self._rate:,.0f} images/s"
        after = {"running": f"{format_duration(self._left)} left", "paused": "paused",
                 "stopping": "stopping"}.get(self._state)
        self.speed.setText(f"{rate} · {after}" if after else f"{rate} in the last run")

    @Slot(object)
    def add_batches(self, chunk):
        """Show where a :class:`gui.records.BatchChunk` leaves the run."""
        self.batches_seen += len(chunk)
        per_epoch = chunk.batches_per_epoch
        self._where = (chunk.epoch, chunk.batch, per_epoch, chunk.total_epochs)
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
            self._rate, self._left = chunk.samples_per_second, chunk.seconds_left
        self._show_state()

    @Slot(object)
    def add_epoch(self, summary):
        """Fill the epoch bar and show the epoch's validation accuracy."""
        r = summary.record
        self._accuracy[r.epoch] = r.val_accuracy
        self.epoch_text.setText(f"epoch {r.epoch} done: validation accuracy "
                                f"{r.val_accuracy:.1%}")
        self.epoch_bar.setValue(self.epoch_bar.maximum())

    @Slot(int)
    def truncate(self, epoch):
        """Say the run went back to the end of ``epoch``: the bars and words follow."""
        self._accuracy = {e: a for e, a in self._accuracy.items() if e <= epoch}
        self.epoch_bar.setValue(0)
        self.epoch_text.setText(f"back at the end of epoch {epoch}" if epoch else
                                "back at the start")
        if self._where is not None:
            per_epoch, total_epochs = self._where[2], self._where[3]
            self._where = (epoch + 1, 0, per_epoch, total_epochs)
            total = max(total_epochs * per_epoch, 1)
            done = min(epoch * per_epoch, total)
            self.run_bar.setRange(0, total)
            self.run_bar.setValue(done)
            self.run_text.setText(f"epoch {epoch} of {total_epochs} done "
                                  f"({100 * done // total}%)")
        self._left = float("nan")   # the old estimate was for the run that is gone
        self._show_state()
        self.history_cut.emit()

    @Slot(int, int)
    def show_viewed(self, viewed, latest):
        """Say which epoch is on show when the timeline looks at an earlier one."""
        past = viewed < latest
        if past:
            accuracy = self._accuracy.get(viewed)
            what = ("the starting weights (timeline, epoch 0)" if viewed == 0 else
                    f"the end of epoch {viewed} (timeline)"
                    + (f", validation {accuracy:.1%}" if accuracy is not None else ""))
            self.on_show.setText(f"<b>{what}</b><br>The bars below follow the run.")
        self._form.setRowVisible(self.on_show, past)
