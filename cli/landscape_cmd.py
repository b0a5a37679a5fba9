"""``python main.py landscape``: the loss landscape around a model, and the path that led there.

With ``--trajectory`` (the epoch files of ``train --save-epochs``), the grid lies
on the plane of the path's two principal directions (Li et al. 2018, sec. 7) and
the path is drawn over it; without, on two filter-normalised random directions
around the model (``--directions random``, the default then).  The loss is the
mean cross-entropy on the first ``--images`` training images of the bundled sample.

``--json`` prints the grid and the path as one JSON object instead (see
:func:`json_record`); ``--out`` then still writes the picture, if given.
"""
import json
import sys
from pathlib import Path

import numpy as np

from cnn_core import paths
from cnn_core.errors import ConfigError
from cnn_core.landscape import DEFAULT_IMAGES

MAX_GRID = 201
DEFAULT_GRID = 21


def add_parser(subparsers):
    """Add the ``landscape`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "landscape", help="the loss landscape around a model and its training path, as a PNG")
    parser.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL,
                        help="the model at the centre, the end of the path (default: the "
                             "shipped model)")
    parser.add_argument("--trajectory", type=Path, nargs="+", default=[], metavar="EPOCH_FILE",
                        help="the path's model files in order (train --save-epochs DIR: "
                             "DIR/epoch_*.npz); the model is added at the end unless the "
                             "last file holds the same weights")
    parser.add_argument("--directions", choices=("pca", "random"),
                        help="pca: the path's principal directions (default with "
                             "--trajectory); random: filter-normalised random directions "
                             "(default without)")
    parser.add_argument("--grid", type=int, default=DEFAULT_GRID,
                        help=f"points along each side of the grid (default {DEFAULT_GRID})")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES,
                        help=f"training images each point is evaluated on (default "
                             f"{DEFAULT_IMAGES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random directions")
    parser.add_argument("--out", type=Path, help="PNG file to write (required unless --json)")
    parser.add_argument("--json", action="store_true",
                        help="print the grid (xs, ys, loss, accuracy) and the path's "
                             "coordinates as one JSON object")
    return parser


def _check_options(args, available):
    if not 2 <= args.grid <= MAX_GRID:
        raise ConfigError(f"--grid must be between 2 and {MAX_GRID} points a side, not {args.grid}")
    if not 1 <= args.images <= available:
        raise ConfigError(f"--images must be between 1 and {available}, not {args.images}")
    if not 0 <= args.seed < 2**32:
        raise ConfigError(f"--seed must be between 0 and 4294967295, not {args.seed}")
    if args.out is None:
        if not args.json:
            raise ConfigError("give --out FILE.png for the picture, or --json for the numbers")
    elif args.out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, not {args.out.name!r}")
    elif not args.out.parent.is_dir():
        raise ConfigError(f"--out: the folder {args.out.parent} does not exist")
    if args.directions == "pca" and not args.trajectory:
        raise ConfigError("--directions pca needs the path: give its epoch files with "
                          "--trajectory")


def _load_path(args):
    """The model and the path's states; ``(architecture, states, names)``, model last."""
    from cnn_core.landscape import flatten
    from cnn_core.model_files import load_model
    network, _ = load_model(args.model)
    states, names = [], []
    for path in args.trajectory:
        other, meta = load_model(path)
        if other.architecture != network.architecture:
            raise ConfigError(f"{path.name} is a model of another architecture than "
                              f"{args.model.name}")
        states.append(other.state_dict())
        epoch = meta.get("epoch")
        names.append(str(epoch) if isinstance(epoch, int) else path.stem)
    model = network.state_dict()
    if not states or not np.array_equal(flatten(states[-1]), flatten(model)):
        states.append(model)
        names.append("model")
    return network.architecture, states, names


def _progress(done, total):
    sys.stderr.write(f"\r  grid row {done}/{total}")
    sys.stderr.flush()


def json_record(plane, grid, points, names, files):
    """The landscape as a JSON-ready dict.

    Keys: ``directions`` (``"pca"`` or ``"random"``), ``explained`` (the share of
    the path's variance along each axis, or ``None``), ``images`` (how many the
    loss is the mean over), ``grid`` (``xs``, ``ys``, ``loss`` and ``accuracy``
    as ``[row][column]`` lists, row ``i`` at ``ys[i]``; a loss that overflowed is
    ``None``) and ``path`` (one ``{"name", "file", "x", "y"}`` per point, the
    model last; ``file`` is ``None`` for the model added at the end).
    """
    def finite(rows):
        return [[float(v) if np.isfinite(v) else None for v in row] for row in rows]
    return {"directions": plane.kind,
            "explained": None if plane.explained is None else [float(v) for v in plane.explained],
            "grid": {"xs": grid.xs.tolist(), "ys": grid.ys.tolist(), "loss": finite(grid.loss),
                     "accuracy": finite(grid.accuracy)},
            "path": [{"name": name, "file": None if file is None else str(file),
                      "x": float(x), "y": float(y)}
                     for name, file, (x, y) in zip(names, files, points)]}


def _labels(plane, args, images):
    if plane.kind == "pca":
        pc1, pc2 = plane.explained
        return (f"Loss on {images} training images, over the path's PCA plane",
                f"PC1: {pc1:.1%} of the path's variance", f"PC2: {pc2:.1%}")
    return (f"Loss on {images} training images around {args.model.name}",
            f"random direction 1 (filter-normalised, seed {args.seed})",
            "random direction 2")


def run(args):
    """Compute the landscape, write ``args.out`` and/or print JSON; returns 0.

    Raises
    ------
    UserError
        Bad options, a missing or damaged model file, files of different
        architectures, a PCA path of fewer than 3 distinct snapshots.
    """
    from cnn_core.data import load_sample
    from cnn_core.landscape import grid_axes, loss_grid, path_extent, pca_plane, random_plane
    from cnn_core.parallel import default_workers
    train, _ = load_sample()
    _check_options(args, len(train))
    architecture, states, names = _load_path(args)
    files = list(args.trajectory[:len(states)]) + [None] * (len(states) - len(args.trajectory))
    directions = args.directions or ("pca" if args.trajectory else "random")
    if directions == "pca":
        plane = pca_plane(states)
    else:
        plane = random_plane(states[-1], args.seed)
    points = np.array([plane.project(state) for state in states])
    xs, ys = grid_axes(path_extent(points), args.grid)
    images, labels = train.as_float()[:args.images], train.labels[:args.images]
    show = sys.stderr.isatty()
    grid = loss_grid(architecture, plane, xs, ys, images, labels, workers=default_workers(),
                     on_row=(lambda row, _: _progress(row + 1, len(ys))) if show else None)
    if show:
        sys.stderr.write("\n")
    if args.out is not None:
        from cli.explain_cmd import save_png
        from cli.landscape_picture import render
        picture = render(grid, points, names, *_labels(plane, args, len(labels)))
        save_png(picture, args.out)
    if args.json:
        print(json.dumps(json_record(plane, grid, points, names, files)))
    else:
        print(f"wrote {args.out}")
    return 0

