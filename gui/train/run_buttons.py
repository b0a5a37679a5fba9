"""Start, Pause/Resume, Step batch, Step epoch, Stop and Reset, enabled by the run's state.

Each command is a QAction, so the buttons, the Training menu and the keyboard
shortcuts are one thing and enable and disable together.
"""
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QToolButton, QWidget

COMMANDS = [
    # name, text, shortcut, tooltip
    ("start", "Start", "Ctrl+Return", "Train from the current weights, or continue a stopped run."),
    ("pause", "Pause", "Space", "Pause after the current batch; press again to resume."),
    ("step_batch", "Step batch", "Ctrl+B", "Train exactly one more batch, then wait."),
    ("step_epoch", "Step epoch", "Ctrl+E", "Train to the end of this epoch, then wait."),
    ("stop", "Stop", "Ctrl+.", "End the run after the current batch. Start continues it."),
    ("reset", "Reset", "Ctrl+R",
     "Throw the weights away and start over from fresh random ones (drawn from the seed)."),
]
# Which commands make sense in each state of the run.
ENABLED = {
    "idle": {"start", "step_batch", "step_epoch", "reset"},
    "running": {"pause", "step_batch", "step_epoch", "stop"},
    "paused": {"pause", "step_batch", "step_epoch", "stop"},
    "stopping": set(),
}


class RunButtons(QWidget):
    """A grid of tool buttons over the run's QActions (``self.actions[name]``)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.actions = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for index, (name, text, shortcut, tip) in enumerate(COMMANDS):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            # Shortcuts work anywhere in the window, not only when a button has focus.
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.NativeText)})")
            self.actions[name] = action
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumHeight(30)
            grid.addWidget(button, index // 3, index % 3)
        self.set_state("idle")

    @Slot(str)
    def set_state(self, state):
        """Enable the commands that make sense now; Pause reads Resume while paused."""
        for name, action in self.actions.items():
            action.setEnabled(name in ENABLED[state])
        self.actions["pause"].setText("Resume" if state == "paused" else "Pause")
