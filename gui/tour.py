"""A slim notice above the places: the first-run tour and the offer to restore an autosave."""
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


class NoticeBar(QFrame):
    """Text and a few buttons; every button hides the bar after its own action.

    Parameters
    ----------
    text : str
        Rich text.
    buttons : list of (str, str, callable)
        ``(object name, label, action)``.
    """

    def __init__(self, text, buttons, parent=None):
        super().__init__(parent, objectName="notice", frameShape=QFrame.Shape.StyledPanel)
        # Palette roles, not a style sheet: they follow a change of theme by themselves.
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.setAutoFillBackground(True)
        self.label = QLabel(text, wordWrap=True)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        self.buttons = {}
        for name, label, action in buttons:
            button = QPushButton(label, objectName=name)
            button.clicked.connect(action)
            button.clicked.connect(self.hide)
            row.addWidget(button)
            self.buttons[name] = button
