"""The kernel sliding over its input: which output pixel is being computed, frame by frame."""
from PySide6.QtCore import QObject, QTimer, Signal

#: Milliseconds per output pixel while playing: 30 frames a second.
FRAME_MS = 33


class SlidingKernel(QObject):
    """Walks output pixels row by row, on a timer (play) or one at a time (step).

    Signals
    -------
    moved(int, int, bool) : now at row, column; True when it wrapped back to the
        first pixel (the output map starts empty again).
    playing_changed(bool)
    """

    moved = Signal(int, int, bool)
    playing_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.shape = (1, 1)
        self.position = (0, 0)
        self.timer = QTimer(self, interval=FRAME_MS)
        self.timer.timeout.connect(self.step)

    @property
    def playing(self):
        """Whether the timer is moving the kernel."""
        return self.timer.isActive()

    def reset(self, shape, position):
        """A new map of ``shape (H, W)``, the kernel at ``position (row, col)``."""
        self.shape, self.position = tuple(shape), tuple(position)

    def step(self):
        """Move to the next output pixel (after the last, back to the first)."""
        height, width = self.shape
        index = (self.position[0] * width + self.position[1] + 1) % (height * width)
        self.position = divmod(index, width)
        self.moved.emit(*self.position, index == 0)

    def set_playing(self, playing):
        """Start or stop the timer."""
        if playing != self.playing:
            self.timer.start() if playing else self.timer.stop()
            self.playing_changed.emit(playing)
