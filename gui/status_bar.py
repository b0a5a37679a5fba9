"""A status bar whose message is elided to the room it has, the whole text on hover.

QStatusBar clips a long message at the permanent widgets on its right (the
evaluation's progress), so "Saved the model (…) to /home/…" lost its end,
the part that says where.
"""
from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QSizeGrip, QStatusBar, QToolTip

#: Space between the message and the bar's edge or its widgets, in pixels.
MARGIN = 6


class ElidingStatusBar(QStatusBar):
    """Draws its temporary message elided ("…") and shows it whole as a tooltip."""

    def message_rect(self):
        """Where the message goes: from the left edge to the first visible widget in the
        bar (not the size grip, always rightmost and placed only when first shown, nor
        a window such as the tooltip)."""
        right = min((child.geometry().left() for child in self.children()
                     if child.isWidgetType() and child.isVisible() and not child.isWindow()
                     and not isinstance(child, QSizeGrip)), default=self.width())
        return QRect(MARGIN, 0, max(0, right - 2 * MARGIN), self.height())

    def shown_message(self):
        """The message as drawn: whole if it fits, else elided at the right."""
        return self.fontMetrics().elidedText(self.currentMessage(),
                                             Qt.TextElideMode.ElideRight,
                                             self.message_rect().width())

    def paintEvent(self, event):
        if not self.currentMessage():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.message_rect(), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine,
                         self.shown_message())

    def event(self, event):
        """A hover over a cut message shows it whole."""
        if event.type() == QEvent.Type.ToolTip and self.currentMessage() \
                and self.shown_message() != self.currentMessage() \
                and self.message_rect().contains(event.pos()):
            QToolTip.showText(event.globalPos(), self.currentMessage(), self)
            return True
        return super().event(event)
