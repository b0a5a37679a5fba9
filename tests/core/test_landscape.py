"""The loss landscape's maths (cnn_core/landscape.py), checked against independent sums."""
import numpy as np
import pytest

from cnn_core import landscape
from cnn_core.data import load_sample
from cnn_core.errors import ConfigError
from cnn_core.landscape import (Plane, filter_normalised, flatten, loss_grid, path_extent,
                                pca_plane, random_plane, refine_grids, straight_line, unflatten)
from cnn_core.network import Network
from cnn_core.trainer import evaluate_loss_accuracy

#: conv (4 filters) and a dense layer: every kind of parameter, a forward pass of
#: 64 images in a millisecond or two.
TINY = [{"type": "conv", "name": "conv1", "in_channels": 1, "out_channels": 4},
        {"type": "relu", "name": "relu1"},
        {"type": "maxpool", "name": "pool1"},
        {"type": "maxpool", "name": "pool2"},
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "fc1", "in_features": 196, "out_features": 10}]


@pytest.fixture(scope="module")
def data():
    train, _ = load_sample()
    return train.as_float()[:64], train.labels[:64].astype(np.int64)


def tiny(seed):
    return Network(TINY, seed=seed)


def test_flatten_and_unflatten_are_inverse_and_keep_order_shapes_dtypes():
    state = tiny(0).state_dict()
    vector = flatten(state)
    assert vector.dtype == np.float64 and vector.shape == (sum(v.size for v in state.values()),)
    # The first weights come first, the last bias last.
    assert vector[0] == state["conv1.weight"].flat[0] and vector[-1] == state["fc1.bias"][-1]
    back = unflatten(vector, state)
    assert list(back) == list(state)
    for name, value in state.items():
        assert back[name].dtype == value.dtype and np.array_equal(back[name], value)
    with pytest.raises(ConfigError):
        unflatten(vector[:-1], state)


def test_loss_at_the_grid_origin_is_the_models_loss(data):
    images, labels = data
    network = tiny(1)
    plane = random_plane(network.state_dict(), seed=3)
    grid = loss_grid(TINY, plane, [-0.5, 0.0, 0.5], [0.0, 0.25], images, labels)
    loss, accuracy = evaluate_loss_accuracy(network, images, labels)
    assert grid.loss[0, 1] == loss and grid.accuracy[0, 1] == accuracy
    # Every other point is the loss of a network holding origin + x d1 + y d2.
    moved = tiny(None)
    moved.load_state_dict(unflatten(plane.origin + 0.5 * plane.directions[0]
                                    + 0.25 * plane.directions[1], network.state_dict()))
    assert grid.loss[1, 2] == pytest.approx(evaluate_loss_accuracy(moved, images, labels)[0],
                                            rel=1e-6)
    assert grid.loss[1, 2] != loss


def test_filter_normalised_directions_have_the_models_filter_norms():
    state = Network(seed=0).state_dict()           # the real network: convs of every size
    plane = random_plane(state, seed=7)
    for direction in plane.directions:
        d = unflatten(direction, state)
        for name, theta in state.items():
            if theta.ndim == 1:
                assert not d[name].any(), f"{name}: biases must not move"
                continue
            per_filter = np.linalg.norm(d[name].reshape(len(theta), -1).astype(np.float64), axis=1)
            model = np.linalg.norm(theta.reshape(len(theta), -1).astype(np.float64), axis=1)
            np.testing.assert_allclose(per_filter, model, rtol=1e-6, err_msg=name)


def test_filter_normalisation_keeps_each_filters_direction():
    rng = np.random.default_rng(0)
    direction = {"w": rng.standard_normal((3, 2, 3, 3)), "b": rng.standard_normal(3)}
    state = {"w": rng.standard_normal((3, 2, 3, 3)), "b": rng.standard_normal(3)}
    scaled = filter_normalised(direction, state)
    for k in range(3):
        ratio = scaled["w"][k] / direction["w"][k]
        assert np.allclose(ratio, ratio.flat[0]) and ratio.flat[0] > 0


def test_random_planes_repeat_with_their_seed():
    state = tiny(0).state_dict()
    a, b, c = random_plane(state, 5), random_plane(state, 5), random_plane(state, 6)
    assert np.array_equal(a.directions, b.directions)
    assert not np.array_equal(a.directions, c.directions)
    assert a.kind == "random" and a.explained is None


def test_a_random_plane_around_zero_weights_is_refused():
    with pytest.raises(ConfigError, match="all zero"):
        random_plane(tiny(None).state_dict(), 0)


def test_random_plane_projects_a_point_of_the_plane_to_its_coordinates():
    state = tiny(0).state_dict()
    plane = random_plane(state, 1)
    point = unflatten(plane.point(0.3, -0.7), {k: v.astype(np.float64) for k, v in state.items()})
    assert plane.project(point) == pytest.approx((0.3, -0.7), abs=1e-9)


def _path_states(seed, steps=5, off_plane=0.0):
    """States ``base + a_i u + b_i v (+ off_plane * noise)``: a path that lies in a known
    plane, in float64 so that nothing is lost to rounding."""
    rng = np.random.default_rng(seed)
    like = {k: v.astype(np.float64) for k, v in tiny(0).state_dict().items()}
    base, u, v = (rng.standard_normal(flatten(like).size) for _ in range(3))
    coefficients = rng.standard_normal((steps, 2)) * [3.0, 1.0]
    states = [unflatten(base + a * u + b * v + off_plane * rng.standard_normal(base.size), like)
              for a, b in coefficients]
    return states, like


def test_pca_directions_are_orthonormal_and_rebuild_a_path_in_a_plane():
    states, _ = _path_states(0)
    plane = pca_plane(states)
    assert plane.kind == "pca"
    np.testing.assert_allclose(plane.directions @ plane.directions.T, np.eye(2), atol=1e-12)
    assert np.array_equal(plane.origin, flatten(states[-1]))
    # The path has no component off the plane, so its coordinates give it back whole.
    for state in states:
        x, y = plane.project(state)
        np.testing.assert_allclose(plane.point(x, y), flatten(state), atol=1e-9)
    assert plane.explained.sum() == pytest.approx(1.0)
    # Signed so that the path starts left of and below the model.
    start = plane.project(states[0])
    assert start[0] < 0 and start[1] < 0


def test_pca_projection_gives_each_snapshots_in_plane_component():
    states, _ = _path_states(1, steps=6, off_plane=0.3)
    plane = pca_plane(states)
    matrix = np.stack([flatten(s) for s in states]) - plane.origin
    centred = matrix - matrix.mean(axis=0)
    # The variance shares from the Gram matrix's eigenvalues: another route than the SVD.
    eigen = np.sort(np.linalg.eigvalsh(centred @ centred.T))[::-1]
    np.testing.assert_allclose(plane.explained, eigen[:2] / eigen.sum(), rtol=1e-9)
    for state, offset in zip(states, matrix):
        x, y = plane.project(state)
        in_plane = plane.directions.T @ (plane.directions @ offset)
        np.testing.assert_allclose(x * plane.directions[0] + y * plane.directions[1], in_plane,
                                   atol=1e-9)
        # What is left over is orthogonal to the plane.
        np.testing.assert_allclose(plane.directions @ (offset - in_plane), 0, atol=1e-9)


@pytest.mark.parametrize("count", [1, 2])
def test_a_pca_plane_needs_three_snapshots(count):
    states, _ = _path_states(2, steps=count)
    with pytest.raises(ConfigError, match="at least 3 snapshots"):
        pca_plane(states)


def test_a_pca_plane_refuses_identical_and_mismatched_snapshots():
    state = tiny(0).state_dict()
    with pytest.raises(ConfigError, match="all the same"):
        pca_plane([state, state, state])
    with pytest.raises(ConfigError, match="another architecture"):
        pca_plane([state, tiny(1).state_dict(), Network(seed=0).state_dict()])


def test_straight_line_ends_are_the_initial_and_the_current_losses(data):
    images, labels = data
    start, end = tiny(0), tiny(1)
    loss, accuracy = straight_line(TINY, start.state_dict(), end.state_dict(), [0.0, 0.5, 1.0],
                                   images, labels)
    assert (loss[0], accuracy[0]) == evaluate_loss_accuracy(start, images, labels)
    assert (loss[2], accuracy[2]) == evaluate_loss_accuracy(end, images, labels)
    assert loss[1] not in (loss[0], loss[2])
    default, _ = straight_line(TINY, start.state_dict(), end.state_dict(), None, images, labels)
    assert len(default) == 31 and default[5] == loss[0] and default[25] == loss[2]


def test_cancel_stops_within_one_row(data):
    images, labels = data
    plane = random_plane(tiny(0).state_dict(), 0)
    rows, asked = [], []

    def on_row(row, partial):
        rows.append(row)

    def cancel():
        asked.append(len(rows))
        return len(rows) >= 1           # cancelled once the first row is done
    assert loss_grid(TINY, plane, np.linspace(-1, 1, 4), np.linspace(-1, 1, 5), images, labels,
                     cancel=cancel, on_row=on_row) is None
    assert rows == [0]
    # Nothing is computed after the cancel was first seen.
    assert asked[-1] == 1 and asked.count(1) == 1


def test_cancel_in_the_middle_of_a_row_stops_before_its_end(data, monkeypatch):
    images, labels = data
    plane = random_plane(tiny(0).state_dict(), 0)
    points = []
    real_at = landscape._Evaluator.at
    monkeypatch.setattr(landscape._Evaluator, "at",
                        lambda self, x, y: points.append((x, y)) or real_at(self, x, y))
    grid = loss_grid(TINY, plane, np.linspace(-1, 1, 6), [0.0, 1.0], images, labels,
                     cancel=lambda: len(points) >= 2)
    assert grid is None and len(points) == 2


def test_rows_arrive_as_partial_grids_and_workers_agree(data):
    images, labels = data
    plane = random_plane(tiny(2).state_dict(), 1)
    xs, ys = np.linspace(-1, 1, 5), np.linspace(-0.5, 0.5, 3)
    partials = []
    grid = loss_grid(TINY, plane, xs, ys, images, labels,
                     on_row=lambda row, partial: partials.append((row, partial)))
    assert [row for row, _ in partials] == [0, 1, 2]
    for row, partial in partials:
        assert np.isfinite(partial.loss[:row + 1]).all() and np.isnan(partial.loss[row + 1:]).all()
        np.testing.assert_array_equal(partial.loss[:row + 1], grid.loss[:row + 1])
    assert grid.loss.shape == (3, 5) and grid.accuracy.shape == (3, 5)
    two = loss_grid(TINY, plane, xs, ys, images, labels, workers=2)
    np.testing.assert_array_equal(two.loss, grid.loss)
    np.testing.assert_array_equal(two.accuracy, grid.accuracy)


def test_refine_grids_go_from_coarse_to_fine_and_stop_when_cancelled(data):
    images, labels = data
    plane = random_plane(tiny(0).state_dict(), 0)
    grids = list(refine_grids(TINY, plane, (-1, 1, -2, 2), images, labels, sizes=(2, 3)))
    assert [g.loss.shape for g in grids] == [(2, 2), (3, 3)]
    assert grids[1].xs[0] == -1 and grids[1].ys[-1] == 2
    # The corners are the same points at both resolutions.
    np.testing.assert_array_equal(grids[0].loss[[0, -1]][:, [0, -1]],
                                  grids[1].loss[[0, -1]][:, [0, -1]])
    stopped = list(refine_grids(TINY, plane, (-1, 1, -1, 1), images, labels, sizes=(2, 3),
                                cancel=lambda: True))
    assert stopped == []


def test_a_throttled_grid_sleeps_its_share_and_watches_cancel(monkeypatch):
    slept = []
    monkeypatch.setattr(landscape.time, "sleep", slept.append)
    pacer = landscape._Pacer(0.25, cancel=None)
    assert pacer.rest_after(0.3) is True
    assert sum(slept) == pytest.approx(0.9) and max(slept) <= landscape._SLEEP_SLICE
    slept.clear()
    flag = []
    monkeypatch.setattr(landscape.time, "sleep", lambda s: flag.append(s))
    pacer = landscape._Pacer(0.1, cancel=lambda: len(flag) >= 2)
    assert pacer.rest_after(1.0) is False and len(flag) == 2
    with pytest.raises(ConfigError):
        landscape._Pacer(0, None)


def test_path_extent_pads_by_the_larger_span():
    assert path_extent([(0, 0), (4, 1)]) == (-1.0, 5.0, -1.0, 2.0)
    assert path_extent([(2, 3)]) == (1.0, 3.0, 2.0, 4.0)
    with pytest.raises(ConfigError):
        path_extent([(np.nan, 0)])


def test_bad_grids_and_data_are_one_line_errors(data):
    images, labels = data
    plane = random_plane(tiny(0).state_dict(), 0)
    with pytest.raises(ConfigError, match="at least one image"):
        loss_grid(TINY, plane, [0], [0], images[:0], labels[:0])
    with pytest.raises(ConfigError, match="at least 2 points"):
        landscape.grid_axes((-1, 1, -1, 1), 1)
    other = Plane(plane.origin[:-1], plane.directions[:, :-1], None, "random")
    with pytest.raises(ConfigError, match="architecture needs"):
        loss_grid(TINY, other, [0], [0], images, labels)
