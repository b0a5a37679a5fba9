"""Draw the app icon: an SVG, PNGs at the usual sizes and a Windows .ico, from one description.

The icon is a handwritten "7" on dark paper under a Grad-CAM-like glow, with a
3×3 kernel grid in the corner.  Run from the repository root::

    python tools/make_icons.py
"""
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
BACKGROUND = "#1d2330"
STROKE = [(62, 70), (190, 70), (118, 200)]          # the "7", on a 256 grid
GLOW = (150, 120, 70)                               # centre and radius of the heat
KERNEL = [(170, 160), (76, 68, 60)]                 # top-left corner; cell shades
CELL, GAP = 20, 3


def cell_colour(row, col):
    """RGB of one kernel cell: blues of three lightnesses in a checker-like pattern."""
    level = KERNEL[1][(row + col) % 3]
    return int(40 + 1.4 * level), int(90 + 1.3 * level), int(160 + level)


def svg():
    cells = []
    for row in range(3):
        for col in range(3):
            x = KERNEL[0][0] + col * (CELL + GAP)
            y = KERNEL[0][1] + row * (CELL + GAP)
            colour = "#%02x%02x%02x" % cell_colour(row, col)
            cells.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" rx="3" '
                         f'fill="{colour}"/>')
    points = " ".join(f"{x},{y}" for x, y in STROKE)
    cx, cy, r = GLOW
    return f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 256 256" width="256" height="256">
  <defs>
    <radialGradient id="heat" cx="{cx}" cy="{cy}" r="{r}" gradientUnits="userSpaceOnUse">
      <stop offset="0" stop-color="#fcd34d" stop-opacity="0.95"/>
      <stop offset="0.45" stop-color="#f97316" stop-opacity="0.6"/>
      <stop offset="1" stop-color="#7c3aed" stop-opacity="0"/>
    </radialGradient>
  </defs>
  <rect width="256" height="256" rx="48" fill="{BACKGROUND}"/>
  <circle cx="{cx}" cy="{cy}" r="{r}" fill="url(#heat)"/>
  <polyline points="{points}" fill="none" stroke="#ffffff" stroke-width="26"
            stroke-linecap="round" stroke-linejoin="round"/>
  {chr(10).join('  ' + c for c in cells).strip()}
</svg>
"""


def png(size):
    scale = 4 * size / 256          # draw large, then shrink: smooth edges at every size
    big = int(256 * scale)
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=48 * scale, fill=BACKGROUND)
    glow = Image.new("RGBA", image.size, (0, 0, 0, 0))
    cx, cy, r = (v * scale for v in GLOW)
    ImageDraw.Draw(glow).ellipse([cx - r * 0.6, cy - r * 0.6, cx + r * 0.6, cy + r * 0.6],
                                 fill=(249, 150, 40, 255))
    glow = glow.filter(ImageFilter.GaussianBlur(r * 0.3))
    image = Image.alpha_composite(image, glow)
    draw = ImageDraw.Draw(image)
    draw.line([(x * scale, y * scale) for x, y in STROKE], fill="white",
              width=int(26 * scale), joint="curve")
    for x, y in (STROKE[0], STROKE[-1]):
        half = 13 * scale
        draw.ellipse([x * scale - half, y * scale - half, x * scale + half, y * scale + half],
                     fill="white")
    for row in range(3):
        for col in range(3):
            shade = cell_colour(row, col)
            x = (KERNEL[0][0] + col * (CELL + GAP)) * scale
            y = (KERNEL[0][1] + row * (CELL + GAP)) * scale
            draw.rounded_rectangle([x, y, x + CELL * scale, y + CELL * scale],
                                   radius=3 * scale, fill=shade)
    return image.resize((size, size), Image.LANCZOS)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "explainable-cnn.svg").write_text(svg())
    for size in SIZES:
        png(size).save(OUT / f"explainable-cnn-{size}.png", optimize=True)
    # Windows shortcuts take an .ico holding several sizes.
    png(256).save(OUT / "explainable-cnn.ico",
                  sizes=[(size, size) for size in SIZES if size <= 256])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
