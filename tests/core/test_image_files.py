"""Tests for digit_files: reading real image files with Pillow, safely."""
import io
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_files import MAX_PIXELS, WORK_SIDE, load_image, load_image_bytes
from cnn_core.errors import ImageError
from cnn_core.preprocessing import preprocess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def gray():
    """A dark "L"-shaped digit on white paper, uint8 (60, 40)."""
    image = np.full((60, 40), 255, np.uint8)
    image[10:50, 12:18] = 0
    image[44:50, 12:30] = 30
    image[9, 12:18] = 128   # a grey edge, to check values are kept exactly
    return image


def save(tmp_path, image, name, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


def write_blank_png(path, width, height):
    """A 1-bit PNG of any size, a few hundred kB, written without Pillow.

    Pillow would need ``width * height`` bytes of memory to build it; here
    rows of zeros are streamed through zlib a block at a time.
    """
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" * (1 + (width + 7) // 8)   # filter byte + packed bits
    compressor = zlib.compressobj(9)
    block_rows = 1000
    idat = bytearray()
    for start in range(0, height, block_rows):
        idat += compressor.compress(row * min(block_rows, height - start))
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", bytes(idat)) + chunk(b"IEND", b""))
    return path


def test_gray_png_is_read_exactly(tmp_path, gray):
    loaded = load_image(save(tmp_path, Image.fromarray(gray), "digit.png"))
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, gray / 255.0, atol=1e-6)


def test_rgb_png_becomes_luma(tmp_path):
    colours = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    loaded = load_image(save(tmp_path, Image.fromarray(colours), "rgb.png"))
    assert loaded.shape == (1, 4)
    np.testing.assert_allclose(loaded, [[0.299, 0.587, 0.114, 1.0]], atol=3e-3)


def test_rgba_with_transparent_background_keeps_alpha(tmp_path, gray):
    rgba = np.zeros(gray.shape + (4,), np.uint8)
    rgba[:, :, 3] = 255 - gray          # black strokes on a transparent sheet
    loaded = load_image(save(tmp_path, Image.fromarray(rgba), "strokes.png"))
    assert loaded.shape == gray.shape + (4,)
    np.testing.assert_allclose(preprocess(loaded), preprocess(gray), atol=1e-5)


def test_gray_with_alpha_becomes_rgba(tmp_path, gray):
    la = Image.merge("LA", [Image.fromarray(gray), Image.fromarray(np.full_like(gray, 255))])
    loaded = load_image(save(tmp_path, la, "la.png"))
    assert loaded.shape == gray.shape + (4,)
    np.testing.assert_allclose(loaded[:, :, 0], gray / 255.0, atol=1e-6)


def test_palette_png(tmp_path, gray):
    palette = Image.fromarray(gray).convert("P")
    assert palette.mode == "P"
    loaded = load_image(save(tmp_path, palette, "palette.png"))
    np.testing.assert_allclose(loaded, gray / 255.0, atol=1e-6)


def test_palette_png_with_transparency(tmp_path, gray):
    palette = Image.fromarray(gray).convert("P")
    background = palette.getpixel((0, 0))
    loaded = load_image(save(tmp_path, palette, "palette.png", transparency=background))
    assert loaded.shape == gray.shape + (4,)
    assert loaded[0, 0, 3] == 0.0 and loaded[30, 14, 3] == 1.0


def test_16_bit_png_keeps_its_depth(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 32).reshape(64, 32).astype(np.uint16)
    path = save(tmp_path, Image.fromarray(ramp), "deep.png")
    assert Image.open(path).mode.startswith("I")
    np.testing.assert_allclose(load_image(path), ramp / 65535.0, atol=1e-6)


def test_1_bit_png(tmp_path, gray):
    path = save(tmp_path, Image.fromarray(gray).convert("1", dither=Image.Dither.NONE), "bw.png")
    loaded = load_image(path)
    assert set(np.unique(loaded)) == {0.0, 1.0}
    np.testing.assert_array_equal(loaded, (gray >= 128).astype(np.float32))


def test_jpeg_is_close_to_the_original(tmp_path, gray):
    loaded = load_image(save(tmp_path, Image.fromarray(gray), "digit.jpg", quality=95))
    assert loaded.shape == gray.shape
    assert np.abs(loaded - gray / 255.0).mean() < 0.02
    assert np.corrcoef(preprocess(loaded).ravel(), preprocess(gray).ravel())[0, 1] > 0.98


def test_exif_orientation_is_applied(tmp_path, gray):
    exif = Image.Exif()
    exif[0x0112] = 6   # "rotate 90° clockwise to display"
    for name in ("phone.jpg", "phone.png"):
        loaded = load_image(save(tmp_path, Image.fromarray(gray), name, exif=exif))
        assert loaded.shape == (40, 60)
        upright = np.rot90(gray, k=-1) / 255.0
        assert np.abs(loaded - upright).mean() < 0.01
        assert np.abs(loaded - upright[::-1, ::-1]).mean() > 0.1


def test_cmyk_is_converted(tmp_path, gray):
    cmyk = Image.fromarray(gray).convert("CMYK")
    loaded = load_image(save(tmp_path, cmyk, "print.jpg", quality=95))
    assert loaded.ndim == 2
    assert np.abs(loaded - gray / 255.0).mean() < 0.05


def test_large_image_is_reduced_to_the_working_size(tmp_path):
    wide = np.full((300, 5000), 255, np.uint8)
    wide[100:200, 2000:2300] = 0
    loaded = load_image(save(tmp_path, Image.fromarray(wide), "wide.png"))
    assert max(loaded.shape) <= WORK_SIDE
    assert loaded.shape == (100, 1667)
    assert loaded.min() == 0.0 and loaded.max() == 1.0


def test_big_jpeg_is_decoded_at_a_fraction_of_its_size(tmp_path):
    photo = Image.new("L", (9000, 5000), 255)   # 45 megapixels
    photo.paste(0, (4000, 2000, 5000, 3000))
    path = save(tmp_path, photo, "photo.jpg")
    assert 9000 * 5000 > MAX_PIXELS
    loaded = load_image(path)
    assert max(loaded.shape) <= WORK_SIDE
    assert loaded.mean() == pytest.approx(1 - 1 / 45, abs=0.01)


def test_huge_png_is_refused_before_decoding(tmp_path):
    path = write_blank_png(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(ImageError, match="too large"):
        load_image(path)


def test_huge_png_below_pillows_bomb_limit_is_refused_too(tmp_path):
    path = write_blank_png(tmp_path / "big.png", 12000, 12000)   # 144 Mpx
    with pytest.raises(ImageError, match=r"too large \(12000×12000"):
        load_image(path)


def test_refusing_a_huge_png_needs_little_memory(tmp_path):
    path = write_blank_png(tmp_path / "huge.png", 20000, 20000)
    script = textwrap.dedent(f"""
        from digit_files import load_image
        from cnn_core.errors import ImageError
        for name in ({str(path)!r}, {str(write_blank_png(tmp_path / "big.png", 9000, 9000))!r}):
            try:
                load_image(name)
            except ImageError as error:
                print(error)
        # VmHWM, unlike ru_maxrss, starts afresh at exec: it is this process's own peak.
        status = open("/proc/self/status").read()
        print(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM")))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "too large" in lines[0] and "too large" in lines[1]
    peak_mb = int(lines[-1]) / 1024   # kilobytes
    assert peak_mb < 250   # decoding 20000² would take 400 MB


@pytest.mark.parametrize("content, message", [
    (b"this is not a picture\n", "not an image"),
    (b"", "empty"),
], ids=["text", "empty"])
def test_not_an_image(tmp_path, content, message):
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as caught:
        load_image(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_truncated_png(tmp_path):
    noisy = np.random.default_rng(0).integers(0, 256, (200, 200), np.uint8)
    full = save(tmp_path, Image.fromarray(noisy), "full.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(full[:len(full) // 2])
    with pytest.raises(ImageError, match="not an image") as caught:
        load_image(path)
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nowhere.png")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_bytes_read_like_files(tmp_path, gray):
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, "PNG")
    from_bytes = load_image_bytes(buffer.getvalue(), "clipboard")
    from_file = load_image(save(tmp_path, Image.fromarray(gray), "a.png"))
    np.testing.assert_array_equal(from_bytes, from_file)


@pytest.mark.parametrize("data, message", [(b"", "empty"), (b"GIF89a-broken", "not an image")])
def test_bad_bytes_name_their_source(data, message):
    with pytest.raises(ImageError, match=f"^clipboard: .*{message}"):
        load_image_bytes(data, "clipboard")
