"""What the weight-path view computes in its worker thread (no Qt).

One request is one picture: the plane (the epochs' principal directions, or
two filter-normalised random directions around the model on show), the path
projected on it, the loss along the straight line from the first weights to
the model on show, and the loss on a grid over the plane, coarse first and
then refined.  :func:`compute` hands each piece over as soon as it is done,
so the view can draw the path at once and the landscape as it sharpens.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cnn_core import landscape
from cnn_core.data import load_dataset

#: Training (and validation) images the loss is measured on: few, so a coarse
#: grid is back within seconds; always the same ones, so pictures compare.
IMAGES = landscape.DEFAULT_IMAGES
#: Grid sides, coarse first.
SIZES = landscape.DEFAULT_SIZES
#: Room around the path, as a share of its extent.
MARGIN = 0.3
#: Half the side of the random-directions slice: Li et al. show [-1, 1] in units of
#: the filter-normalised directions (a step of 1 changes each filter by its own norm).
RANDOM_EXTENT = 1.0
#: θ(t) = (1 − t)·θ0 + t·θ for t from -0.25 to 1.25 (Goodfellow et al.'s straight
#: line), in steps of 1/8: t = 0 and t = 1 are among them.
LINE_RANGE, LINE_POINTS = (-0.25, 1.25), 13

PCA, RANDOM = "pca", "random"


@dataclass(frozen=True, eq=False)
class Request:
    """What to compute.

    Attributes
    ----------
    mode : {"pca", "random"}
    architecture : list of dict
        The layer specs of the run.
    states : dict of int to dict
        Epoch -> ``state_dict`` (read-only arrays), the path's points.
    model : dict
        The ``state_dict`` on show: the random slice's centre and the line's end.
    plane : landscape.Plane or None
        A frozen plane to keep; None fits one.
    dataset : str
        Whose training and validation images to measure on.
    sizes : tuple of int
        The grid's sides, coarse first.
    line_points : int
        Positions on the straight line.
    images : int
        How many training (and validation) images to measure on.
    workers, duty : int and float
        Threads and share of wall time the grid may take (see
        :func:`cnn_core.landscape.loss_grid`): all of both while idle, a
        little beside training, which needs the cores more.
    seed : int
        Of the random directions.
    """

    mode: str
    architecture: list
    states: dict
    model: dict
    plane: object
    dataset: str
    sizes: tuple = SIZES
    images: int = IMAGES
    line_points: int = LINE_POINTS
    workers: int = 1
    duty: float = 1.0
    seed: int = 0


@dataclass(frozen=True, eq=False)
class PathPicture:
    """The plane and the path on it.

    Attributes
    ----------
    mode : {"pca", "random"}
    plane : landscape.Plane
    epochs : tuple of int
        One per point (empty in random mode: the model on show is at the origin).
    points : ndarray (E, 2)
        The epochs' weights projected on the plane, in the order of ``epochs``.
    extent : tuple
        The grid's extent (as :func:`cnn_core.landscape.path_extent` gives it).
    centre : tuple or None
        Random mode: where the model on show is, ``(x, y)`` (the origin, unless the
        plane was frozen around an earlier model); None in PCA mode.
    """

    mode: str
    plane: object
    epochs: tuple
    points: np.ndarray
    extent: tuple
    centre: object = None


@dataclass(frozen=True, eq=False)
class LinePicture:
    """Loss and accuracy along the straight line; each array is ``(T,)``."""

    ts: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray


@lru_cache(maxsize=2)
def fixed_images(dataset, count=IMAGES):
    """The first ``count`` training and validation images of ``dataset``.

    Returns
    -------
    train_images : ndarray float32 (n, 1, 28, 28)
    train_labels : ndarray int64 (n,)
    val_images, val_labels : the same for the validation images
    """
    train, val = load_dataset(dataset)
    return (train.as_float()[:count], train.labels[:count].astype(np.int64),
            val.as_float()[:count], val.labels[:count].astype(np.int64))


def path_picture(request):
    """The plane of ``request`` and the path projected on it."""
    if request.mode == RANDOM:
        plane = request.plane or landscape.random_plane(request.model, request.seed)
        extent = (-RANDOM_EXTENT, RANDOM_EXTENT, -RANDOM_EXTENT, RANDOM_EXTENT)
        return PathPicture(RANDOM, plane, (), np.zeros((0, 2)), extent,
                           plane.project(request.model))
    epochs = tuple(sorted(request.states))
    states = [request.states[e] for e in epochs]
    plane = request.plane or landscape.pca_plane(states)
    points = np.array([plane.project(s) for s in states], dtype=float)
    return PathPicture(PCA, plane, epochs, points, landscape.path_extent(points, MARGIN))


def line_picture(request, images, cancel):
    """The straight line from epoch 0's weights to the model on show; None if cancelled."""
    train_x, train_y, val_x, val_y = images
    start = request.states[min(request.states)]
    ts = np.linspace(*LINE_RANGE, request.line_points)
    train = landscape.straight_line(request.architecture, start, request.model, ts,
                                    train_x, train_y, cancel=cancel.is_set)
    val = landscape.straight_line(request.architecture, start, request.model, ts,
                                  val_x, val_y, cancel=cancel.is_set)
    if train is None or val is None:
        return None
    return LinePicture(ts, *train, *val)


def compute(request, hand_over, cancel):
    """Compute ``request``'s pieces, handing each over as ``hand_over(piece)``.

    The pieces come in this order: the :class:`PathPicture`, the coarse grid
    (a ``landscape.Grid``), the :class:`LinePicture`, then the finer grids.
    ``cancel`` (a ``threading.Event``) stops the work within a grid row.
    """
    path = path_picture(request)
    hand_over(path)
    images = fixed_images(request.dataset, request.images)
    grids = landscape.refine_grids(request.architecture, path.plane, path.extent,
                                   images[0], images[1], sizes=request.sizes,
                                   cancel=cancel.is_set, workers=request.workers,
                                   duty=request.duty)
    for index, grid in enumerate(grids):
        hand_over(grid)
        if index == 0:
            line = line_picture(request, images, cancel)
            if line is None:
                return
            hand_over(line)
