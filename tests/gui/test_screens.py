"""Classroom screens: the window fits 1024×640, nothing is cut at 1024×640, 1280×720 and
1366×768, the main map keeps 200 px, and presentation mode enlarges and restores.

One window for the module (``module_window``), resized between tests.
"""
import os
import re
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (QAbstractButton, QApplication, QCheckBox, QComboBox, QLabel,
                               QRadioButton, QTabBar, QWidget)

from gui.draw.inputs import validation_example

from .conftest import WAIT_MS
from .test_draw import wait_analysed

SMALLEST = (1024, 640)
SCREENS = [SMALLEST, (1280, 720), (1366, 768)]
MAP_MINIMUM = 200
#: Room a check box or radio button needs beside its text (the indicator and its gap).
INDICATOR = 18


def settle(qtbot):
    """Let layouts, splitters and plots (which size themselves when painted) settle."""
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(20)


def show_at(win, qtbot, size, place=None):
    """The window at ``size`` (width, height), on ``place`` when given."""
    if place is not None:
        win.tabs.setCurrentWidget(place)
    win.resize(*size)
    settle(qtbot)
    assert (win.width(), win.height()) == size, "the window refused the size"


def text_width(widget, text):
    """Pixels ``text`` needs in ``widget``'s font; rich text as laid out, mnemonics dropped."""
    if (isinstance(widget, QLabel) and widget.textFormat() != Qt.TextFormat.PlainText
            and "<" in text):
        document = QTextDocument()
        document.setDefaultFont(widget.font())
        document.setDocumentMargin(0)
        document.setHtml(text)
        return document.idealWidth()
    return widget.fontMetrics().horizontalAdvance(re.sub(r"&(.)", r"\1", text))


def clipped(root):
    """Every visible widget under ``root`` whose text does not fit it, as readable lines."""
    found = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or widget.width() <= 0:
            continue
        if isinstance(widget, QAbstractButton) and widget.text():
            room = widget.width() - (INDICATOR if isinstance(widget, (QCheckBox, QRadioButton))
                                     else 0)
            need = text_width(widget, widget.text())
        elif isinstance(widget, QComboBox):
            room, need = widget.width() - 20, text_width(widget, widget.currentText())
        elif isinstance(widget, QLabel) and widget.text() and widget.pixmap().isNull():
            if widget.wordWrap():
                # A wrapped label is cut when it is shorter than its text needs.
                room, need = widget.height(), widget.heightForWidth(widget.width())
            else:
                room, need = widget.width(), text_width(widget, widget.text())
        elif isinstance(widget, QTabBar):
            found += clipped_tabs(widget)
            continue
        else:
            continue
        if need > room + 1:
            text = widget.currentText() if isinstance(widget, QComboBox) else widget.text()
            found.append(f"{type(widget).__name__} {text[:50]!r} needs {need:.0f}, has {room}")
    return found


def clipped_tabs(bar):
    """Tabs of ``bar`` whose name is cut, or that lie (partly) outside the bar."""
    found = []
    for index in range(bar.count()):
        if not bar.isTabVisible(index):
            continue
        rect, text = bar.tabRect(index), bar.tabText(index)
        if text_width(bar, text) > rect.width() or not bar.rect().contains(rect):
            found.append(f"tab {text!r} cut: {rect} in a bar of {bar.rect()}")
    return found


def views_of(win):
    """``(name, show)`` for every place and every tab of its views widget."""
    shows = []
    for place in (win.train_page, win.draw_place, win.evaluate_place):
        views = getattr(place, "views", None)
        for index in range(views.count() if views else 1):
            def show(place=place, views=views, index=index):
                win.tabs.setCurrentWidget(place)
                if views:
                    views.setCurrentIndex(index)
            name = type(place).__name__ + (f"/{views.tabText(index)}" if views else "")
            shows.append((name, show))
    return shows


def map_side(place):
    """The main explanation map's shorter side on screen, in pixels."""
    rect = place.method_panel.map.sceneBoundingRect()
    return min(rect.width(), rect.height())


@pytest.fixture
def win(module_window, qtbot):
    """The module's window, back at 1280×720 on the Train place afterwards."""
    window, _ = module_window
    yield window
    window.presentation.set_on(False)
    window.draw_place.views.setCurrentIndex(0)
    show_at(window, qtbot, (1280, 720), window.train_page)


def test_clipped_finds_a_cut_button_and_tab(qtbot):
    """The helper itself can fail: a button and a tab too narrow for their text."""
    from PySide6.QtWidgets import QPushButton, QTabWidget, QVBoxLayout
    root = QWidget()
    qtbot.addWidget(root)
    button = QPushButton("A rather long button text")
    tabs = QTabWidget()
    tabs.addTab(QWidget(), "A rather long tab name")
    tabs.addTab(QWidget(), "And another long tab name")
    layout = QVBoxLayout(root)
    layout.addWidget(button)
    layout.addWidget(tabs)
    root.show()
    button.setFixedWidth(40)
    tabs.setFixedWidth(120)
    settle(qtbot)
    found = clipped(root)
    assert any("QPushButton" in line for line in found)
    assert any("tab " in line for line in found)


@pytest.mark.parametrize("place_name", ["train_page", "draw_place", "evaluate_place"])
def test_the_window_fits_a_1024_by_640_screen(win, qtbot, place_name):
    win.tabs.setCurrentWidget(getattr(win, place_name))
    settle(qtbot)
    hint, minimum = win.minimumSizeHint(), win.minimumSize()
    assert max(hint.width(), minimum.width()) <= SMALLEST[0]
    assert max(hint.height(), minimum.height()) <= SMALLEST[1]


@pytest.mark.parametrize("size", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_nothing_is_cut_in_any_place_or_view(win, qtbot, size):
    win.resize(*size)
    problems = []
    for name, show in views_of(win):
        show()
        settle(qtbot)
        problems += [f"{name}: {line}" for line in clipped(win)]
    assert problems == []


def test_room_is_left_for_the_other_helpers_tabs(win, qtbot):
    """Views added by other parts of the app (a step, a landscape, the backward pass)
    still fit at 1024×640: every tab name whole and in the bar."""
    added = [(win.train_page.views, "One training step"), (win.train_page.views, "Landscape"),
             (win.draw_place.views, "Backward pass")]
    pages = [(views, views.addTab(QLabel("placeholder"), name)) for views, name in added]
    try:
        for views, index in pages:
            show_at(win, qtbot, SMALLEST, views.parentWidget())
            views.setCurrentIndex(index)
            settle(qtbot)
            assert clipped_tabs(views.tabBar()) == []
            assert win.minimumSizeHint().width() <= SMALLEST[0]
    finally:
        for views, index in reversed(pages):
            page = views.widget(index)
            views.removeTab(index)
            page.deleteLater()


@pytest.mark.parametrize("size", [SMALLEST, (1280, 720)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_main_map_keeps_200_pixels_with_a_validation_image(win, qtbot, size):
    place = win.draw_place
    show_at(win, qtbot, size, place)
    place.show_validation_image(5)
    label = validation_example(5)[1]
    wait_analysed(qtbot, place, lambda a: place.controller.label == label)
    qtbot.waitUntil(place.method_panel.pair.isVisible, timeout=WAIT_MS)
    settle(qtbot)
    assert map_side(place) >= MAP_MINIMUM
    assert clipped(place) == []


def test_the_main_map_keeps_200_pixels_after_clicking_a_mistake(win, qtbot):
    evaluate, place = win.evaluate_place, win.draw_place
    show_at(win, qtbot, SMALLEST, evaluate)
    qtbot.waitUntil(lambda: evaluate.evaluation is not None and bool(evaluate.gallery.indices()),
                    timeout=WAIT_MS)
    index = evaluate.gallery.indices()[0]       # the most confident mistake
    evaluate.gallery.list.itemClicked.emit(evaluate.gallery.list.item(0))
    assert win.tabs.currentWidget() is place
    label = int(evaluate.labels[index])
    wait_analysed(qtbot, place, lambda a: place.controller.label == label)
    qtbot.waitUntil(place.method_panel.pair.isVisible, timeout=WAIT_MS)
    settle(qtbot)
    assert map_side(place) >= MAP_MINIMUM


def layout_state(win):
    """What presentation mode changes and must put back."""
    place, app = win.draw_place, QApplication.instance()
    return {"font": app.font().pointSizeF(), "answer": place.answer_font().pointSizeF(),
            "split": place.split.sizes(), "place": win.tabs.currentIndex(),
            "view": place.views.currentIndex(),
            "canvas": place.canvas.maximumHeight(),
            "shown": [not w.isHidden() for w in (place.teach_box, place.strip_tabs,
                                                  place.views.tabBar())],
            "tabs": [place.views.isTabVisible(i) for i in range(place.views.count())]}


def test_presentation_mode_enlarges_and_restores(win, qtbot):
    place = win.draw_place
    show_at(win, qtbot, (1280, 720), place)
    place.show_validation_image(7)
    wait_analysed(qtbot, place)
    settle(qtbot)
    map_before, canvas_before = map_side(place), place.canvas.height()
    explain_before = place.explain.sizes()      # measured on show: hidden ones are stale
    place.views.setCurrentWidget(place.activations)
    win.tabs.setCurrentWidget(win.evaluate_place)
    settle(qtbot)
    before = layout_state(win)

    win.presentation.action.trigger()       # as the View menu and F5 do
    settle(qtbot)
    assert win.tabs.currentWidget() is place and place.views.currentWidget() is place.explain
    assert QApplication.instance().font().pointSizeF() == pytest.approx(before["font"] * 1.4)
    # Still fits a 1024-pixel projector (the other places in large type would not).
    assert win.minimumSizeHint().width() <= 1024, [
        (type(w).__name__, w.minimumSizeHint().toTuple(), w.sizePolicy().horizontalPolicy())
        for w in [place.explain, place.prediction, place.method_panel] +
        [place.views.widget(i) for i in range(place.views.count())]]
    assert place.answer_font().pointSizeF() > 1.5 * before["answer"]
    assert not place.teach_box.isVisible() and not place.strip_tabs.isVisible()
    assert not place.views.tabBar().isVisible()
    assert place.canvas.height() > 1.1 * canvas_before
    assert map_side(place) > 1.2 * map_before
    assert clipped(place) == []

    win.presentation.action.trigger()
    settle(qtbot)
    assert layout_state(win) == before
    win.tabs.setCurrentWidget(place)
    place.views.setCurrentWidget(place.explain)
    settle(qtbot)
    assert place.explain.sizes() == explain_before


def test_presentation_has_a_menu_item_and_a_free_shortcut(win):
    action = win.presentation.action
    view_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&View")
    assert action in view_menu.actions()
    others = [a.shortcut() for a in win.findChildren(type(action))
              if a is not action and not a.shortcut().isEmpty()]
    assert not action.shortcut().isEmpty() and action.shortcut() not in others


@pytest.mark.slow
def test_a_1920_by_1080_screen_at_150_percent(tmp_path):
    """At 150 % a 1920×1080 screen has 1280×720 points: this module's size checks, run
    again in an app scaled by 1.5 (the scale is fixed when the app starts)."""
    env = dict(os.environ, QT_SCALE_FACTOR="1.5")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-n", "0", "-m", "not slow", "-k", "fits or nothing_is_cut", __file__],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "deselected" in run.stdout
