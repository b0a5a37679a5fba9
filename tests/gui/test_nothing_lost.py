"""Nothing lost (issue 20): names without an extension, the user's own folders, a saved
model's curves, the session kept at close, and Continue from here that says what goes."""
import numpy as np
import pytest
from PySide6.QtCore import QDir, QStandardPaths
from PySide6.QtWidgets import QFileDialog

from cnn_core.model_files import load_model
from gui.autosave import KEPT_KEY, kept_snapshots
from gui.main_window import MainWindow
from gui.save_places import with_extension

from .conftest import WAIT_MS, epoch_points, press, set_fields, trainer_of, wait_idle

CLOSED_PORT = ("http://127.0.0.1:9/",)


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    """Documents and Pictures inside the test's folder (Qt reads them from HOME and XDG)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("XDG_DOCUMENTS_DIR", "XDG_PICTURES_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


class Dialogs:
    """Stands in for the file dialogs: records where they opened and answers with a
    typed name, so the app's own saving and opening code runs."""

    def __init__(self, monkeypatch):
        self.asked, self.answer = [], None
        for name in ("getSaveFileName", "getOpenFileName"):
            monkeypatch.setattr(QFileDialog, name, staticmethod(self._ask))

    def _ask(self, parent, caption, start, file_filter):
        self.asked.append((caption, start, file_filter))
        return self.answer, file_filter

    def type(self, path):
        self.answer = str(path)
        return self


def documents():
    return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)


def lists(folder, file_filter, name):
    """Whether an Open dialog with ``file_filter`` ("Models (*.npz);;...") shows ``name``."""
    patterns = file_filter.split(";;")[0].split("(")[1].rstrip(")").split()
    return name in QDir(str(folder)).entryList(patterns, QDir.Filter.Files)


@pytest.mark.parametrize("typed, kept", [("epoch4", "epoch4.npz"), ("run.v2", "run.v2.npz"),
                                          ("a.NPZ", "a.NPZ"), ("/x/m.npz", "/x/m.npz")])
def test_a_name_gets_the_extension_it_lacks(typed, kept):
    assert with_extension(typed, ".npz") == kept


def test_a_model_saved_without_extension_lands_in_documents_and_open_lists_it(
        window, monkeypatch, private_home, tmp_path):
    dialogs = Dialogs(monkeypatch)
    assert documents().startswith(str(private_home))
    window.save_action.trigger()                    # the dialog proposes Documents
    caption, start, _ = dialogs.asked[-1]
    assert start == f"{documents()}/model.npz"
    dialogs.type(f"{documents()}/epoch4")
    window.save_action.trigger()
    saved = private_home / "Documents" / "epoch4.npz"
    assert saved.is_file() and not (private_home / "Documents" / "epoch4").exists()
    load_model(saved)
    assert str(saved) in window.statusBar().currentMessage()

    dialogs.type("")                                # File -> Open, cancelled
    window.open_action.trigger()
    _, start, file_filter = dialogs.asked[-1]
    assert start == documents() and lists(start, file_filter, "epoch4.npz")

    elsewhere = tmp_path / "class"
    elsewhere.mkdir()
    dialogs.type(elsewhere / "mine")
    window.save_model_file()
    assert (elsewhere / "mine.npz").is_file()
    window.save_model_file()                        # remembered: it opens where it was
    assert dialogs.asked[-1][1] == str(elsewhere / "model.npz")


def test_exports_without_extension_go_to_pictures_and_get_one(window, monkeypatch,
                                                             private_home, tmp_path):
    dialogs = Dialogs(monkeypatch)
    pictures = private_home / "Pictures"
    dialogs.type(pictures / "exp_current")
    assert window.exports.export_png(window.train_page.curves)
    assert dialogs.asked[-1][1] == str(pictures / "panel.png")
    assert (pictures / "exp_current.png").is_file()
    assert not (pictures / "exp_current").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    dialogs.type(mine / "curves")
    assert window.exports.export_png(window.train_page.curves)
    dialogs.type("")
    window.exports.export_png(window.train_page.curves)     # remembers the folder
    assert dialogs.asked[-1][1] == str(mine / "panel.png")


def answer_continue(qtbot, win, expected_text):
    box = win.continue_box
    assert box is not None and box.isVisible()
    assert box.text().startswith(expected_text)
    button = next(b for b in box.buttons() if b.text().startswith("Continue from epoch"))
    button.click()


def test_history_csv_a_reopened_models_curves_and_continue_from_here(window, qtbot,
                                                                    monkeypatch, tmp_path):
    set_fields(window, epochs=3)
    press(window, "start")
    wait_idle(qtbot, window)
    dialogs = Dialogs(monkeypatch)
    dialogs.type(tmp_path / "history")
    assert window.exports.export_history_csv()
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 4   # header + 3
    assert window.save_model_file(str(tmp_path / "three"))
    loss_before = window.train_page.curves.series["loss"]["validation"].item.getOriginalDataset()

    # Continue from here: the question names what goes; Cancel keeps everything.
    timeline = window.train_page.timeline
    timeline.slider.setValue(1)
    timeline.rewind_button.click()
    answer_text = "Continue from epoch 1? Epochs 2-3 (2 epochs) will be discarded"
    assert window.continue_box.text().startswith(answer_text)
    window.continue_box.button(window.continue_box.StandardButton.Cancel).click()
    assert window.controller.latest_epoch == 3 and window.controller.state == "idle"
    timeline.rewind_button.click()
    states = []
    window.controller.state_changed.connect(states.append)
    answer_continue(qtbot, window, answer_text)
    assert states[:1] == ["running"]                # it trains on at once
    wait_idle(qtbot, window)
    assert [r.epoch for r in window.controller.history] == [1, 2, 3]
    assert epoch_points(window) == 3

    # The saved model (3 epochs) reopened: its curves come back, its epoch is the timeline's.
    press(window, "reset")
    assert epoch_points(window) == 0
    assert window.open_model_file(str(tmp_path / "three.npz"))
    x, y = window.train_page.curves.series["loss"]["validation"].item.getOriginalDataset()
    np.testing.assert_array_equal(x, loss_before[0])
    np.testing.assert_allclose(y, loss_before[1])
    assert timeline.label.text().startswith("epoch 3 of 3 (live)")
    timeline.slider.setValue(1)                     # not kept in the file: stays at 3
    assert window.controller.viewed_epoch == 3
    assert window.train_page.settings.fields["epochs"].value() == 3


def test_continue_from_here_while_paused_counts_the_unfinished_epoch(window, qtbot):
    set_fields(window, epochs=3)
    press(window, "step_epoch")
    qtbot.waitUntil(lambda: window.controller.latest_epoch == 1 and window.controller.worker_waiting,
                    timeout=WAIT_MS)
    press(window, "step_batch")
    qtbot.waitUntil(lambda: window.controller.worker_waiting
                    and window.controller.session.batch == 1, timeout=WAIT_MS)
    window.train_page.timeline.slider.setValue(0)
    window.train_page.timeline.rewind_button.click()
    answer_continue(qtbot, window, "Continue from epoch 0? Epoch 1 (1 epoch) and the "
                                   "unfinished epoch of the paused run will be discarded")
    qtbot.waitUntil(lambda: window.controller.state == "running", timeout=WAIT_MS)
    wait_idle(qtbot, window)
    assert [r.epoch for r in window.controller.history] == [1, 2, 3]


def new_window(qtbot):
    win = MainWindow(mirrors=CLOSED_PORT)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_closing_while_training_keeps_the_session_and_the_next_start_continues_it(
        window, qtbot):
    set_fields(window, epochs=50)
    press(window, "start")
    qtbot.waitUntil(lambda: window.controller.latest_epoch >= 2, timeout=WAIT_MS)
    assert window.controller.state == "running"
    window.close()                                  # while training
    history = [r.epoch for r in window.controller.history]
    snapshot = {e: np.array(window.controller.snapshots[e]["conv1.weight"]) for e in (0, 1)}
    assert set(kept_snapshots()) >= {0, 1, 2}

    again = new_window(qtbot)
    offer = again.autosaver.offer
    assert offer is not None and offer.isVisible()
    assert "was closed" in offer.label.text()
    assert "Continue the previous session?" in offer.label.text()
    assert epoch_points(again) == 0
    offer.buttons["restore_autosave"].click()
    assert again.settings.value(KEPT_KEY, type=bool) is False
    assert [r.epoch for r in again.controller.history] == history
    assert epoch_points(again) == len(history)
    timeline = again.train_page.timeline
    assert timeline.slider.maximum() == history[-1]
    timeline.slider.setValue(1)
    np.testing.assert_array_equal(
        np.asarray(again.controller.current_model().state_dict()["conv1.weight"]), snapshot[1])
    again.tabs.setCurrentWidget(again.train_page)
    set_fields(again, train_size=256, batch_size=32, epochs=history[-1] + 1)
    press(again, "start")                           # trains on: the next epoch only
    wait_idle(qtbot, again)
    assert [r.epoch for r in again.controller.history] == history + [history[-1] + 1]
    assert trainer_of(again).epoch == history[-1] + 1
    np.testing.assert_array_equal(np.asarray(again.controller.snapshots[0]["conv1.weight"]),
                                  snapshot[0])
