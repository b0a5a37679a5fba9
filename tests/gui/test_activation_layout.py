"""The activation mosaics read in network order and mark the clicked channel."""
import numpy as np
import pytest

from .test_draw import draw_seven, open_draw_place, wait_analysed


@pytest.mark.reuse_window
def test_activations_read_in_network_order_left_to_right(window, qtbot):
    place = open_draw_place(window, qtbot)
    grids = place.activations
    names = [name for name, _ in grids.layers]
    corners = {name: grids.images[name].getViewBox().sceneBoundingRect().topLeft()
               for name in names}
    # Read as text is: by row from the top, and within a row from the left.
    reading = sorted(names, key=lambda name: (round(corners[name].y()), corners[name].x()))
    assert reading == names
    first, second = corners[names[0]], corners[names[1]]
    assert round(first.y()) == round(second.y()) and first.x() < second.x()
    widths = {round(grids.images[n].getViewBox().width()) for n in names}
    assert len(widths) == 1, widths             # both columns of mosaics equally wide


def test_the_clicked_channel_is_outlined(window, qtbot):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    analysis = wait_analysed(qtbot, place)
    grids = place.activations
    assert not any(outline.isVisible() for outline in grids.outlines.values())
    tile = 15                                   # 14 pixels and a one-pixel gap
    grids.images["relu4"].clicked.emit(3 * tile + 2.0, 2 * tile + 2.0)
    channel = grids.enlarged[1]
    visible = [name for name, outline in grids.outlines.items() if outline.isVisible()]
    assert visible == ["relu4"]
    # What the outline frames is the enlarged channel's map, pixel for pixel.
    rect = grids.outlines["relu4"].rect()
    left, top = int(rect.left() + 0.5), int(rect.top() + 0.5)
    framed = grids.images["relu4"].image[top:top + 14, left:left + 14]
    np.testing.assert_array_equal(framed, analysis.activations["relu4"][channel])
    assert rect.width() == rect.height() == 15
    grids.images["relu1"].clicked.emit(2.0, 2.0)
    visible = [name for name, outline in grids.outlines.items() if outline.isVisible()]
    assert visible == ["relu1"]
