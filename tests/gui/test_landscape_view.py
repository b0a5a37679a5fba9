"""The Weight path tab: the path one point per epoch, clicks to the timeline, the frozen
plane, following new epochs, cancelling, the CSV export and the empty state.

The snapshots come from a tiny real run made with cnn_core (four epochs on 128
sample images); the grids are small so each picture is back within seconds.
"""
import csv
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt

from cnn_core.data import Split, load_sample
from cnn_core.landscape import Grid
from cnn_core.network import Network
from cnn_core.session import TrainingSession
from cnn_core.trainer import TrainConfig
from gui import export
from gui.exports_menu import ExportCommands
from gui.train.landscape_jobs import PCA, Request, compute
from gui.train.landscape_plot import labelled
from gui.train.landscape_view import LandscapeView

WAIT_MS = 90_000
SIZES = (2, 3)
IMAGES = 16
LINE_POINTS = 3
EPOCHS = 4


@pytest.fixture(scope="module")
def run():
    """``(snapshots dict epoch -> state_dict, ModelRecord of the last epoch)`` of a tiny run."""
    train, val = load_sample()
    data = (Split(train.images[:128], train.labels[:128], "train"),
            Split(val.images[:64], val.labels[:64], "validation"))
    session = TrainingSession(Network(seed=0), "random weights (seed 0)",
                              load_data=lambda name: data, workers=1)
    session.run(TrainConfig(epochs=EPOCHS, batch_size=32, train_size=128, augment=False,
                            schedule="constant", lr=0.05))
    snapshots = {epoch: session.snapshots[epoch] for epoch in session.snapshots}
    return snapshots, session.epoch_record(EPOCHS)


def make_view(qtbot, snapshots, model, shown=True):
    view = LandscapeView(sizes=SIZES, images=IMAGES, line_points=LINE_POINTS)
    # Its thread must end before the widget goes (the window's close does this).
    qtbot.addWidget(view, before_close_func=lambda v: v.shutdown())
    view.resize(900, 700)
    view.show_model(model)
    if shown:
        view.show()
        qtbot.waitExposed(view)
    view.start_session(snapshots)
    return view


def wait_done(qtbot, view):
    """Until the picture under way is complete (its finest grid is on show)."""
    qtbot.waitUntil(lambda: not view.busy and view.grid is not None, timeout=WAIT_MS)
    assert len(view.grid.xs) == SIZES[-1]


def shown_points(view):
    """``(epochs, (E, 2) positions)`` of the path's points as the scatter item holds them."""
    spots = view.landscape.points.points()
    return ([int(spot.data()) for spot in spots],
            np.array([[spot.pos().x(), spot.pos().y()] for spot in spots]).reshape(-1, 2))


def test_the_path_has_one_labelled_point_per_epoch(qtbot, run):
    snapshots, model = run
    view = make_view(qtbot, snapshots, model)
    wait_done(qtbot, view)
    epochs, positions = shown_points(view)
    assert epochs == list(range(EPOCHS + 1))
    assert [label.textItem.toPlainText() for label in view.landscape.labels] == \
        [str(e) for e in range(EPOCHS + 1)]
    # Where each point is drawn is the snapshot's projection on the plane.
    expected = [view.path.plane.project(snapshots[e]) for e in epochs]
    np.testing.assert_allclose(positions, expected)
    bottom = view.landscape.plot.getAxis("bottom").labelText
    assert bottom.startswith("PC1: ") and "% of the path's variance" in bottom
    # The landscape and the straight line are drawn too.
    assert view.landscape.image.image.shape == (SIZES[-1], SIZES[-1])
    shown = view.line.curves["val_loss"].getOriginalDataset()
    np.testing.assert_array_equal(shown[0], [-0.25, 0.5, 1.25])
    np.testing.assert_array_equal(shown[1], view.line_picture.val_loss)


def test_crowded_points_leave_the_label_to_the_later_epoch():
    points = np.array([[-10.0, 0.0], [-5.0, 1.0], [0.1, 0.05], [0.0, 0.0]])
    assert labelled(points) == [0, 1, 3]            # epoch 2 is 0.11 from the model
    assert labelled(points[:2]) == [0, 1]
    assert labelled(np.zeros((1, 2))) == [0]


def test_clicking_a_point_selects_its_epoch(qtbot, run):
    snapshots, model = run
    view = make_view(qtbot, snapshots, model)
    wait_done(qtbot, view)
    x, y = view.path.points[2]
    plot = view.landscape
    where = plot.mapFromScene(plot.plot.vb.mapViewToScene(QPointF(x, y)))
    with qtbot.waitSignal(view.epoch_selected, timeout=WAIT_MS) as selected:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert selected.args == [2]
    view.set_position(2, EPOCHS)
    sizes = [spot.size() for spot in view.landscape.points.points()]
    assert sizes[2] > max(sizes[:2] + sizes[3:])


def test_the_view_follows_new_epochs(qtbot, run):
    snapshots, model = run
    growing = {e: snapshots[e] for e in range(3)}
    view = make_view(qtbot, growing, model)
    wait_done(qtbot, view)
    assert shown_points(view)[0] == [0, 1, 2]
    growing[3] = snapshots[3]
    view.add_epoch(None)
    qtbot.waitUntil(lambda: shown_points(view)[0] == [0, 1, 2, 3], timeout=WAIT_MS)


@pytest.mark.parametrize("frozen", [True, False])
def test_freeze_keeps_the_plane(qtbot, run, frozen):
    snapshots, model = run
    growing = {e: snapshots[e] for e in range(3)}
    view = make_view(qtbot, growing, model)
    wait_done(qtbot, view)
    first = view.path.plane
    view.freeze.setChecked(frozen)
    growing[3], growing[4] = snapshots[3], snapshots[4]
    view.add_epoch(None)
    qtbot.waitUntil(lambda: len(view.path.epochs) == 5, timeout=WAIT_MS)
    same = np.allclose(view.path.plane.directions, first.directions)
    assert same == frozen
    if frozen:
        # The old points stay where they were.
        np.testing.assert_allclose(view.path.points[:3], [first.project(growing[e])
                                                          for e in range(3)])


def test_a_frozen_random_slice_shows_where_the_next_model_is(qtbot, run):
    snapshots, model = run
    view = make_view(qtbot, snapshots, model)
    view.mode.setCurrentIndex(1)
    wait_done(qtbot, view)
    view.freeze.setChecked(True)
    plane = view.path.plane
    earlier = type(model).of(model.architecture, snapshots[2], "epoch 2")
    view.show_model(earlier)
    wait_done(qtbot, view)
    assert view.path.plane is plane
    centre = view.landscape.centre.points()[0].pos()
    np.testing.assert_allclose([centre.x(), centre.y()], plane.project(snapshots[2]))
    # Near the origin (random directions are all but orthogonal to any path), not on it.
    assert (centre.x(), centre.y()) != (0.0, 0.0)


def test_fewer_than_three_snapshots_say_what_is_needed(qtbot, run):
    snapshots, model = run
    view = make_view(qtbot, {0: snapshots[0], 1: snapshots[1]}, model)
    assert view.message.isVisible() and not view.pictures.isVisible()
    assert "after 2 epochs" in view.message.text() and "1 more epoch" in view.message.text()
    assert not view.busy
    # The random slice needs only the model on show.
    view.mode.setCurrentIndex(1)
    assert not view.message.isVisible() and view.pictures.isVisible()
    wait_done(qtbot, view)
    assert view.landscape.centre.points()[0].pos() == QPointF(0, 0)
    assert view.path.plane.explained is None
    assert "random direction 1" in view.landscape.plot.getAxis("bottom").labelText


def test_a_hidden_view_waits_until_shown(qtbot, run):
    snapshots, model = run
    view = make_view(qtbot, snapshots, model, shown=False)
    assert not view.busy and view.path is None
    view.show()
    wait_done(qtbot, view)
    assert shown_points(view)[0] == list(range(EPOCHS + 1))


def test_a_new_session_cancels_the_picture_under_way(qtbot, run):
    snapshots, model = run
    view = make_view(qtbot, snapshots, model)
    view.sizes = (2, 9, 61)         # long enough to be cancelled while it runs
    view.refresh()
    cancel = view._cancel
    qtbot.waitUntil(lambda: view.grid is not None, timeout=WAIT_MS)
    view.start_session({0: snapshots[0]})
    assert cancel.is_set()
    assert view.grid is None and view.message.isVisible()
    # Nothing of the old picture comes back, and closing leaves no thread running.
    view.shutdown()
    assert view._runner._thread.isFinished()
    qtbot.wait(50)
    assert view.grid is None and view.path is None


@pytest.mark.parametrize("cancel_at, expected", [
    (None, ["PathPicture", "Grid 2", "LinePicture", "Grid 3", "Grid 4"]),
    (2, ["PathPicture", "Grid 2"]),                         # the line stops too
    (3, ["PathPicture", "Grid 2", "LinePicture", "Grid 3"])])
def test_the_worker_hands_over_coarse_first_and_stops_when_cancelled(run, cancel_at,
                                                                     expected):
    snapshots, model = run
    cancel, pieces = threading.Event(), []

    def hand_over(piece):
        is_grid = isinstance(piece, Grid)
        pieces.append(type(piece).__name__ + (f" {len(piece.xs)}" if is_grid else ""))
        if is_grid and len(piece.xs) == cancel_at:
            cancel.set()
    compute(Request(PCA, model.layer_specs(), snapshots, model.state_dict(), None, "sample",
                    sizes=(2, 3, 4), images=IMAGES, line_points=LINE_POINTS), hand_over, cancel)
    assert pieces == expected


def settings_at(folder):
    """Settings of the exports' folders, in a file of the test's own."""
    return QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)


def test_the_csv_export_holds_the_grid(qtbot, run, tmp_path):
    snapshots, model = run
    view = make_view(qtbot, snapshots, model)
    wait_done(qtbot, view)
    commands = ExportCommands(view, None, None, lambda *_: None, lambda *_: None,
                              settings_at(tmp_path), landscape=lambda: view.grid)
    path = tmp_path / "landscape.csv"
    assert commands.export_landscape_csv(str(path))
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == export.LANDSCAPE_COLUMNS
    grid = view.grid
    table = np.array(rows[1:], dtype=float)
    assert table.shape == (grid.loss.size, 4)
    np.testing.assert_array_equal(table[:, 2].reshape(grid.loss.shape), grid.loss)
    np.testing.assert_array_equal(table[:, 0].reshape(grid.loss.shape)[0], grid.xs)
    np.testing.assert_array_equal(table[:, 1].reshape(grid.loss.shape)[:, 0], grid.ys)


def test_nothing_to_export_before_a_landscape(tmp_path):
    said = []
    commands = ExportCommands(None, None, None, lambda text, _ms: said.append(text),
                              lambda *_: None, settings_at(tmp_path), landscape=lambda: None)
    assert not commands.export_landscape_csv(str(tmp_path / "x.csv"))
    assert said and said[0].startswith("Nothing to export")
    assert not (tmp_path / "x.csv").exists()


def test_the_window_has_the_tab_and_its_random_slice_works_with_the_shipped_model(
        window, qtbot, tmp_path):
    page = window.train_page
    view = page.landscape
    view.sizes, view.images, view.line_points = SIZES, IMAGES, LINE_POINTS
    assert page.views.tabText(page.views.indexOf(view)) == "Weight path"
    assert not view.busy                    # hidden: nothing is computed
    page.views.setCurrentWidget(view)
    # The shipped model has no path yet: the tab says what is needed.
    assert view.message.isVisible() and "after 2 epochs" in view.message.text()
    view.mode.setCurrentIndex(1)
    wait_done(qtbot, view)
    assert view.path.plane.kind == "random"
    np.testing.assert_allclose(view.path.plane.origin,
                               [v for w in window.controller.current_model().weights.values()
                                for v in np.ravel(w)])
    assert window.exports.export_landscape_csv(str(tmp_path / "landscape.csv"))
    # Hidden again (another tab): a new picture waits until the tab is back.
    page.views.setCurrentIndex(0)
    view.refresh()
    assert not view.busy
