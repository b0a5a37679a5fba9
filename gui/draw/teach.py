"""Teach it: label the drawing, keep it in a personal set, and train on that set too."""
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QGridLayout,
                               QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from ..images import digit_pixmap

INCLUDE_TIP = ("<p>Add your drawings to the training set of the next run that starts from "
               "scratch (after Reset, or before the first batch). Fixed once a run has begun.</p>")


class TeachPanel(QWidget):
    """Label chooser, Add, the set's size, View, Clear and "include in training".

    Signals
    -------
    add_requested(int) : keep the current drawing with this label.
    view_requested(), clear_requested()
    include_toggled(bool)
    """

    add_requested = Signal(int)
    view_requested = Signal()
    clear_requested = Signal()
    include_toggled = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QComboBox(objectName="teach_label")
        for digit in range(10):
            self.label.addItem(str(digit), digit)
        self.add = QPushButton("Add to my drawings", objectName="teach_add")
        self.add.setToolTip("Keep the drawing, labelled with this digit, in your personal "
                            "set (saved in your data folder).")
        self.count = QLabel(objectName="teach_count")
        view = QPushButton("View…")
        clear = QPushButton("Clear…")
        self.include = QCheckBox("Include in training", objectName="teach_include",
                                 toolTip=INCLUDE_TIP)
        self.add.clicked.connect(lambda: self.add_requested.emit(self.label.currentData()))
        view.clicked.connect(self.view_requested)
        clear.clicked.connect(self.clear_requested)
        self.include.toggled.connect(self.include_toggled)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("This is a"))
        row.addWidget(self.label)
        row.addWidget(self.add, 1)
        grid.addLayout(row, 0, 0, 1, 3)
        grid.addWidget(self.count, 1, 0)
        grid.addWidget(view, 1, 1)
        grid.addWidget(clear, 1, 2)
        grid.addWidget(self.include, 2, 0, 1, 3)

    @Slot(object)
    def show_counts(self, counts):
        """Show how many drawings the set holds, ``counts (10,)`` per digit."""
        total = int(sum(counts))
        self.count.setText(f"{total} drawing{'s' * (total != 1)} in your set")

    @Slot(int)
    def suggest_label(self, digit):
        """Preselect a label (the prediction, or the known label) unless the person chose."""
        if not self.label.hasFocus():
            self.label.setCurrentIndex(digit)

    @Slot(bool)
    def set_drawing_present(self, present):
        """Adding needs something drawn."""
        self.add.setEnabled(present)

    @Slot(bool)
    def set_locked(self, locked):
        """Once a run has begun its training data is fixed, so the choice is too."""
        self.include.setEnabled(not locked)


class DrawingsDialog(QDialog):
    """The personal set as a grid of labelled thumbnails.

    Parameters
    ----------
    images : ndarray, uint8, (N, 28, 28)
    labels : ndarray, (N,)
    """

    def __init__(self, images, labels, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"My drawings ({len(labels)})")
        self.list = QListWidget(viewMode=QListWidget.ViewMode.IconMode,
                                movement=QListWidget.Movement.Static,
                                resizeMode=QListWidget.ResizeMode.Adjust, iconSize=QSize(56, 56))
        for image, label in zip(images, labels):
            item = QListWidgetItem(QIcon(digit_pixmap(image / 255.0)), str(int(label)))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.list.addItem(item)
        if not len(labels):
            self.list.addItem("No drawings yet: draw one, choose its digit and press Add.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(560, 420)
