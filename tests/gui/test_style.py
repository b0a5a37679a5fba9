"""Small helpers that keep plots from relaying out on every update."""
import math

import pyqtgraph as pg
import pytest

from gui.style import decade_range, nice_top, set_bar_levels


@pytest.mark.parametrize("value, top", [(0.3, 0.5), (1.0, 1.0), (1.01, 2.0), (2.5, 5.0), (7, 10.0),
                                        (10.0, 10.0), (123, 200.0), (2e-7, 2e-7), (0.0, 1.0), (-3, 1.0),
                                        (math.nan, 1.0), (math.inf, 1.0)])
def test_nice_top_rounds_up_to_one_two_five(value, top):
    assert nice_top(value) == pytest.approx(top)


def test_nice_top_is_stable_while_a_maximum_wanders():
    assert {nice_top(v) for v in (2.1, 2.7, 3.3, 4.0, 4.99)} == {5.0}


def test_set_bar_levels_touches_the_bar_only_on_a_change(qapp):
    bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"))
    calls = []
    real = bar.setLevels
    bar.setLevels = lambda levels: (calls.append(levels), real(levels))
    set_bar_levels(bar, (0.0, 1.0))
    set_bar_levels(bar, (0.0, 5.0))
    set_bar_levels(bar, (0.0, 5.0))
    assert calls == [(0.0, 5.0)]
    assert tuple(bar.levels()) == (0.0, 5.0)


def test_decade_range_spans_whole_decades():
    assert decade_range([0.02, 3.0]) == (-2.0, 1.0)
    assert decade_range([0.5]) == (-1.0, 1.0)          # at least two decades
