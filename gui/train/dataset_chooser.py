"""Choose the bundled sample or full MNIST, and download MNIST when it is missing."""
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QVBoxLayout)

from ..style import set_tone

#: (label, engine name, training images): the counts the engine's splits have.
DATASETS = [("Bundled sample (4,000 train / 1,000 validation)", "sample", 4000),
            ("Full MNIST (60,000 train / 10,000 test)", "mnist", 60000)]
DATASET_TIP = ("The bundled sample (500 images of each digit) trains in seconds. Full MNIST "
               "has 70,000 images and is downloaded once (about 11 MB).")


def split_details(message):
    """Split the engine's ``headline [per-mirror details]; rest`` into plain text and details.

    The per-mirror errors help a developer, not a person choosing a data set:
    they go to the tooltip.
    """
    start, end = message.find(" ["), message.rfind("]")
    if start < 0 or end < start:
        return message[:1].upper() + message[1:], ""
    plain = message[:start] + message[end + 1:]
    return plain[:1].upper() + plain[1:], message[start + 2:end]


class DatasetChooser(QGroupBox):
    """A data set selector with a download button, a progress bar and a message line.

    Signals
    -------
    dataset_changed(str, int) : engine name and number of training images.
    download_requested(), cancel_requested()
    """

    dataset_changed = Signal(str, int)
    download_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__("Data", parent)
        self.combo = QComboBox(toolTip=DATASET_TIP)
        for label, name, count in DATASETS:
            self.combo.addItem(label, (name, count))
        self.download_button = QPushButton("Download MNIST",
                                           toolTip="Fetch full MNIST from a public mirror, "
                                                   "verify its checksums and keep it for next time.")
        self.progress = QProgressBar(visible=False, textVisible=True)
        self.message = QLabel(wordWrap=True, visible=False)
        self._downloading = False
        self._mnist_ready = False
        self._enabled = True
        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.combo.currentIndexChanged.connect(self._on_choice)
        self.download_button.clicked.connect(self._on_button)

    @property
    def current(self):
        """``(engine name, training images)`` of the chosen data set."""
        return self.combo.currentData()

    def _on_choice(self):
        self.dataset_changed.emit(*self.current)
        self._refresh()

    def _on_button(self):
        (self.cancel_requested if self._downloading else self.download_requested).emit()

    @Slot(bool)
    def set_mnist_ready(self, ready):
        """Say whether full MNIST is in the cache (the button then has nothing to do)."""
        self._mnist_ready = ready
        self._refresh()

    @Slot(bool)
    def set_choosable(self, choosable):
        """Only while no run has begun: the data set defines the run."""
        self._enabled = choosable
        self.combo.setEnabled(choosable)

    @Slot()
    def download_started(self):
        """Show a busy bar; the button becomes Cancel."""
        self._downloading = True
        self.progress.setRange(0, 0)   # busy until the first byte count arrives
        self.progress.setVisible(True)
        self.show_message("Connecting…")
        self._refresh()

    @Slot(str, int, int)
    def show_progress(self, name, done, total):
        """Show bytes ``done`` of ``total`` (0 if unknown) of the file ``name``."""
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.progress.setFormat(f"{name.split('-')[0]} {done / 1e6:.1f} of {total / 1e6:.1f} MB"
                                if total else f"{name} {done / 1e6:.1f} MB")
        self.show_message("")

    @Slot(bool, str)
    def download_finished(self, ok, message):
        """Show the outcome in plain words; the mirrors' details go to the tooltip."""
        self._downloading = False
        self.progress.setVisible(False)
        self._mnist_ready = self._mnist_ready or ok
        self._refresh()
        headline, details = split_details(message)
        self.show_message(headline, error=not ok)
        self.message.setToolTip(details)

    def show_message(self, text, error=False):
        """Show ``text`` under the button (red when ``error``); empty hides it."""
        self.message.setText(text)
        set_tone(self.message, "error" if error else None)
        self.message.setVisible(bool(text))

    def _refresh(self):
        button = self.download_button
        if self._downloading:
            button.setText("Cancel download")
            button.setEnabled(True)
        else:
            button.setText("MNIST downloaded" if self._mnist_ready else "Download MNIST")
            button.setEnabled(not self._mnist_ready)
        if self.current[0] == "mnist" and not self._mnist_ready and not self._downloading:
            self.show_message("Full MNIST is not downloaded yet: press Download MNIST, "
                              "or train on the bundled sample.")
