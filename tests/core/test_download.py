"""The MNIST downloader against a real HTTP server on 127.0.0.1.

The server's first path segment chooses how it behaves, so one server can play
a good mirror (``/good/``), a missing one (``/missing/``), a corrupting one
(``/corrupt/``), one that drops the connection halfway (``/cut/``) and a slow
one (``/slow/``).
"""
import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest

from cnn_core import data
from cnn_core.data import load_mnist, read_idx, write_idx
from cnn_core.download import (MIRRORS, MNIST_MD5, DownloadCancelled, download_mnist,
                               is_mnist_downloaded)
from cnn_core.errors import DownloadError


def make_mnist_like_files(folder):
    """Small MNIST-named IDX files; random pixels so the images do not compress."""
    rng = np.random.default_rng(1)
    folder.mkdir()
    for (images_name, labels_name), n in zip((data.MNIST_TRAIN_FILES, data.MNIST_TEST_FILES),
                                             (300, 40)):
        write_idx(folder / images_name, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / labels_name, rng.integers(0, 10, n, dtype=np.uint8))
    return {name: (folder / name).read_bytes() for name in data.MNIST_FILES}


class MirrorHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        mode, _, name = self.path.strip("/").partition("/")
        body = self.server.files.get(name)
        if mode == "missing" or body is None:
            self.send_error(404)
            return
        if mode == "slow":
            time.sleep(0.3)
        if mode == "corrupt":
            body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "cut":
            # Promise the whole file, send half, hang up.
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        try:
            self.wfile.write(body)
        except ConnectionError:
            pass  # the client gave up on a slow mirror, as it should

    def log_message(self, *args):
        pass  # keep the test output clean


@pytest.fixture
def mirror(tmp_path):
    files = make_mnist_like_files(tmp_path / "served")
    server = ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    server.files, server.requests = files, []
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield SimpleNamespace(
        url=url, files=files, requests=server.requests,
        checksums={name: hashlib.md5(body).hexdigest() for name, body in files.items()})
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def dead_url():
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def get(mirror, cache, *modes, **options):
    return download_mnist(cache, mirrors=[mirror.url + m + "/" for m in modes],
                          checksums=mirror.checksums, timeout=options.pop("timeout", 5), **options)


def test_published_checksums_and_mirrors():
    assert tuple(MNIST_MD5) == data.MNIST_FILES
    assert MNIST_MD5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert all(len(md5) == 32 for md5 in MNIST_MD5.values())
    assert len(MIRRORS) >= 2 and all(m.startswith(("https://", "http://")) and m.endswith("/")
                                     for m in MIRRORS)


def test_download_lands_verified_files_and_reports_progress(mirror, tmp_path):
    cache = tmp_path / "cache"
    calls = []
    assert not is_mnist_downloaded(cache, checksums=mirror.checksums)
    assert get(mirror, cache, "good", progress=lambda *a: calls.append(a)) == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(data.MNIST_FILES)
    for name, body in mirror.files.items():
        assert (cache / name).read_bytes() == body
        done = [d for n, d, _ in calls if n == name]
        assert done == sorted(done) and done[-1] == len(body)
        assert {t for n, _, t in calls if n == name} == {len(body)}
    assert len([n for n, _, _ in calls if n == "train-images-idx3-ubyte.gz"]) > 2  # streamed in chunks
    assert read_idx(cache / "train-images-idx3-ubyte.gz").shape == (300, 28, 28)
    train, test = load_mnist(cache)
    assert (len(train), len(test)) == (300, 40)
    assert is_mnist_downloaded(cache, checksums=mirror.checksums)


def test_missing_on_first_mirror_then_found_on_second(mirror, tmp_path):
    get(mirror, tmp_path / "cache", "missing", "good")
    assert is_mnist_downloaded(tmp_path / "cache", checksums=mirror.checksums)
    assert [p.split("/")[1] for p in mirror.requests] == ["missing", "good"] * 4


@pytest.mark.parametrize("bad", ["corrupt", "cut", "slow"])
def test_bad_mirror_falls_through_to_the_next(mirror, tmp_path, bad):
    get(mirror, tmp_path / "cache", bad, "good", timeout=0.1)
    for name, body in mirror.files.items():
        assert (tmp_path / "cache" / name).read_bytes() == body


@pytest.mark.parametrize("bad, message", [
    ("corrupt", "checksum mismatch"),
    ("cut", "truncated|connection lost"),
    ("missing", "every mirror failed.*HTTP 404"),
    ("slow", "timed out"),
])
def test_bad_only_mirror_leaves_nothing_behind(mirror, tmp_path, bad, message):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=message) as info:
        get(mirror, cache, bad, timeout=0.1)
    text = str(info.value)
    assert "\n" not in text and "train-images-idx3-ubyte.gz" in text
    assert "bundled 5,000-image sample still works" in text
    assert list(cache.iterdir()) == []  # no final file, no temporary file


def test_unreachable_mirror_says_offline(mirror, tmp_path, dead_url):
    with pytest.raises(DownloadError, match=r"no MNIST mirror could be reached \(offline\?\)"):
        download_mnist(tmp_path / "cache", mirrors=[dead_url, dead_url + "x/"],
                       checksums=mirror.checksums, timeout=2)
    assert list((tmp_path / "cache").iterdir()) == []


def test_file_with_the_right_checksum_must_still_parse(mirror, tmp_path):
    junk = b"this is not an IDX file"
    mirror.files["junk.gz"] = junk
    with pytest.raises(DownloadError, match="not a valid IDX file"):
        download_mnist(tmp_path / "cache", mirrors=[mirror.url + "good/"],
                       checksums={"junk.gz": hashlib.md5(junk).hexdigest()})
    assert list((tmp_path / "cache").iterdir()) == []


def test_cancel_stops_and_keeps_nothing(mirror, tmp_path):
    polls = []

    def should_cancel():
        polls.append(1)
        return len(polls) > 2  # after two chunks of the first file

    with pytest.raises(DownloadCancelled, match="cancelled") as info:
        get(mirror, tmp_path / "cache", "good", should_cancel=should_cancel)
    assert isinstance(info.value, DownloadError)
    assert list((tmp_path / "cache").iterdir()) == []


def test_keyboard_interrupt_keeps_nothing(mirror, tmp_path):
    def progress(name, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        get(mirror, tmp_path / "cache", "good", progress=progress)
    assert list((tmp_path / "cache").iterdir()) == []


def test_valid_files_are_not_downloaded_again(mirror, tmp_path):
    cache = tmp_path / "cache"
    get(mirror, cache, "good")
    assert len(mirror.requests) == 4
    calls = []
    get(mirror, cache, "good", progress=lambda *a: calls.append(a))
    assert len(mirror.requests) == 4
    assert sorted(n for n, _, _ in calls) == sorted(data.MNIST_FILES)  # reported as done
    # A damaged copy is replaced, and only that one is fetched.
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    get(mirror, cache, "good")
    assert mirror.requests[4:] == ["/good/t10k-labels-idx1-ubyte.gz"]
    assert (cache / "t10k-labels-idx1-ubyte.gz").read_bytes() == mirror.files["t10k-labels-idx1-ubyte.gz"]


def test_cache_folder_that_cannot_be_created(mirror, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(DownloadError, match="cannot save MNIST in"):
        get(mirror, tmp_path / "a-file" / "cache", "good")
    assert mirror.requests == []
