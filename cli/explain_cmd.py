"""``python main.py explain``: a heat map over an image file, as a PNG or as JSON.

The picture is the preprocessed 28×28 digit the network saw, enlarged, with
the explanation blended over it in a perceptually uniform colour map and a
colour bar beside it.  The command also prints the prediction and the
deletion AUC of the explanation next to that of a random pixel order.

With ``--json`` it prints one JSON object instead (see :func:`json_record`),
for scripts; ``--out`` then still writes the picture, if given.
"""
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnn_core import paths
from cnn_core.atomic import atomic_write
from cnn_core.errors import ConfigError
from cnn_core.explain.api import METHODS, empty_map_note
from cnn_core.explain.cam import CAM_METHODS

#: Screen pixels per input pixel.
SCALE = 10
#: Weight of the heat colour where the map is 1; it fades to 0 where the map is 0,
#: so cold regions show the digit itself rather than a veil of near-black.
HEAT_ALPHA = 0.85
#: Brightness of the digit's strokes under the heat: dimmed so the warm end of
#: the colour map stands out against them.
INK_LEVEL = 0.6
COLOUR_MAP = "inferno"
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
_BAR_WIDTH, _GAP, _TITLE, _MARGIN, _LABELS, _LINE = 18, 14, 46, 12, 40, 17


def add_parser(subparsers):
    """Add the ``explain`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "explain", help="explain a prediction: heat map over the image, written as a PNG")
    parser.add_argument("--model", type=Path, default=paths.SHIPPED_MODEL,
                        help="model file (default: the shipped model)")
    parser.add_argument("--image", type=Path, required=True, help="image file of a digit")
    parser.add_argument("--method", choices=METHODS, default="gradcam",
                        help="explanation method (default gradcam)")
    parser.add_argument("--layer", help="conv layer of a CAM method (default: the last one)")
    parser.add_argument("--target", type=int, metavar="DIGIT",
                        help="digit to explain (default: the predicted one)")
    parser.add_argument("--contrast", type=int, metavar="DIGIT",
                        help="explain the target against this digit: 'why 7 and not 1'")
    parser.add_argument("--out", type=Path,
                        help="PNG file to write (required unless --json is given)")
    parser.add_argument("--json", action="store_true",
                        help="print the explanation as one JSON object on stdout: prediction, "
                             "input, the method's own map, deletion AUC")
    return parser


def run(args):
    """Explain ``args.image``, write ``args.out`` and/or print JSON; returns the exit status (0).

    Raises
    ------
    UserError
        Bad options, a missing or unreadable model or image, an empty drawing.
    """
    from digit_files import load_digit, native_stderr_silenced
    from cnn_core.explain import Explainer
    from cnn_core.model_files import load_model
    _check_options(args)
    with native_stderr_silenced():
        digit = load_digit(args.image)
    network, _ = load_model(args.model)
    explainer = Explainer(network)
    explanation = explainer.explain(digit, args.method, args.layer, args.target, args.contrast)
    # Equal scores (an empty map) give no order to delete the pixels in: no AUC.
    deletion = explainer.deletion_curve(explanation).auc[0] if explanation.heatmap.any() else None
    if args.json:
        if args.out is not None:
            save_png(render(explanation), args.out)
        print(json.dumps(json_record(explanation, deletion)))
        return 0
    faithfulness = _faithfulness(explainer, explanation, deletion)
    save_png(render(explanation), args.out)        # last: an interrupted run writes nothing
    p = explanation.probabilities
    print(f"prediction: {explanation.predicted} ({p[explanation.predicted]:.1%})")
    print(f"explained: {describe(explanation)}")
    print(faithfulness)
    print(f"wrote {args.out}")
    return 0


def _faithfulness(explainer, explanation, deletion):
    """One line: the deletion AUC beside a random order's, or why there is none."""
    if deletion is None:
        note = empty_map_note(explanation.layer, explanation.target, explanation.contrast)
        return f"deletion AUC: none, the map is empty: {note}"
    chance = explainer.deletion_curve(explanation, random_order=True).auc[0]
    return (f"deletion AUC: {deletion:.3f} (random pixel order: {chance:.3f}; "
            "lower is more faithful)")


def json_record(explanation, deletion_auc):
    """The explanation as a JSON-ready dict.

    Keys: ``digit`` (the prediction), ``probabilities`` (10 floats),
    ``method``, ``layer`` (``None`` for pixel methods), ``target``,
    ``contrast`` (``None`` without one), ``input`` (the ``28×28`` image the
    network was given), ``map`` (the method's own map: for a CAM ``h×w`` at
    the layer's resolution, computed on its rectified output, before
    upsampling and scaling; for a pixel method the signed ``28×28``
    attribution) and ``deletion_auc`` (``None`` for an empty map).
    Arrays become nested lists.
    """
    e = explanation
    return {"digit": e.predicted, "probabilities": e.probabilities.tolist(),
            "method": e.method, "layer": e.layer, "target": e.target, "contrast": e.contrast,
            "input": e.image.tolist(), "map": e.raw.tolist(),
            "deletion_auc": None if deletion_auc is None else float(deletion_auc)}


def _check_options(args):
    for name in ("target", "contrast"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 9:
            raise ConfigError(f"--{name} must be a digit 0 to 9, not {value}")
    if args.target is not None and args.target == args.contrast:
        raise ConfigError("--contrast must differ from --target")
    if args.layer is not None and args.method not in CAM_METHODS:
        raise ConfigError(f"--layer applies only to {', '.join(CAM_METHODS)}, not {args.method}")
    if args.out is None:
        if not args.json:
            raise ConfigError("give --out FILE.png for the picture, or --json for the numbers")
        return
    if args.out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, not {args.out.name!r}")
    if not args.out.parent.is_dir():
        raise ConfigError(f"--out: the folder {args.out.parent} does not exist")
    if args.out.exists() and args.image.exists() and os.path.samefile(args.out, args.image):
        raise ConfigError(f"--out {args.out} is the image being explained; give the picture "
                          f"another name")


def describe(explanation):
    """One line: method, layer, and which class (against which) is explained."""
    e = explanation
    where = f" at {e.layer}" if e.layer else ""
    against = f" against {e.contrast}" if e.contrast is not None else ""
    return f"{e.method}{where}, evidence for {e.target}{against}"


def colour_table(name=COLOUR_MAP):
    """``(256, 3)`` uint8 lookup table of a perceptually uniform colour map.

    Read from the CSV file pyqtgraph keeps it in (256 RGB rows in [0, 1], the
    app's own colours) without importing pyqtgraph: that would import Qt,
    which a server may lack and which costs half of ``explain``'s time.
    """
    spec = importlib.util.find_spec("pyqtgraph")      # finds the package, runs none of it
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("explain needs pyqtgraph for its colour map: pip install pyqtgraph")
    table = Path(spec.submodule_search_locations[0]) / "colors" / "maps" / f"{name}.csv"
    try:
        rows = [line.split(";")[0].split(",") for line in table.read_text().splitlines()
                if line.strip() and not line.startswith(";")]
    except OSError as exc:
        raise ConfigError(f"cannot read the colour map {table}: {exc.strerror}") from None
    return (np.array(rows, np.float64) * 255 + 0.5).astype(np.uint8)


def render(explanation, scale=SCALE):
    """The explanation as an RGB picture: the digit, the heat over it, a colour bar.

    Returns
    -------
    PIL.Image.Image, mode ``"RGB"``
    """
    table = colour_table()
    side = explanation.image.shape[0] * scale
    panel = _overlay(explanation.image, explanation.heatmap, table, side)
    width = _MARGIN + side + _GAP + _BAR_WIDTH + _LABELS
    height = _TITLE + side + _MARGIN
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    canvas.paste(panel, (_MARGIN, _TITLE))
    draw = ImageDraw.Draw(canvas)
    font = pil_font(14)
    p = explanation.probabilities[explanation.predicted]
    draw.text((_MARGIN, 6), describe(explanation), fill=TEXT, font=font)
    draw.text((_MARGIN, 6 + _LINE), f"predicted {explanation.predicted} ({p:.1%})", fill=TEXT, font=font)
    _colour_bar(canvas, draw, table, (_MARGIN + side + _GAP, _TITLE), side, font)
    return canvas


def _overlay(image, heatmap, table, side):
    """Blend the heat colours over the gray digit, both enlarged to ``side``."""
    ink = np.uint8(np.rint(np.clip(image, 0, 1) * 255 * INK_LEVEL))
    gray = Image.fromarray(ink).resize((side, side), Image.NEAREST)
    heat = Image.fromarray(np.float32(np.clip(heatmap, 0, 1)), "F").resize((side, side), Image.BILINEAR)
    heat = np.clip(np.asarray(heat), 0, 1)
    colour = table[np.rint(heat * 255).astype(np.uint8)].astype(np.float32)
    alpha = (HEAT_ALPHA * np.sqrt(heat))[..., None]
    base = np.asarray(gray, np.float32)[..., None]
    return Image.fromarray(np.uint8(np.rint((1 - alpha) * base + alpha * colour)), "RGB")


def _colour_bar(canvas, draw, table, corner, height, font):
    """A vertical colour bar, 1 at the top and 0 at the bottom, with three ticks."""
    left, top = corner
    rows = table[np.linspace(255, 0, height).round().astype(np.int64)]
    bar = np.repeat(rows[:, None, :], _BAR_WIDTH, axis=1)
    canvas.paste(Image.fromarray(bar, "RGB"), (left, top))
    for value in (1.0, 0.5, 0.0):
        y = top + round((1 - value) * (height - 1))
        draw.line([(left + _BAR_WIDTH, y), (left + _BAR_WIDTH + 3, y)], fill=TEXT)
        text_y = min(max(y - 7, top), top + height - 14)
        draw.text((left + _BAR_WIDTH + 6, text_y), f"{value:.1f}", fill=TEXT, font=font)


def pil_font(size):
    """Pillow's built-in font at ``size`` pixels (one size on Pillow before 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:           # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def save_png(picture, path):
    """Write a Pillow image as PNG; a failure is a one-line ConfigError."""
    # Written beside the target and renamed over it, so Ctrl+C never leaves half a PNG.
    try:
        with atomic_write(path) as handle:
            picture.save(handle, format="PNG")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None

