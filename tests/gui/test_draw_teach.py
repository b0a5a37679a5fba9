"""Teach it: labelled drawings kept in the user's data folder, and trained on."""
import numpy as np
from PySide6.QtWidgets import QMessageBox

from gui.draw.personal_set import PersonalSet, drawings_dir

from .conftest import WAIT_MS, press, trainer_of, wait_paused
from .test_draw import draw_seven, open_draw_place, wait_analysed


def teach(place, qtbot, label):
    """Label the drawing on the canvas and add it."""
    wait_analysed(qtbot, place)
    place.teach.label.setCurrentIndex(label)
    place.teach.add.click()


def test_teach_adds_a_labelled_drawing_that_survives_a_restart(window, qtbot):
    from gui.main_window import MainWindow
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    teach(place, qtbot, 7)
    assert place.teach.count.text() == "1 drawing in your set"
    digit = place.controller.digit
    window.close()
    again = MainWindow(mirrors=("http://127.0.0.1:9/",))
    qtbot.addWidget(again)
    assert again.draw_place.teach.count.text() == "1 drawing in your set"
    personal = again.draw_place.personal
    assert personal.labels.tolist() == [7]
    np.testing.assert_allclose(personal.images[0] / 255.0, digit, atol=1 / 255)
    assert (drawings_dir() / "drawings.npz").is_file()


def test_view_and_clear_the_personal_set(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    teach(place, qtbot, 7)
    teach(place, qtbot, 1)
    dialog = place.view_personal_set()
    assert dialog.list.count() == 2
    assert [dialog.list.item(i).text() for i in range(2)] == ["7", "1"]
    dialog.close()
    box = place.confirm_clear_personal_set()
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert len(place.personal) == 2
    box = place.confirm_clear_personal_set()
    box.button(QMessageBox.StandardButton.Yes).click()
    assert len(place.personal) == 0 and len(PersonalSet()) == 0
    assert place.teach.count.text() == "0 drawings in your set"


def test_the_personal_set_can_be_included_in_training(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    teach(place, qtbot, 7)
    place.teach.include.setChecked(True)
    press(window, "step_batch")
    wait_paused(qtbot, window)
    trainer = trainer_of(window)
    assert len(trainer.train_labels) == 256 + 1 and trainer.train_labels[-1] == 7
    np.testing.assert_allclose(trainer.train_images[-1, 0], place.personal.images[0] / 255.0)
    qtbot.waitUntil(lambda: not place.teach.include.isEnabled(), timeout=WAIT_MS)
    press(window, "stop")
