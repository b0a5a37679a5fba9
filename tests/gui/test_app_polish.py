"""Settings, autosave, recent files, export, help and tour, driven through the real window."""
import csv
import os
import signal
import subprocess
import sys

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image
from PySide6.QtCore import QStandardPaths
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from cnn_core import paths
from cnn_core.model_files import load_model
from gui import export
from gui.app import name_app
from gui.autosave import SessionLock, autosave_path
from gui.main_window import MainWindow
from gui.settings_store import MAX_RECENT, app_settings, recent_files
from gui.style import TONES
from gui.theme import dark_palette, is_dark

from .conftest import WAIT_MS, press, set_fields, wait_idle
from .test_draw import draw_seven, open_draw_place, wait_analysed

CLOSED_PORT = ("http://127.0.0.1:9/",)


def new_window(qtbot, **kwargs):
    win = MainWindow(mirrors=CLOSED_PORT, **kwargs)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def weights(model):
    """A Network's or a ModelRecord's weights as float32 arrays."""
    return {name: np.asarray(value, np.float32) for name, value in model.state_dict().items()}


def status(win):
    return win.statusBar().currentMessage()


def test_settings_are_isolated_from_the_users(private_settings):
    assert str(private_settings) in app_settings().fileName()


def test_first_start_opens_on_the_canvas_and_later_starts_where_one_left(qtbot):
    first = new_window(qtbot)
    assert first.tabs.currentWidget() is first.draw_place
    assert first.draw_place.canvas.isVisible()
    first.tabs.setCurrentWidget(first.evaluate_place)
    first.close()
    again = new_window(qtbot)
    assert again.tabs.currentWidget() is again.evaluate_place


def test_settings_round_trip(window, qtbot):
    set_fields(window, epochs=3, batch_size=48, lr="0.02", weight_decay="0.001", seed=7)
    form = window.train_page.settings.fields
    form["augment"].setChecked(False)
    form["schedule"].setCurrentIndex(form["schedule"].count() - 1)
    schedule = form["schedule"].currentData()
    panel = window.draw_place.method_panel
    panel.method.setCurrentIndex(panel.method.findData("layercam"))
    panel.layer.setCurrentIndex(panel.layer.findData("conv2"))
    window.resize(1200, 850)
    qtbot.waitUntil(lambda: window.width() == 1200)
    geometry = window.saveGeometry()
    window.close()

    again = new_window(qtbot)
    form = again.train_page.settings.fields
    assert (form["epochs"].value(), form["batch_size"].value(), form["seed"].value()) == (3, 48, 7)
    assert (form["lr"].text(), form["weight_decay"].text()) == ("0.02", "0.001")
    assert not form["augment"].isChecked()
    assert form["schedule"].currentData() == schedule
    panel = again.draw_place.method_panel
    assert (panel.method.currentData(), panel.layer.currentData()) == ("layercam", "conv2")
    # The offscreen screen is 800 px, smaller than the window, so Qt clamps the restored
    # size: check that the geometry was stored at close and is what the new window read.
    assert app_settings().value("window/geometry") == geometry


def train_epochs(qtbot, win, epochs):
    set_fields(win, train_size=256, batch_size=32, epochs=epochs)
    press(win, "start")
    wait_idle(qtbot, win)


def test_every_epoch_is_autosaved_and_a_new_start_offers_it(window, qtbot):
    train_epochs(qtbot, window, 1)
    qtbot.waitUntil(autosave_path().is_file, timeout=WAIT_MS)
    assert "autosaved" in status(window)
    saved, _ = load_model(autosave_path())

    # The first window never closed: as after a crash, the next start offers the autosave.
    again = new_window(qtbot)
    assert again.autosaver.offer is not None and again.autosaver.offer.isVisible()
    assert not np.allclose(weights(again.controller.current_model())["conv1.weight"],
                           weights(saved)["conv1.weight"])
    again.autosaver.offer.buttons["restore_autosave"].click()
    assert not again.autosaver.offer.isVisible()
    restored = weights(again.controller.current_model())
    for name, value in weights(saved).items():
        np.testing.assert_array_equal(restored[name], value)
    assert str(autosave_path()) not in recent_files(again.settings)


def test_after_a_clean_exit_without_training_no_restore_is_offered(window, qtbot):
    window.close()      # after training, a clean close keeps the session: test_nothing_lost
    assert new_window(qtbot).autosaver.offer is None


HOLD_THE_LOCK = """
import sys, time
from PySide6.QtCore import QLockFile
lock = QLockFile(sys.argv[1])
lock.setStaleLockTime(0)
print(lock.tryLock(0), flush=True)
time.sleep(60)
"""


def test_a_second_app_on_the_same_folder_leaves_the_first_ones_autosave_alone(window, qtbot):
    """While another running app holds the data folder, an autosave newer than the last
    clean exit is that app's work, not a crash: no offer, and no clean-exit mark."""
    train_epochs(qtbot, window, 1)
    qtbot.waitUntil(autosave_path().is_file, timeout=WAIT_MS)
    lock_path = paths.user_data_dir() / "session.lock"
    first = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(lock_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "True"
        session = SessionLock()
        assert session.shared
        second = new_window(qtbot, shared_session=session.shared)
        assert second.autosaver.offer is None
        second.close()
        # The first app dies without a clean exit: its lock is stale, and the
        # next start takes it over and offers the autosave.
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert lock_path.exists()
        after_crash = SessionLock()
        assert not after_crash.shared
        assert new_window(qtbot, shared_session=after_crash.shared).autosaver.offer is not None
        after_crash.release()
    finally:
        first.kill()
        first.wait(timeout=10)


def test_an_unwritable_data_folder_is_reported_not_raised(window, qtbot, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("EXPLAINABLE_CNN_DATA", str(blocker))
    train_epochs(qtbot, window, 1)
    qtbot.waitUntil(lambda: "could not autosave" in status(window), timeout=WAIT_MS)
    assert "not-a-folder" in status(window)
    # Save model… does not need the data folder: it writes where the person chose.
    assert window.save_model_file(str(tmp_path / "kept"))
    assert load_model(tmp_path / "kept.npz")[0].num_params() > 0


def test_open_recent_lists_saved_files_and_prunes_missing_ones(window, qtbot, tmp_path):
    files = [tmp_path / f"model{i}.npz" for i in range(MAX_RECENT + 2)]
    for path in files:
        assert window.save_model_file(str(path))
    listed = recent_files(window.settings)
    assert listed == [str(p.resolve()) for p in reversed(files)][:MAX_RECENT]
    assert [a.data() for a in window.recent_menu.actions()] == listed

    files[-1].unlink()
    assert window.recent.open(str(files[-1].resolve())) is False
    assert "removed from Open recent" in window.last_message_box.text()
    window.last_message_box.close()
    assert str(files[-1].resolve()) not in recent_files(window.settings)
    assert len(window.recent_menu.actions()) == MAX_RECENT - 1
    assert window.recent.open(str(files[-2].resolve()))


def test_exports_write_valid_png_gif_and_csv(window, qtbot, tmp_path):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    wait_analysed(qtbot, place)
    place.learning.pin.click()
    window.tabs.setCurrentWidget(window.train_page)
    assert window.exports.export_kernels_gif(str(tmp_path / "early.gif")) is False  # no epoch yet
    train_epochs(qtbot, window, 2)

    png = tmp_path / "curves.png"
    assert window.exports.export_png(window.train_page.curves, str(png))
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 10
    for name, command in (("kernels.gif", window.exports.export_kernels_gif),
                          ("gradcam.gif", window.exports.export_gradcam_gif)):
        assert command(str(tmp_path / name)), status(window)
        with Image.open(tmp_path / name) as image:
            assert image.format == "GIF" and image.n_frames == 3   # epochs 0, 1, 2
    assert window.exports.export_history_csv(str(tmp_path / "history.csv"))
    with open(tmp_path / "history.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == export.HISTORY_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == [1, 2]
    assert all(float(value) >= 0 for row in rows[1:] for value in row)


def test_gif_frames_carry_a_colour_bar_of_their_map(qapp, tmp_path):
    """Under each animated heat map and kernel grid: its colour map from end to end."""
    from gui.images import HEAT_COLOUR_MAP, lookup_table
    from gui.style import KERNEL_COLOUR_MAP

    def frame(name):
        with Image.open(tmp_path / name) as image:
            return np.asarray(image.convert("RGB")).astype(int)

    def close(pixels, colours, tolerance=40):     # GIF palettes round colours a little
        return np.abs(np.asarray(pixels) - np.asarray(colours)).max() <= tolerance

    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 12:16] = 1.0
    heat = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    export.gradcam_gif(digit, [(1, heat, 1, 0.9), (2, heat, 1, 0.95)], tmp_path / "g.gif")
    pixels = frame("g.gif")
    bar_row = export.CAPTION_HEIGHT + 28 * 8 + export.BAR_HEIGHT // 2   # caption, map, bar
    table = lookup_table(HEAT_COLOUR_MAP)[np.linspace(0, 255, pixels.shape[1]).astype(int)]
    assert close(pixels[bar_row], table)

    network = load_model(paths.SHIPPED_MODEL)[0]
    export.kernels_gif({0: network.state_dict()}, network.conv_layer_names(), tmp_path / "k.gif")
    pixels = frame("k.gif")
    # The tallest grid (conv4, on the right) ends its frame: caption, grid, bar, labels.
    bar_row = pixels.shape[0] - export.CAPTION_HEIGHT - export.BAR_HEIGHT // 2
    table = lookup_table(KERNEL_COLOUR_MAP).astype(int)
    row = pixels[bar_row]
    assert close(row[-1], table[-1])
    for end in (table[0], table[128]):
        assert any(close(pixel, end) for pixel in row), end


@pytest.mark.reuse_window
def test_help_explains_the_ideas_and_credits_mnist(window):
    window.show_how_it_works()
    tabs = window.how_it_works.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == [
        "Convolution", "ReLU", "Pooling", "Softmax", "Cross-entropy", "Backpropagation",
        "Grad-CAM"]
    window.how_it_works.close()
    window.show_about()
    text = window.about_box.text()
    assert all(name in text for name in ("Yann LeCun", "Corinna Cortes",
                                         "Christopher J. C. Burges", "pyqtgraph"))
    window.about_box.close()


def test_the_tour_shows_once_and_never_in_tests_unless_asked(window, qtbot):
    assert window.tour is None
    first = new_window(qtbot, show_tour=True)
    assert first.tour is not None and first.tour.isVisible()
    first.tour.buttons["tour_done"].click()
    assert not first.tour.isVisible()
    assert new_window(qtbot, show_tour=True).tour is None


def test_theme_follows_the_system_unless_chosen(window, qtbot):
    from PySide6.QtCore import Qt

    from gui.theme import wants_dark
    dark, light = Qt.ColorScheme.Dark, Qt.ColorScheme.Light
    assert wants_dark("system", dark) and not wants_dark("system", light)
    assert wants_dark("dark", light) and not wants_dark("light", dark)
    assert window.theme.choice == "system" and window.theme.actions["system"].isChecked()
    window.theme.actions["light"].trigger()
    window.close()
    assert app_settings().value("view/theme") == "light"


def plot_look(window):
    """What the person sees of the theme in a plot: background, axis text and title colours."""
    plot = window.train_page.curves.loss_plot
    title = plot.titleLabel.item.toHtml()
    colour_bar = window.train_page.kernels.colour_bar
    return {"background": plot.getViewWidget().backgroundBrush().color().lightness(),
            "axis": plot.getAxis("left").textPen().color().lightness(),
            "bar axis": colour_bar.getAxis("right").textPen().color().lightness(),
            "title": QColor(title[title.rindex("color:") + 6:].split(";")[0]).lightness()}


@pytest.fixture
def themed_window(window):
    """The window, its theme put back to the system's after the test (the app is shared)."""
    yield window
    window.theme.actions["system"].trigger()


def test_a_theme_applies_at_once_to_plots_labels_and_banners(themed_window, qtbot):
    window = themed_window
    light = plot_look(window)
    assert light["background"] > 200 and light["axis"] < 60 and light["title"] < 60
    window.theme.actions["dark"].trigger()
    assert is_dark() and "restart" not in status(window)
    dark = plot_look(window)
    assert dark["background"] < 60
    assert min(dark["axis"], dark["bar axis"], dark["title"]) > 200
    assert window.train_page.banner.styleSheet() == TONES["warning"][1]
    settings = window.train_page.settings
    settings.show_error("learning rate must be positive")
    assert settings.error.styleSheet() == TONES["error"][1]
    muted = window.evaluate_place.status     # its palette follows with the next events
    qtbot.waitUntil(lambda: muted.palette().color(muted.foregroundRole()).lightness() > 128)
    assert pg.PlotWidget().backgroundBrush().color().lightness() < 60   # and plots made later
    window.theme.actions["light"].trigger()
    assert not is_dark() and plot_look(window) == light
    assert window.train_page.banner.styleSheet() == TONES["warning"][0]
    assert settings.error.styleSheet() == TONES["error"][0]


def test_the_plots_follow_the_system_when_it_turns_dark(themed_window, qtbot):
    app = QApplication.instance()
    app.setPalette(dark_palette())          # as the platform does when the system turns dark
    try:
        qtbot.waitUntil(lambda: plot_look(themed_window)["background"] < 60)
    finally:
        app.setPalette(QPalette())
    qtbot.waitUntil(lambda: plot_look(themed_window)["background"] > 200)


@pytest.fixture
def named_app(qapp, monkeypatch, tmp_path):
    """The app named as ``run_app`` names it, with a private XDG data home; undone after."""
    monkeypatch.delenv("EXPLAINABLE_CNN_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    names = (qapp.organizationName(), qapp.applicationName(), qapp.applicationDisplayName())
    yield qapp
    QStandardPaths.setTestModeEnabled(False)
    paths.set_user_data_dir(None)
    qapp.setOrganizationName(names[0])
    qapp.setApplicationName(names[1])
    qapp.setApplicationDisplayName(names[2])


def test_the_app_keeps_its_data_where_qt_says(named_app, qtbot, tmp_path):
    # Qt's test mode moves its locations away from where the engine would look by itself,
    # so only a folder handed over from Qt can pass.
    QStandardPaths.setTestModeEnabled(True)
    folder = name_app(named_app)
    assert folder == Path(QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppDataLocation))
    assert folder.name == "explainable-cnn"
    assert folder != tmp_path / "xdg-data" / "explainable-cnn"     # not the engine's own guess
    assert paths.mnist_cache_dir() == folder / "mnist"
    assert autosave_path() == folder / "autosave.npz"


def test_qt_and_the_command_line_agree_on_the_data_folder(named_app, tmp_path):
    cli_folder = paths.user_data_dir()          # worked out by hand, as the command line does
    assert name_app(named_app) == cli_folder == tmp_path / "xdg-data" / "explainable-cnn"


def test_explainable_cnn_data_still_wins_in_the_app(named_app, monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLAINABLE_CNN_DATA", str(tmp_path / "mine"))
    assert name_app(named_app) == tmp_path / "mine"
