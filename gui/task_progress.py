"""A long task in the status bar: what runs, how far it has got, and a button to cancel it."""
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QToolButton,
                               QWidget)


class TaskProgress(QWidget):
    """A label, a progress bar and a Cancel button, shown only while a task runs.

    Parameters
    ----------
    text : str
        What the task is, in a few words ("Evaluating…").

    Signals
    -------
    cancel_requested() : the Cancel button was pressed.
    """

    cancel_requested = Signal()

    def __init__(self, text, parent=None):
        super().__init__(parent, visible=False)
        # No wider than it needs: the status bar's messages keep the room.
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.label = QLabel(text)
        # Busy (moving) until the first report says how much there is to do.
        self.bar = QProgressBar(textVisible=False, minimum=0, maximum=0)
        self.bar.setFixedWidth(self.fontMetrics().averageCharWidth() * 16)
        self.cancel_button = QToolButton(text="Cancel", autoRaise=True)
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.cancel_button):
            layout.addWidget(widget)

    @Slot(str)
    def start(self, what):
        """Show the task (``what`` goes to the tooltip), its bar busy until the first report."""
        self.setToolTip(what)
        self.bar.setRange(0, 0)
        self.show()

    @Slot(int, int)
    def set_progress(self, done, total):
        """``done`` of ``total`` steps."""
        self.bar.setRange(0, total)
        self.bar.setValue(done)

    @Slot()
    def finish(self):
        """The task ended (done, failed or cancelled): hide."""
        self.hide()
