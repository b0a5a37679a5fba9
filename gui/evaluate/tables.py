"""The per-class table and the gallery of validation images."""
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QListWidget,
                               QListWidgetItem, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from ..images import digit_pixmap

METRIC_TIPS = {
    "precision": "Of the images the network called this digit, the fraction that are.",
    "recall": "Of the images of this digit, the fraction the network recognised.",
    "F1": "The harmonic mean of precision and recall.",
    "support": "How many validation images show this digit.",
}
#: Index into the validation images, stored on each gallery item.
INDEX_ROLE = Qt.ItemDataRole.UserRole


class MetricsTable(QTableWidget):
    """Precision, recall, F1 and support for every digit."""

    def __init__(self, parent=None):
        super().__init__(10, len(METRIC_TIPS), parent)
        self.setObjectName("metrics")
        for col, (name, tip) in enumerate(METRIC_TIPS.items()):
            header = QTableWidgetItem(name)
            header.setToolTip(tip)
            self.setHorizontalHeaderItem(col, header)
        self.setVerticalHeaderLabels([f"digit {d}" for d in range(10)])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setDefaultSectionSize(22)

    @Slot(object)
    def show_metrics(self, per_class):
        """Fill the table from ``per_class`` (a list of dicts, one per digit)."""
        for row, metrics in enumerate(per_class):
            values = (f"{metrics['precision']:.3f}", f"{metrics['recall']:.3f}",
                      f"{metrics['f1']:.3f}", str(metrics["support"]))
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col, item)


class Gallery(QWidget):
    """Thumbnails of validation images; click one to explain it.

    Signals
    -------
    image_clicked(int) : the validation index of the clicked image.
    """

    image_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel(objectName="gallery_title", wordWrap=True)
        self.list = QListWidget(objectName="gallery", viewMode=QListWidget.ViewMode.IconMode,
                                movement=QListWidget.Movement.Static,
                                resizeMode=QListWidget.ResizeMode.Adjust,
                                iconSize=QSize(56, 56), gridSize=QSize(96, 84))
        # Sized per item (not uniformly), so a "5→8 100%" caption is never cut short.
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setToolTip("Click an image to open it in Draw & Explain")
        self.list.itemClicked.connect(lambda item: self.image_clicked.emit(item.data(INDEX_ROLE)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)

    def indices(self):
        """The validation indices on show, in order."""
        return [self.list.item(i).data(INDEX_ROLE) for i in range(self.list.count())]

    def show_images(self, title, indices, images, captions):
        """Show ``images[indices]`` with one caption each.

        Parameters
        ----------
        indices : sequence of int
        images : ndarray, uint8, (N, 28, 28)
            All the validation images.
        captions : sequence of str
        """
        self.title.setText(title)
        self.list.clear()
        for index, caption in zip(indices, captions):
            item = QListWidgetItem(QIcon(digit_pixmap(images[index] / 255.0)), caption)
            item.setData(INDEX_ROLE, int(index))
            item.setToolTip(f"validation image #{int(index)}: {caption}")
            self.list.addItem(item)
