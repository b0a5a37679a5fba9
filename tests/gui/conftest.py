"""pytest-qt fixtures for the app: offscreen, a private data folder, a small fast run."""
import os

# Before the QApplication is made: no display is needed, and none is used if present.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np
import pytest

#: Generous: the machine may be loaded; waits return as soon as the condition holds.
WAIT_MS = 90_000


@pytest.fixture(autouse=True)
def private_data_folder(tmp_path, monkeypatch):
    """Models and the MNIST cache go to a temporary folder, never the user's."""
    folder = tmp_path / "user-data"
    monkeypatch.setenv("EXPLAINABLE_CNN_DATA", str(folder))
    return folder


@pytest.fixture(autouse=True)
def private_settings(tmp_path):
    """QSettings go to a temporary INI file, never the user's (the app uses IniFormat)."""
    from PySide6.QtCore import QSettings
    folder = tmp_path / "settings"
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    return folder


@pytest.fixture
def window(qtbot):
    """The main window with the shipped model, on the Train place, set up for a small run."""
    from gui.main_window import MainWindow
    win = MainWindow(mirrors=("http://127.0.0.1:9/",))
    qtbot.addWidget(win)   # closed (and its thread ended) after the test
    win.show()
    qtbot.waitExposed(win)
    win.tabs.setCurrentWidget(win.train_page)   # a first start opens on the canvas
    set_fields(win, train_size=256, batch_size=32, epochs=2)
    return win


def set_fields(win, **values):
    """Type values into the settings form (spin boxes take numbers, edits take text)."""
    fields = win.train_page.settings.fields
    for name, value in values.items():
        widget = fields[name]
        if hasattr(widget, "setValue"):
            widget.setValue(value)
        else:
            widget.setText(str(value))


def press(win, name):
    """Trigger a run command as its button would."""
    action = win.train_page.buttons.actions[name]
    assert action.isEnabled(), f"{name} is disabled in state {win.controller.state}"
    action.trigger()


def batch_points(win):
    """Per-batch loss points the plot holds (the full data, not the drawn subset)."""
    x, _ = win.train_page.curves.series["loss"]["batch"].item.getOriginalDataset()
    return 0 if x is None else len(x)


def epoch_points(win):
    x, _ = win.train_page.curves.series["loss"]["validation"].item.getOriginalDataset()
    return 0 if x is None else len(x)


def wait_idle(qtbot, win):
    qtbot.waitUntil(lambda: win.controller.state == "idle", timeout=WAIT_MS)


def wait_paused(qtbot, win):
    """Until the worker sleeps on the pause (so nothing more is in flight)."""
    qtbot.waitUntil(lambda: win.controller.worker_waiting, timeout=WAIT_MS)


def trainer_of(win):
    """The engine's trainer, for checks only while the worker is idle or asleep."""
    return win.controller.session.trainer


def conv1_weight(model):
    """conv1's weights of a Network or a ModelRecord, as a new array."""
    return np.array(model.state_dict()["conv1.weight"])
