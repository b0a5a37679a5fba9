"""pytest-qt fixtures for the app: offscreen, private settings, a small fast run (the
private data folder is tests/conftest.py's)."""
import os

# Before the QApplication is made: no display is needed, and none is used if present.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np
import pytest

#: Generous: the machine may be loaded; waits return as soon as the condition holds.
WAIT_MS = 90_000


@pytest.fixture(autouse=True)
def private_settings(tmp_path):
    """QSettings go to a temporary INI file, never the user's (the app uses IniFormat)."""
    from PySide6.QtCore import QSettings
    folder = tmp_path / "settings"
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    return folder


@pytest.fixture
def window(qtbot, request):
    """The main window with the shipped model, on the Train place, set up for a small run.

    A test marked ``reuse_window`` gets the module's window instead (see
    :func:`reused_window`), put back in that state.
    """
    if request.node.get_closest_marker("reuse_window"):
        return request.getfixturevalue("reused_window")
    from gui.main_window import MainWindow
    win = MainWindow(mirrors=("http://127.0.0.1:9/",))
    qtbot.addWidget(win)   # closed (and its thread ended) after the test
    win.show()
    qtbot.waitExposed(win)
    win.tabs.setCurrentWidget(win.train_page)   # a first start opens on the canvas
    set_fields(win, train_size=256, batch_size=32, epochs=2)
    return win


@pytest.fixture(scope="module")
def module_window(qapp, tmp_path_factory):
    """One main window for the tests of a module marked ``reuse_window``, built once:
    a window costs about a second of CPU to build and half a second to close."""
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest

    from gui.main_window import MainWindow
    folder = tmp_path_factory.mktemp("module-window")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXPLAINABLE_CNN_DATA", str(folder / "user-data"))
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder / "settings"))
        win = MainWindow(mirrors=("http://127.0.0.1:9/",))
        win.show()
        assert QTest.qWaitForWindowExposed(win)
        win.tabs.setCurrentWidget(win.train_page)
        set_fields(win, train_size=256, batch_size=32, epochs=2)
        form = _form_state(win)
        yield win, form
        win.close()
        win.deleteLater()


@pytest.fixture
def reused_window(module_window, qtbot):
    """The module's window as :func:`window` gives a new one: on the Train place, the
    settings form as it was set up, the canvas empty.

    Only for tests that leave no other trace (mark them ``reuse_window``): no run left
    going, the model on show kept (a refused file, say), nothing changed but the form
    and the drawing. Not for keyboard shortcuts: offscreen, a message box an earlier
    test closed can keep the focus.
    """
    win, form = module_window
    assert win.controller.state == "idle", "an earlier test left a run going"
    place = win.draw_place
    if not place.canvas.is_empty():
        place.canvas.clear()
        qtbot.waitUntil(lambda: place.controller.analysis is None, timeout=WAIT_MS)
    win.tabs.setCurrentWidget(win.train_page)
    _restore_form(win, form)
    return win


def _form_state(win):
    """The data set chosen and every settings field's value, to put back later."""
    fields = win.train_page.settings.fields
    state = {name: getattr(widget, _accessors(widget)[0])() for name, widget in fields.items()}
    return win.train_page.dataset.combo.currentIndex(), state


def _restore_form(win, form):
    dataset, state = form
    win.train_page.dataset.combo.setCurrentIndex(dataset)   # first: it sets train_size
    for name, value in state.items():
        widget = win.train_page.settings.fields[name]
        getattr(widget, _accessors(widget)[1])(value)


def _accessors(widget):
    """``(getter, setter)`` names of a settings field's value: check boxes, combo boxes,
    spin boxes, line edits (in that order, as a spin box has a text too)."""
    for getter, setter in (("isChecked", "setChecked"), ("currentIndex", "setCurrentIndex"),
                           ("value", "setValue"), ("text", "setText")):
        if hasattr(widget, getter):
            return getter, setter
    raise TypeError(f"no value accessor for {type(widget).__name__}")


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
