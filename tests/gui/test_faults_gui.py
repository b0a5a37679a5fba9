"""Bad input and faults through the GUI: a message, and nothing in use changes (issue 8)."""
import http.server
import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from cnn_core.model_files import save_model
from cnn_core.network import Network
from tests.core.test_network import _damage

from .conftest import WAIT_MS, batch_points, press, set_fields, wait_paused
from .test_draw import draw_seven, open_draw_place, wait_analysed

BAD_MODELS = ["empty", "truncated", "not a zip", "missing array", "wrong shape", "nan weights",
              "future version", "metadata not json", "no metadata", "other architecture"]


def dismiss(qtbot, window, *words):
    box = window.last_message_box
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    text = box.text()
    assert all(w in text for w in words), text
    assert "Traceback" not in text and "\n" not in text.strip()
    box.button(QMessageBox.StandardButton.Ok).click()
    return text


@pytest.mark.reuse_window
@pytest.mark.parametrize("kind", BAD_MODELS)
def test_every_kind_of_bad_model_file_is_refused_and_the_model_kept(window, qtbot, tmp_path, kind):
    path = tmp_path / "model.npz"
    save_model(path, Network(seed=1))
    _damage(kind, path)
    before = window.controller.current_model()
    assert window.open_model_file(path) is False
    dismiss(qtbot, window, "model.npz")
    assert window.controller.current_model() is before


def _png(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


@pytest.mark.reuse_window
def test_bad_images_are_refused_and_the_drawing_kept(window, qtbot, tmp_path):
    place = open_draw_place(window, qtbot)
    draw_seven(place.canvas)
    before = wait_analysed(qtbot, place)
    ink = place.canvas.ink()
    truncated = tmp_path / "cut.png"
    _png(truncated, np.full((64, 64), 200, np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:60])
    huge = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(huge)        # 1-bit: small on disk, 400 MB decoded
    blank = _png(tmp_path / "blank.png", np.full((50, 50), 255, np.uint8))
    pixel = _png(tmp_path / "pixel.png", np.full((1, 1), 0, np.uint8))  # no paper to tell ink by
    for path, words in [(truncated, "cut.png"), (huge, "too large"), (blank, "blank"),
                        (pixel, "blank")]:
        assert place.open_image_file(path) is False, path.name
        dismiss(qtbot, window, *([path.name] if words == path.name else [words]))
        np.testing.assert_array_equal(place.canvas.ink(), ink)
        assert place.controller.analysis is before


@pytest.mark.reuse_window
@pytest.mark.parametrize("kind", ["16-bit", "palette", "alpha"])
def test_unusual_but_valid_images_are_read(window, qtbot, tmp_path, kind):
    place = open_draw_place(window, qtbot)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255                               # a "1"
    path = tmp_path / f"{kind}.png"
    if kind == "16-bit":
        Image.fromarray(digit.astype(np.uint16) * 257).save(path)
    elif kind == "palette":
        Image.fromarray(digit).convert("P").save(path)
    elif kind == "alpha":
        rgba = np.zeros((28, 28, 4), np.uint8)
        rgba[..., 3] = digit                              # dark strokes on a transparent sheet
        Image.fromarray(rgba, "RGBA").save(path)
    assert place.open_image_file(path) is True
    analysis = wait_analysed(qtbot, place)
    assert analysis.probabilities.shape == (10,) and np.isfinite(analysis.probabilities).all()


@pytest.mark.reuse_window
def test_settings_out_of_range_are_kept_as_given_and_refused(window):
    fields = window.train_page.settings.fields
    for name, value, words in [("epochs", 0, "epochs"), ("batch_size", 0, "batch size"),
                               ("train_size", -5, "train")]:
        fields[name].setValue(value)
        assert fields[name].value() == value, name      # not clamped without a word
        press(window, "start")
        assert words in window.train_page.settings.error.text().lower(), name
        assert window.controller.state == "idle" and batch_points(window) == 0
        fields[name].setValue({"epochs": 10, "batch_size": 64, "train_size": 4000}[name])
    for text, words in [("-1", "learning rate"), ("nan", "learning rate"), ("1e9", "learning rate")]:
        set_fields(window, lr=text)
        press(window, "start")
        assert words in window.train_page.settings.error.text().lower()
        assert window.controller.state == "idle" and batch_points(window) == 0


def test_diverging_run_in_the_app_keeps_finite_weights(window, qtbot):
    set_fields(window, lr="50")
    press(window, "start")
    qtbot.waitUntil(lambda: window.controller.state == "idle", timeout=WAIT_MS)
    assert window.train_page.banner.isVisible()
    model = window.controller.current_model()
    assert all(np.isfinite(v).all() for v in model.weights.values())
    # The run went back to where it started, and every panel says so.
    qtbot.waitUntil(lambda: "after epoch 0" in window.controller.current_model().description,
                    timeout=WAIT_MS)
    assert window.train_page.progress.epoch_text.text() == "back at the start"
    assert batch_points(window) == 0


def test_closing_while_paused_ends_the_thread(window, qtbot):
    press(window, "start")
    qtbot.waitUntil(lambda: batch_points(window) > 0, timeout=WAIT_MS)
    press(window, "pause")
    wait_paused(qtbot, window)
    thread = window.controller._thread
    window.close()
    assert thread.isFinished()


class _TrickleHandler(http.server.BaseHTTPRequestHandler):
    """Serves a 'file' one byte every 50 ms, so a download is always in flight."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(2000):
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_closing_during_a_download_leaves_nothing_half_written(qtbot, private_data_folder):
    from gui.main_window import MainWindow
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TrickleHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        window = MainWindow(mirrors=(f"http://127.0.0.1:{server.server_port}/",))
        window.show()
        window.train_page.dataset.download_button.click()
        qtbot.waitUntil(lambda: window.downloader.busy, timeout=WAIT_MS)
        started = time.perf_counter()
        window.close()
        assert time.perf_counter() - started < 10
        qtbot.waitUntil(lambda: not window.downloader.busy, timeout=WAIT_MS)
        cache = private_data_folder / "mnist"
        assert not cache.exists() or list(cache.iterdir()) == []
    finally:
        server.shutdown()
        server.server_close()
