"""Export what the app shows: panels as PNG, learning across epochs as GIF, history as CSV.

Plain functions of arrays and widgets; the main window asks where to write.
Each returns nothing and raises ``OSError`` when the file cannot be written.
"""
import csv
import dataclasses

import numpy as np
from PIL import Image, ImageDraw

from cnn_core.kernels import kernel_mosaic

from .images import HEAT_COLOUR_MAP, heat_over_digit, lookup_table
from .style import KERNEL_COLOUR_MAP

HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                   "seconds", "lr")
LANDSCAPE_COLUMNS = ("x", "y", "loss", "accuracy")
BACKGROUND = (255, 255, 255)
CAPTION_HEIGHT = 16
BAR_HEIGHT = 8
FRAME_MS = 700


def widget_png(widget, path):
    """Save what ``widget`` shows (children included) as a PNG."""
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")


def history_csv(history, path):
    """Write epoch records (``cnn_core.trainer.EpochRecord``) as CSV, one row per epoch."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_COLUMNS)
        for record in history:
            row = dataclasses.asdict(record)
            writer.writerow([row[name] for name in HISTORY_COLUMNS])


def landscape_csv(grid, path):
    """Write a loss grid (``cnn_core.landscape.Grid``: ``xs (nx,)``, ``ys (ny,)``,
    ``loss`` and ``accuracy (ny, nx)``) as CSV, one row per point of the plane."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LANDSCAPE_COLUMNS)
        for row, y in enumerate(grid.ys):
            for column, x in enumerate(grid.xs):
                writer.writerow([repr(float(x)), repr(float(y)),
                                 repr(float(grid.loss[row, column])),
                                 repr(float(grid.accuracy[row, column]))])


def kernels_gif(snapshots, conv_names, path, scale=2):
    """Animate the conv kernels across epochs: one frame per snapshot, layers side by side.

    Parameters
    ----------
    snapshots : mapping of int to dict
        ``{epoch: state_dict}``, as the training controller keeps them (older
        epochs are read from disk one at a time).
    conv_names : list of str
    """
    table = lookup_table(KERNEL_COLOUR_MAP)
    frames = []
    for epoch in sorted(snapshots):
        tiles = []
        for name in conv_names:
            mosaic, limit = kernel_mosaic(snapshots[epoch][f"{name}.weight"])
            tile = _enlarged(_coloured(mosaic, limit, table), scale)
            tiles.append(_with_scale(tile, table, (f"-{limit:.2g}", "0", f"+{limit:.2g}")))
        frames.append(_captioned(_side_by_side(tiles), f"epoch {epoch}"))
    _write_gif(frames, path)


def gradcam_gif(digit, frames, path, scale=8):
    """Animate a pinned drawing's Grad-CAM across epochs.

    Parameters
    ----------
    digit : ndarray (28, 28)
    frames : list of (epoch, heatmap (28, 28), predicted, probability)
    """
    table = lookup_table(HEAT_COLOUR_MAP)
    images = []
    for epoch, heatmap, predicted, probability in frames:
        image = _with_scale(_enlarged(heat_over_digit(digit, heatmap, table), scale), table,
                            ("0", "Grad-CAM", "1"))
        images.append(_captioned(image, f"epoch {epoch}: {predicted} ({probability:.0%})"))
    _write_gif(images, path)


def _coloured(mosaic, limit, table):
    """A kernel mosaic through a diverging colour map, zero in the middle, gaps white."""
    limit = limit or 1.0
    index = np.clip((np.nan_to_num(mosaic) / limit + 1) * 127.5, 0, 255).astype(np.uint8)
    rgb = table[index]
    rgb[np.isnan(mosaic)] = BACKGROUND
    return rgb


def _enlarged(rgb, scale):
    """An ``(H, W, 3)`` uint8 picture as a PIL image ``scale`` times larger, pixels kept sharp."""
    return Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale),
                                       Image.Resampling.NEAREST)


def _with_scale(image, table, labels):
    """``image`` over a colour bar of its colour map ``table``, labelled (left, middle, right).

    The bar is at least wide enough for its end labels; a narrower image is centred over it.
    """
    left, middle, right = labels
    measure = ImageDraw.Draw(image).textlength
    width = max(image.width, int(measure(left) + measure(right)) + 8)
    strip = table[np.linspace(0, 255, width).astype(np.uint8)]
    bar = Image.fromarray(np.repeat(strip[None], BAR_HEIGHT, axis=0).astype(np.uint8))
    framed = Image.new("RGB", (width, image.height + BAR_HEIGHT + CAPTION_HEIGHT), BACKGROUND)
    framed.paste(image, ((width - image.width) // 2, 0))
    framed.paste(bar, (0, image.height))
    draw = ImageDraw.Draw(framed)
    top = image.height + BAR_HEIGHT + 2
    draw.text((0, top), left, fill=(0, 0, 0))
    draw.text((width - measure(right), top), right, fill=(0, 0, 0))
    if measure(middle) + 8 <= width - measure(left) - measure(right):   # room for it too
        draw.text(((width - measure(middle)) / 2, top), middle, fill=(0, 0, 0))
    return framed


def _side_by_side(images, gap=8):
    height = max(image.height for image in images)
    width = sum(image.width for image in images) + gap * (len(images) - 1)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width + gap
    return canvas


def _captioned(image, text):
    framed = Image.new("RGB", (max(image.width, 120), image.height + CAPTION_HEIGHT), BACKGROUND)
    framed.paste(image, (0, CAPTION_HEIGHT))
    ImageDraw.Draw(framed).text((2, 2), text, fill=(0, 0, 0))
    return framed


def _write_gif(frames, path):
    if not frames:
        raise ValueError("nothing to animate yet")
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:],
                   duration=FRAME_MS, loop=0)
