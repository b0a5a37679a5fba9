"""The drawing canvas: a sheet of paper, a round pen, an eraser, undo and clear.

Strokes are kept as vectors (smooth QPainterPaths in paper units) and
rendered into two ink layers: one at the screen's resolution for display, one
small (:data:`ANALYSIS_SIDE`) for the network.  The ink is a layer of alpha
over the paper, so its alpha channel *is* the ink intensity the
preprocessing wants, and the eraser simply clears alpha.

Pen and touch input arrive as mouse events: Qt synthesises them for a
widget that does not handle tablet or touch events itself (the default of
``AA_SynthesizeMouseForUnhandledTabletEvents`` and its touch twin).
"""
import sys
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

#: The paper is PAPER_SIDE units square whatever the widget's size.
PAPER_SIDE = 280.0
#: Side of the raster the network's input is made from (then preprocessed to 28×28).
ANALYSIS_SIDE = 140
#: Default pen width in paper units.  A digit drawn 60 % of the paper tall
#: (168 units) is scaled by 20/168 when preprocessed, so this pen leaves
#: strokes about 3 px wide at 28×28 and as much ink as MNIST's digits of the
#: same class (within 10 % for 0, 1 and 7; the tests check a 7).
DEFAULT_BRUSH = 28.0
BRUSH_RANGE = (8, 60)
PAPER_COLOUR = QColor("#fbf8f1")
RULE_COLOUR = QColor(120, 140, 170, 28)     # faint guide lines, as on a pad of paper
EDGE_COLOUR = QColor("#d8d2c4")
INK_COLOUR = QColor(31, 39, 51)
HINT = "Draw a digit here"
# Premultiplied ARGB32 is one 32-bit word per pixel, so where alpha sits in
# memory depends on the byte order.
_ALPHA_BYTE = 3 if sys.byteorder == "little" else 0


@dataclass
class Stroke:
    """One pen-down to pen-up: a smooth path in paper units."""

    path: QPainterPath
    width: float
    eraser: bool
    single_point: bool = True


@dataclass
class Picture:
    """A loaded digit shown as ink: ``digit (28, 28)`` in [0, 1], ``label`` if known."""

    digit: np.ndarray
    label: object = None


class Clear:
    """Marks the point where the sheet was cleared (undo brings the ink back)."""


class DrawingCanvas(QWidget):
    """A square sheet to draw a digit on.

    Signals
    -------
    changed() : the ink changed while the pen moves (many times a second).
    finished() : a change is complete: pen lifted, undo, clear or a picture loaded.
    eraser_changed(bool) : the canvas chose the tool itself (the pen again on an empty sheet).
    """

    changed = Signal()
    finished = Signal()
    eraser_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("canvas")
        self.brush_width = DEFAULT_BRUSH
        self.eraser = False
        self._history = []          # Stroke, Picture and Clear items, oldest first
        self._live = None           # the stroke being drawn
        self._points = []           # its last three input points, for repainting
        self._hover = None          # pen position for the brush outline
        self._screen_ink = self._analysis_ink = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(240, 240)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setToolTip("Draw with the mouse, a pen or a finger. Ctrl+Z undoes a stroke.")

    # --- what the rest of the app reads -----------------------------------------------

    def is_empty(self):
        """True when no ink is on the sheet (nothing drawn, or all cleared)."""
        return not self._visible_items() and self._live is None

    def picture(self):
        """The loaded :class:`Picture` when it is all there is on the sheet, else None.

        Then the network sees the loaded digit exactly, not a re-rendering of it.
        """
        items = self._visible_items()
        if self._live is None and len(items) == 1 and isinstance(items[0], Picture):
            return items[0]
        return None

    def ink(self):
        """The ink, committed and live, at the analysis resolution.

        Returns
        -------
        ink : ndarray, float32, (ANALYSIS_SIDE, ANALYSIS_SIDE)
            0 where the paper is bare, up to 1 under the pen.
        """
        layer = self._layers()[1]
        if self._live is not None:
            layer = layer.copy()
            self._paint_stroke(layer, ANALYSIS_SIDE / PAPER_SIDE, self._live_stroke())
        width = layer.bytesPerLine() // 4
        pixels = np.frombuffer(layer.constBits(), np.uint8).reshape(ANALYSIS_SIDE, width, 4)
        return pixels[:, :ANALYSIS_SIDE, _ALPHA_BYTE].astype(np.float32) / 255.0

    # --- commands ---------------------------------------------------------------------

    def set_brush_width(self, width):
        """Pen width in paper units (the paper is :data:`PAPER_SIDE` wide)."""
        self.brush_width = float(width)
        self.update()

    def set_eraser(self, on):
        """Erase instead of drawing."""
        self.eraser = bool(on)

    def undo(self):
        """Take back the last stroke, clear or picture."""
        if self._history:
            self._history.pop()
            self._rebuild()

    def clear(self):
        """Wipe the sheet (undoable)."""
        if not self.is_empty():
            self._history.append(Clear())
            self._rebuild()

    def set_picture(self, digit, label=None):
        """Start a new sheet showing ``digit (28, 28)`` as ink; ``label`` if it is known."""
        self._history = [Picture(np.array(digit, np.float32), label)]
        self._live = None
        self._rebuild()

    # --- input ------------------------------------------------------------------------

    def mousePressEvent(self, event):
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self._to_paper(event.position())
        self._live = Stroke(QPainterPath(point), self.brush_width, self.eraser)
        self._points = [point]
        self._update_around(point)
        self.changed.emit()

    def mouseMoveEvent(self, event):
        point = self._to_paper(event.position())
        self._hover = point
        if self._live is None:
            self.update()       # the brush outline follows the pointer
            return
        last = self._points[-1]
        if (point - last).manhattanLength() < 0.5:
            return
        # Quadratic segments through the midpoints: smooth, and every
        # earlier part of the path stays put while the pen moves on.
        self._live.path.quadTo(last, (last + point) / 2)
        self._live.single_point = False
        # The new segment bends the one before it: repaint around both.
        self._points = [*self._points[-2:], point]
        self._update_around(*self._points)
        self.changed.emit()

    def mouseReleaseEvent(self, event):
        if event.button() != Qt.MouseButton.LeftButton or self._live is None:
            return
        stroke, self._live = self._live_stroke(), None
        # No brush outline where the pen lifted: over the ink it showed as a ring in
        # the drawing (and a finger or pen never moves it away); the next move brings it.
        self._hover = None
        self._history.append(stroke)
        for layer, scale in zip(self._layers(), self._scales()):
            self._paint_stroke(layer, scale, stroke)
        self.update()
        self.finished.emit()

    def leaveEvent(self, event):
        self._hover = None
        self.update()

    # --- drawing ----------------------------------------------------------------------

    def heightForWidth(self, width):
        return width

    def resizeEvent(self, event):
        self._screen_ink = None     # rebuilt at the new size on the next paint

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        sheet = self._sheet_rect()
        painter.fillRect(self.rect(), self.palette().window())
        painter.setPen(QPen(EDGE_COLOUR, 1))
        painter.setBrush(PAPER_COLOUR)
        painter.drawRoundedRect(sheet.adjusted(-0.5, -0.5, 0.5, 0.5), 3, 3)
        painter.setPen(QPen(RULE_COLOUR, 1))
        for i in range(1, 8):
            y = sheet.top() + sheet.height() * i / 8
            painter.drawLine(QPointF(sheet.left() + 6, y), QPointF(sheet.right() - 6, y))
        screen = self._layers()[0]
        live = self._live_stroke()
        if live is not None and live.eraser:
            # Erasing must clear ink, not paint over the paper's rules.
            screen = screen.copy()
            self._paint_stroke(screen, self._scales()[0], live)
        painter.drawImage(sheet, screen)
        if live is not None and not live.eraser:
            painter.save()
            painter.translate(sheet.topLeft())
            self._paint_stroke(painter, sheet.width() / PAPER_SIDE, live)
            painter.restore()
        if self.is_empty():
            painter.setPen(QColor(0, 0, 0, 90))
            painter.drawText(sheet, Qt.AlignmentFlag.AlignCenter, HINT)
        if self._hover is not None and self._live is None:
            self._paint_brush_outline(painter, sheet)

    def _paint_brush_outline(self, painter, sheet):
        scale = sheet.width() / PAPER_SIDE
        centre = sheet.topLeft() + self._hover * scale
        radius = self.brush_width * scale / 2
        painter.setPen(QPen(QColor(0, 0, 0, 110), 1, Qt.PenStyle.DashLine if self.eraser
                            else Qt.PenStyle.SolidLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(centre, radius, radius)

    # --- internals --------------------------------------------------------------------

    def _sheet_rect(self):
        """The largest centred square of the widget, whole widget pixels (crisp edges)."""
        side = max(1, min(self.width(), self.height()) - 2)
        return QRectF((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def _live_stroke(self):
        """The stroke being drawn, its path reaching the pen (None when the pen is up)."""
        if self._live is None or self._live.single_point:
            return self._live
        path = QPainterPath(self._live.path)
        path.lineTo(self._points[-1])
        return Stroke(path, self._live.width, self._live.eraser, False)

    def _to_paper(self, position):
        sheet = self._sheet_rect()
        return (position - sheet.topLeft()) * (PAPER_SIDE / sheet.width())

    def _scales(self):
        """Pixels per paper unit of the screen layer and of the analysis layer."""
        return (self._sheet_rect().width() * self.devicePixelRatioF() / PAPER_SIDE,
                ANALYSIS_SIDE / PAPER_SIDE)

    def _visible_items(self):
        """The history since the last Clear."""
        for index in range(len(self._history) - 1, -1, -1):
            if isinstance(self._history[index], Clear):
                return self._history[index + 1:]
        return self._history

    def _layers(self):
        """The committed ink at screen and analysis resolution, rendered when missing."""
        if self._screen_ink is None or self._analysis_ink is None:
            self._render_layers()
        return self._screen_ink, self._analysis_ink

    def _render_layers(self):
        screen_side = max(1, round(self._sheet_rect().width() * self.devicePixelRatioF()))
        layers = []
        for side, scale in zip((screen_side, ANALYSIS_SIDE), self._scales()):
            layer = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
            layer.fill(Qt.GlobalColor.transparent)
            for item in self._visible_items():
                if isinstance(item, Picture):
                    self._paint_picture(layer, item.digit)
                else:
                    self._paint_stroke(layer, scale, item)
            layers.append(layer)
        self._screen_ink, self._analysis_ink = layers

    def _rebuild(self):
        self._screen_ink = self._analysis_ink = None
        if self.eraser and self.is_empty():
            # Erasing an empty sheet draws nothing and says nothing: the pen is what
            # comes next after Clear (or undoing every stroke).
            self.eraser = False
            self.eraser_changed.emit(False)
        self.update()
        self.finished.emit()

    @staticmethod
    def _paint_stroke(target, scale, stroke):
        """Paint ``stroke`` on an image, or with a painter already in use."""
        painter = target if isinstance(target, QPainter) else QPainter(target)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(scale, scale)
        if stroke.eraser:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        if stroke.single_point:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(INK_COLOUR)
            radius = stroke.width / 2
            painter.drawEllipse(stroke.path.currentPosition(), radius, radius)
        else:
            painter.setPen(QPen(INK_COLOUR, stroke.width, Qt.PenStyle.SolidLine,
                                Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
            painter.drawPath(stroke.path)
        painter.restore()
        if painter is not target:
            painter.end()

    @staticmethod
    def _paint_picture(layer, digit):
        """Paint a 28×28 digit over the whole layer as ink of its intensity."""
        alpha = np.clip(digit, 0, 1)
        argb = np.empty(alpha.shape + (4,), np.uint8)
        colour = (INK_COLOUR.blue(), INK_COLOUR.green(), INK_COLOUR.red(), 255)
        # Premultiplied: every channel is colour × alpha, in the word's memory order.
        for channel, value in enumerate(colour if _ALPHA_BYTE == 3 else colour[::-1]):
            argb[..., channel] = np.round(alpha * value).astype(np.uint8)
        side = alpha.shape[0]
        image = QImage(argb.data, side, side, side * 4, QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(layer)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRectF(0, 0, layer.width(), layer.height()), image)
        painter.end()

    def _update_around(self, *points):
        """Repaint only the part of the widget a stroke segment touched."""
        sheet = self._sheet_rect()
        scale = sheet.width() / PAPER_SIDE
        margin = self.brush_width * scale / 2 + 3
        xs = [sheet.left() + p.x() * scale for p in points]
        ys = [sheet.top() + p.y() * scale for p in points]
        self.update(QRectF(min(xs) - margin, min(ys) - margin,
                           max(xs) - min(xs) + 2 * margin,
                           max(ys) - min(ys) + 2 * margin).toAlignedRect())
