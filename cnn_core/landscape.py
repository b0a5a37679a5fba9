"""Loss landscapes and optimisation trajectories: where the weights went, and the loss around them.

Three pictures of a run, after the papers that introduced them:

- **The path on the PCA plane** (Li, Xu, Taylor, Studer and Goldstein, "Visualizing
  the Loss Landscape of Neural Nets", NeurIPS 2018, section 7): the epoch snapshots
  ``theta_0 .. theta_n`` minus the last one, their principal directions, and each
  snapshot's coordinates on the first two.  :func:`pca_plane`.
- **A slice along two random directions** around one model (the same paper,
  section 4): Gaussian directions scaled filter by filter to the model's own
  filter norms, so that slices of sharp and flat minima compare fairly.
  :func:`random_plane`.
- **The straight line** from the initial weights to the trained ones (Goodfellow,
  Vinyals and Saxe, ICLR 2015).  :func:`straight_line`.

The loss over a plane is :func:`loss_grid` (one forward pass of a fixed image
subset per grid point) and :func:`refine_grids` (coarse grids first).  Both can
be cancelled between grid points and can be slowed down on purpose (``duty``), so
that a landscape refreshing in a background thread leaves training its speed.

Weights travel as flat float64 vectors ``(P,)`` (:func:`flatten`), in the order of
the ``state_dict`` they came from, which for every state dict of this app is
:meth:`Network.named_params <cnn_core.network.Network.named_params>` order.
NumPy only, like the rest of :mod:`cnn_core`.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .losses import cross_entropy
from .network import Network

#: The straight line's default positions: a quarter of the way beyond each end
#: (Goodfellow et al. plot the same overshoot on both sides).
DEFAULT_TS = np.linspace(-0.25, 1.25, 31)
#: The coarse-to-fine grid sizes of :func:`refine_grids`.
DEFAULT_SIZES = (7, 15, 31)
#: Training images a grid point is evaluated on, unless told otherwise: 0.12 to 0.14 s
#: of one core a point (bench/landscape.py).
DEFAULT_IMAGES = 256
#: The ``duty`` for a landscape computed while training runs.  At duty ``d`` the
#: landscape computes ``d`` of the wall time, so it takes at most about that share of a
#: core from training when every core is busy, and little when a core is spare.
#: bench/landscape.py on 2 cores kept busy by other programs (load 19): throughput
#: ratio 1.11 at 0.1 (median of 9 rounds), 1.07 at 0.06, 1.23 to 1.26 at 0.25 and
#: 1.95 at full speed; the issue allows 1.15.
TRAINING_DUTY = 0.1
#: The longest a throttled evaluator sleeps before it looks at ``cancel()`` again.
_SLEEP_SLICE = 0.05


# --- weights as vectors ----------------------------------------------------------------

def flatten(state):
    """One vector of every parameter of ``state`` (a ``state_dict``), in its order.

    Returns
    -------
    ndarray, float64, (P,)
    """
    return np.concatenate([np.asarray(value, np.float64).ravel() for value in state.values()])


def unflatten(vector, like_state):
    """The inverse of :func:`flatten`: a new ``state_dict`` with ``like_state``'s names,
    order, shapes and dtypes, filled from ``vector (P,)``."""
    vector = np.asarray(vector)
    sizes = [value.size for value in like_state.values()]
    if vector.shape != (sum(sizes),):
        raise ConfigError(f"a vector of {vector.size:,} numbers does not fit a model of "
                          f"{sum(sizes):,} parameters")
    state, start = {}, 0
    for (name, value), size in zip(like_state.items(), sizes):
        state[name] = vector[start:start + size].reshape(value.shape).astype(value.dtype)
        start += size
    return state


def _vectors(states):
    """``states`` (state dicts of one architecture) as rows of a ``(n, P)`` float64 matrix;
    ConfigError, naming the first odd one, if they do not all have the first one's
    parameters."""
    first = {name: np.shape(value) for name, value in states[0].items()}
    for index, state in enumerate(states[1:], start=1):
        if {name: np.shape(value) for name, value in state.items()} != first:
            raise ConfigError(f"snapshot {index} has other parameters than snapshot 0 "
                              f"(a model of another architecture?)")
    return np.stack([flatten({name: state[name] for name in first}) for state in states])


# --- planes ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Plane:
    """A 2-D slice of weight space: ``origin + x * directions[0] + y * directions[1]``.

    Attributes
    ----------
    origin : ndarray, float64, (P,)
        The model on show, flattened (:func:`flatten`).
    directions : ndarray, float64, (2, P)
        ``"pca"``: orthonormal, the path's first two principal directions.
        ``"random"``: the two filter-normalised directions as drawn (nearly
        orthogonal in high dimension, but neither unit length nor exactly orthogonal).
    explained : ndarray (2,) or None
        ``"pca"``: the share of the path's variance along each direction;
        ``"random"``: None.
    kind : str
        ``"pca"`` or ``"random"``.
    """

    origin: np.ndarray
    directions: np.ndarray
    explained: object
    kind: str

    def project(self, state):
        """The coordinates ``(x, y)`` of ``state`` (a ``state_dict``) on the plane.

        For ``"pca"`` the orthogonal projection on the orthonormal directions;
        for ``"random"`` the least-squares coordinates, the point of the plane
        nearest to ``state``.
        """
        vector = flatten(state)
        if vector.shape != self.origin.shape:
            raise ConfigError(f"a model of {vector.size:,} parameters is not in a plane of "
                              f"{self.origin.size:,}")
        along = self.directions @ (vector - self.origin)
        if self.kind == "random":
            along = np.linalg.solve(self.directions @ self.directions.T, along)
        return float(along[0]), float(along[1])

    def point(self, x, y):
        """The weights ``(P,)`` at plane coordinates ``(x, y)``."""
        return self.origin + x * self.directions[0] + y * self.directions[1]


def pca_plane(states):
    """The plane of a training path's two principal directions (Li et al., section 7).

    The origin is the last state (the model on show).  The directions are the
    first two principal components of ``[theta_i - theta_last]`` (centred, as
    the paper's code does with scikit-learn's PCA), each signed so that the
    first state lies at a negative coordinate: the path comes in from the left
    and from below.  ``explained`` is each direction's share of the path's
    variance.

    Parameters
    ----------
    states : list of state dicts
        The path in order, the last the model on show; at least 3.  Two states
        span a line, not a plane (and a two-point path shows nothing a line plot
        would not), so they are refused rather than completed with a made-up
        second direction.

    Raises
    ------
    ConfigError
        Fewer than 3 states, states of different architectures, or states that
        are all the same.
    """
    if len(states) < 3:
        raise ConfigError(f"a path plane needs at least 3 snapshots (the start, an epoch "
                          f"and the model), not {len(states)}")
    matrix = _vectors(states)
    origin = matrix[-1].copy()
    offsets = matrix - origin
    centred = offsets - offsets.mean(axis=0)
    # (n, P) with n small: the thin SVD costs n^2 P, a few tenths of a second.
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular ** 2
    if variance.sum() == 0:
        raise ConfigError("the snapshots are all the same weights: there is no path to show")
    directions = vt[:2].copy()
    first = directions @ offsets[0]
    directions[first > 0] *= -1
    return Plane(origin, directions, variance[:2] / variance.sum(), "pca")


def filter_normalised(direction, state):
    """Scale ``direction`` filter by filter to ``state``'s filter norms (Li et al., sec. 4).

    A filter is a conv layer's output channel (``weight[k]``, ``(C_in, 3, 3)``) or
    a dense layer's unit (``weight[k]``, a row ``(in_features,)``): each becomes
    ``d_k / |d_k| * |theta_k|``.  Biases (1-D parameters) get zero: as the
    paper's code does, they stay at the model's values, and the slice moves only
    the weights whose scale the normalisation is about.

    Parameters
    ----------
    direction, state : dict of str -> ndarray
        The same names and shapes.

    Returns
    -------
    dict of str -> float64 ndarray
    """
    scaled = {}
    for name, theta in state.items():
        d = np.asarray(direction[name], np.float64)
        if d.ndim <= 1:
            scaled[name] = np.zeros_like(d)
            continue
        rows = d.reshape(len(d), -1)
        target = np.linalg.norm(np.asarray(theta, np.float64).reshape(len(d), -1), axis=1)
        norms = np.linalg.norm(rows, axis=1)
        # A zero random filter never happens with Gaussian draws; a zero model filter
        # (a pruned or dead one) gives a zero direction filter, as it should.
        factor = np.divide(target, norms, out=np.zeros_like(norms), where=norms > 0)
        scaled[name] = (rows * factor[:, None]).reshape(d.shape)
    return scaled


def random_plane(state, seed):
    """A plane of two filter-normalised Gaussian directions around ``state`` (Li et al.).

    The directions are drawn from ``numpy.random.default_rng(seed)`` (so the same
    seed gives the same plane) and scaled by :func:`filter_normalised`; biases
    do not move.  At coordinate 1 along a direction, every filter has moved by
    its own norm: the paper's plots span -1 to 1.
    """
    rng = np.random.default_rng(seed)
    drawn = [filter_normalised({name: rng.standard_normal(np.shape(value))
                                for name, value in state.items()}, state)
             for _ in range(2)]
    directions = np.stack([flatten(d) for d in drawn])
    if not directions.any():
        raise ConfigError("the model's weights are all zero, so directions scaled to its "
                          "filters are zero too: there is no slice to show")
    return Plane(flatten(state), directions, None, "random")


def path_extent(points, margin=0.25):
    """The grid range around projected points: ``(x_min, x_max, y_min, y_max)``.

    Each side gets ``margin`` times the larger of the two spans, so a path that
    runs almost along one axis still has landscape beside it.  A single point
    (or points all in one place) gets +-1 around it, the range of a
    filter-normalised slice.

    Parameters
    ----------
    points : array-like, (n, 2)
    """
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if not len(points) or not np.isfinite(points).all():
        raise ConfigError("the path has no points with finite coordinates")
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin * float((high - low).max())
    if pad <= 0:
        pad = 1.0
    return (float(low[0] - pad), float(high[0] + pad), float(low[1] - pad), float(high[1] + pad))


# --- the loss over a plane ----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Grid:
    """The loss over a plane, on a fixed set of images.

    Attributes
    ----------
    xs : ndarray, (nx,)
        Coordinates along the first direction (columns).
    ys : ndarray, (ny,)
        Coordinates along the second direction (rows).
    loss : ndarray, float64, (ny, nx)
        Mean cross-entropy at ``origin + xs[j] * d1 + ys[i] * d2`` in ``loss[i, j]``;
        NaN where not computed yet (a partial grid), ``inf`` where the network's
        outputs overflowed.
    accuracy : ndarray, float64, (ny, nx)
        The share of the images classified right, NaN where not computed yet.
    """

    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray


class _Evaluator:
    """One private network that takes the weights of any point of a plane in turn."""

    def __init__(self, architecture, origin, directions, images, labels):
        self.network = Network([dict(spec) for spec in architecture])
        self.images, self.labels = images, labels
        self.origin, self.directions = origin, directions
        # The parameters' slices of the flat vectors, written in place at each point.
        self._slots, start = [], 0
        for _, value in self.network.named_params():
            self._slots.append((value, slice(start, start + value.size)))
            start += value.size
        if start != origin.size:
            raise ConfigError(f"the weights have {origin.size:,} numbers but the architecture "
                              f"needs {start:,}")

    def at(self, x, y):
        """``(loss, accuracy)`` at plane coordinates ``(x, y)``."""
        d1, d2 = self.directions
        for value, part in self._slots:
            weights = self.origin[part] + x * d1[part] + y * d2[part]
            value[...] = weights.reshape(value.shape)
        logits = self.network.predict_logits(self.images)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, _ = cross_entropy(logits, self.labels)
        accuracy = float((logits.argmax(axis=1) == self.labels).mean())
        return (loss if np.isfinite(loss) else np.inf), accuracy


class _Pacer:
    """Sleeps after each piece of work so that the work takes ``duty`` of the wall time,
    watching ``cancel`` meanwhile."""

    def __init__(self, duty, cancel):
        if not 0 < duty <= 1:
            raise ConfigError(f"duty must be above 0 and at most 1, not {duty}")
        self.duty, self.cancel = duty, cancel

    def cancelled(self):
        return self.cancel is not None and bool(self.cancel())

    def rest_after(self, seconds):
        """Sleep ``seconds * (1 / duty - 1)``; False if cancelled meanwhile."""
        left = seconds * (1 / self.duty - 1)
        while left > 0:
            if self.cancelled():
                return False
            time.sleep(min(left, _SLEEP_SLICE))
            left -= _SLEEP_SLICE
        return not self.cancelled()


def _check_data(images, labels):
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        raise ConfigError("the landscape needs at least one image")
    if images.shape[1:] != (1, 28, 28) or len(images) != len(labels):
        raise ConfigError(f"images must be (N, 1, 28, 28) with N labels, not {images.shape} "
                          f"with {len(labels)}")
    return images, labels


def loss_grid(architecture, plane, xs, ys, images, labels, cancel=None, on_row=None,
              workers=1, duty=1.0):
    """The mean cross-entropy and accuracy over a grid of ``plane``.

    Parameters
    ----------
    architecture : list of dict
        The layer specs of the model (as :func:`~cnn_core.network.default_architecture`).
    plane : Plane
    xs, ys : array-like, (nx,) and (ny,)
        Coordinates along the plane's first and second direction.
    images : ndarray, (N, 1, 28, 28); labels : ndarray of int, (N,)
        The fixed subset every point is evaluated on (256 images: about 0.1 s a
        point on this machine's core).
    cancel : callable or None
        Looked at before each row and each point; when it returns true the work
        stops and the function **returns None** (no exception: a cancelled
        landscape is not an error, and nothing half-done escapes).
    on_row : callable or None
        ``on_row(row_index, partial_grid)`` after each row: a :class:`Grid` of
        copies, NaN in the rows still to come.
    workers : int
        Threads, each with its own network, sharing each row's points.  Use the
        cores when training is not running; 1 when it is.
    duty : float in (0, 1]
        The share of wall time each worker computes; after a point that took
        ``t`` seconds it sleeps ``t * (1 / duty - 1)``.  The knob that keeps a
        landscape refreshing beside training from slowing training down
        (bench/landscape.py measures it).

    Returns
    -------
    Grid, or None when cancelled.
    """
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    if xs.ndim != 1 or ys.ndim != 1 or not len(xs) or not len(ys):
        raise ConfigError("a grid needs at least one coordinate along each direction")
    images, labels = _check_data(images, labels)
    pacer = _Pacer(duty, cancel)
    workers = max(1, min(int(workers), len(xs)))
    evaluators = [_Evaluator(architecture, plane.origin, plane.directions, images, labels)
                  for _ in range(workers)]
    loss = np.full((len(ys), len(xs)), np.nan)
    accuracy = np.full((len(ys), len(xs)), np.nan)
    stop = threading.Event()

    def run_share(worker, row, y):
        # Worker w takes the row's points w, w + workers, ...: neighbours in parallel.
        for column in range(worker, len(xs), workers):
            if stop.is_set() or pacer.cancelled():
                stop.set()
                return
            started = time.perf_counter()
            loss[row, column], accuracy[row, column] = evaluators[worker].at(xs[column], y)
            if not pacer.rest_after(time.perf_counter() - started):
                stop.set()
                return

    pool = ThreadPoolExecutor(workers - 1) if workers > 1 else None
    try:
        for row, y in enumerate(ys):
            if pacer.cancelled():
                return None
            others = [pool.submit(run_share, w, row, y) for w in range(1, workers)]
            run_share(0, row, y)
            for future in others:
                future.result()
            if stop.is_set():
                return None
            if on_row is not None:
                on_row(row, Grid(xs.copy(), ys.copy(), loss.copy(), accuracy.copy()))
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return Grid(xs, ys, loss, accuracy)


def grid_axes(extent, size):
    """The coordinates ``(xs, ys)`` of a ``size`` x ``size`` grid over ``extent``
    ``(x_min, x_max, y_min, y_max)``."""
    if size < 2:
        raise ConfigError(f"a grid needs at least 2 points a side, not {size}")
    x_min, x_max, y_min, y_max = extent
    return np.linspace(x_min, x_max, size), np.linspace(y_min, y_max, size)


def refine_grids(architecture, plane, extent, images, labels, sizes=DEFAULT_SIZES, cancel=None,
                 on_row=None, workers=1, duty=1.0):
    """Yield :class:`Grid` s of ``extent`` at each of ``sizes`` (coarse first).

    The first picture comes quickly (7 x 7 = 49 points), then finer ones.
    Cancelling ends the generator (it yields nothing more); ``cancel``,
    ``on_row``, ``workers`` and ``duty`` are as in :func:`loss_grid`, ``on_row``
    reporting the rows of every grid in turn.
    """
    for size in sizes:
        xs, ys = grid_axes(extent, size)
        grid = loss_grid(architecture, plane, xs, ys, images, labels, cancel, on_row,
                         workers, duty)
        if grid is None:
            return
        yield grid


def straight_line(architecture, theta0, theta, ts=None, images=None, labels=None, cancel=None):
    """The loss and accuracy along ``(1 - t) * theta0 + t * theta`` (Goodfellow et al. 2015).

    Parameters
    ----------
    architecture : list of dict
    theta0, theta : state dicts
        The run's initial weights and the model on show.
    ts : array-like (T,) or None
        Positions on the line; None: :data:`DEFAULT_TS`, -0.25 to 1.25 in 31 steps.
    images : ndarray, (N, 1, 28, 28); labels : ndarray of int, (N,)
        Required (they come after ``ts`` as in the paper's order of things).
    cancel : callable or None
        Looked at before each position; when true, returns None.

    Returns
    -------
    (loss (T,), accuracy (T,)) float64 arrays, or None when cancelled.
    """
    if images is None or labels is None:
        raise ConfigError("the straight line needs images and labels to evaluate on")
    images, labels = _check_data(images, labels)
    ts = DEFAULT_TS if ts is None else np.asarray(ts, np.float64)
    start, end = _vectors([theta0, theta])
    evaluator = _Evaluator(architecture, start, np.stack([end - start, np.zeros_like(start)]),
                           images, labels)
    loss, accuracy = np.empty(len(ts)), np.empty(len(ts))
    for index, t in enumerate(ts):
        if cancel is not None and cancel():
            return None
        loss[index], accuracy[index] = evaluator.at(t, 0.0)
    return loss, accuracy
