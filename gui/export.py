"""Export what the app shows: panels as PNG, learning across epochs as GIF, history as CSV.

Plain functions of arrays and widgets; the main window asks where to write.
Each returns nothing and raises ``OSError`` when the file cannot be written.
"""
import csv
import dataclasses

import numpy as np
from PIL import Image, ImageDraw

from cnn_core.kernels import kernel_mosaic

from .draw.images import HEAT_COLOUR_MAP, heat_over_digit, lookup_table
from .style import KERNEL_COLOUR_MAP

HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                   "seconds", "lr")
BACKGROUND = (255, 255, 255)
CAPTION_HEIGHT = 16
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
        tiles = [_coloured(*kernel_mosaic(snapshots[epoch][f"{name}.weight"]), table)
                 for name in conv_names]
        frames.append(_captioned(_side_by_side(tiles, scale), f"epoch {epoch}"))
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
        rgb = heat_over_digit(digit, heatmap, table)
        image = Image.fromarray(rgb).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
        images.append(_captioned(image, f"epoch {epoch}: {predicted} ({probability:.0%})"))
    _write_gif(images, path)


def _coloured(mosaic, limit, table):
    """A kernel mosaic through a diverging colour map, zero in the middle, gaps white."""
    limit = limit or 1.0
    index = np.clip((np.nan_to_num(mosaic) / limit + 1) * 127.5, 0, 255).astype(np.uint8)
    rgb = table[index]
    rgb[np.isnan(mosaic)] = BACKGROUND
    return rgb


def _side_by_side(tiles, scale, gap=8):
    height = max(t.shape[0] for t in tiles) * scale
    width = sum(t.shape[1] * scale for t in tiles) + gap * (len(tiles) - 1)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    x = 0
    for tile in tiles:
        image = Image.fromarray(tile).resize((tile.shape[1] * scale, tile.shape[0] * scale),
                                             Image.Resampling.NEAREST)
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
