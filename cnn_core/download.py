"""Download the full MNIST data set (60,000 training and 10,000 test images).

Each of the four files is tried on several public mirrors in turn, streamed
into a temporary file in the cache folder while its MD5 is computed, checked
against the published checksum and parsed as IDX; only then is it renamed to
its final name.  So a file under its final name is always complete and
verified, and an interrupted or failed download leaves nothing behind.

Run ``python main.py download`` to download from the command line.
"""
import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cnn_core import paths
from cnn_core.atomic import atomic_write
from cnn_core.data import read_idx
from cnn_core.errors import DataError, DownloadError

#: Published MD5 checksums of the MNIST files (as listed by torchvision).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: Tried in this order; each serves the four files under the same names.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",   # PyTorch's mirror (torchvision)
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # CVDF's mirror (TensorFlow, JAX)
    "http://yann.lecun.com/exdb/mnist/",                # the original site, often refuses scripts
)

CHUNK_SIZE = 64 * 1024
_SAMPLE_STILL_WORKS = "the bundled 5,000-image sample still works"


class DownloadCancelled(DownloadError):
    """The person cancelled the download; nothing partial was kept."""


class _MirrorFailed(Exception):
    """One mirror could not deliver a good file; the next one may.

    ``offline`` is True when the mirror could not be reached at all, as
    opposed to answering with an error or a bad file.
    """

    def __init__(self, reason, offline=False):
        super().__init__(reason)
        self.offline = offline


def _md5_of_file(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _has_valid_copy(path, md5):
    try:
        return path.is_file() and _md5_of_file(path) == md5
    except OSError:
        return False


def _open(url, timeout):
    """Open ``url``, turning every network failure into :class:`_MirrorFailed`."""
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _MirrorFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _MirrorFailed(f"unreachable ({exc.reason})", offline=True) from None
    except TimeoutError:
        raise _MirrorFailed("timed out", offline=True) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _MirrorFailed(f"connection failed ({exc})", offline=True) from None


def _stream(url, out, name, progress, should_cancel, timeout):
    """Copy ``url`` into the open file ``out``; return its MD5 hex digest.

    Raises
    ------
    _MirrorFailed
        If the mirror is unreachable, refuses, times out or stops early.
    DownloadCancelled
        If ``should_cancel()`` turns True.
    """
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    with _open(url, timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        while True:
            if should_cancel is not None and should_cancel():
                raise DownloadCancelled(f"download of {name} cancelled")
            try:
                chunk = response.read(CHUNK_SIZE)
            except TimeoutError:
                raise _MirrorFailed("timed out") from None
            except (OSError, http.client.HTTPException) as exc:
                raise _MirrorFailed(f"connection lost after {done} bytes ({exc})") from None
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(name, done, total)
    # http.client in some Python versions returns a short body without error.
    if total is not None and done != total:
        raise _MirrorFailed(f"truncated: got {done} of {total} bytes")
    return digest.hexdigest()


def _fetch(url, final, md5, progress, should_cancel, timeout):
    """Download ``url`` to ``final`` through a verified temporary file."""
    # Also on cancel and Ctrl+C: no partial file may outlive the attempt.
    with atomic_write(final) as out:
        got = _stream(url, out, final.name, progress, should_cancel, timeout)
        if got != md5:
            raise _MirrorFailed(f"checksum mismatch (md5 {got}, expected {md5})")
        out.flush()
        try:
            read_idx(out.name, name=final.name)
        except DataError as exc:
            raise _MirrorFailed(f"not a valid IDX file ({exc})") from None


def _failure_message(name, failures):
    """One line: why ``name`` could not be had from any mirror."""
    details = "; ".join(f"{urllib.parse.urlsplit(url).netloc}: {exc}" for url, exc in failures)
    if not failures:
        headline = "no mirror to try"
    elif all(exc.offline for _, exc in failures):
        headline = "no MNIST mirror could be reached (offline?)"
    elif any("checksum mismatch" in str(exc) for _, exc in failures):
        headline = "checksum mismatch"
    else:
        headline = "every mirror failed"
    return f"cannot download {name}: {headline} [{details}]; {_SAMPLE_STILL_WORKS}"


def configured_mirrors():
    """The mirrors to use: only ``EXPLAINABLE_CNN_MNIST_MIRROR`` (one base URL) if set.

    Lets a person behind a proxy, or a classroom with a local copy, point the
    app at their own server.
    """
    own = os.environ.get("EXPLAINABLE_CNN_MNIST_MIRROR")
    return (own.rstrip("/") + "/",) if own else MIRRORS


def download_mnist(cache_dir=None, mirrors=None, progress=None, should_cancel=None,
                   timeout=20, checksums=None):
    """Download the four MNIST files into the cache folder, verifying each.

    Parameters
    ----------
    cache_dir : str or Path, optional
        Destination folder, created if needed; default
        :func:`cnn_core.paths.mnist_cache_dir`.
    mirrors : sequence of str, optional
        Base URLs ending in ``/``, tried in order for every file; default
        :func:`configured_mirrors`.
    progress : callable, optional
        ``progress(file_name, bytes_done, bytes_total_or_None)``, called after
        every chunk (and once for a file that is already present).
    should_cancel : callable, optional
        Polled before every chunk; when it returns True the download stops.
    timeout : float
        Seconds to wait for a connection or a chunk before trying the next mirror.
    checksums : dict of str to str, optional
        File name -> MD5 hex digest; default :data:`MNIST_MD5`.

    Returns
    -------
    Path
        The cache folder, holding every file of ``checksums``.

    Raises
    ------
    DownloadCancelled
        If ``should_cancel()`` returned True; no partial file is left.
    DownloadError
        If a file could not be had intact from any mirror, or the cache folder
        cannot be written.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.mnist_cache_dir()
    checksums = MNIST_MD5 if checksums is None else checksums
    mirrors = configured_mirrors() if mirrors is None else mirrors
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for name, md5 in checksums.items():
            final = cache_dir / name
            if _has_valid_copy(final, md5):
                if progress is not None:
                    size = final.stat().st_size
                    progress(name, size, size)
                continue
            failures = []
            for mirror in mirrors:
                try:
                    _fetch(mirror + name, final, md5, progress, should_cancel, timeout)
                    break
                except _MirrorFailed as exc:
                    failures.append((mirror, exc))
            else:
                raise DownloadError(_failure_message(name, failures))
    except OSError as exc:
        # Network faults are _MirrorFailed by now; what is left is the local disk.
        raise DownloadError(f"cannot save MNIST in {cache_dir}: {exc.strerror or exc}; "
                            f"{_SAMPLE_STILL_WORKS}") from None
    return cache_dir


def is_mnist_downloaded(cache_dir=None, checksums=None):
    """Tell whether every MNIST file is in the cache folder.

    Only verified files ever get their final names, so checking that they
    exist is enough (and cheap enough for the GUI to call often).

    Parameters
    ----------
    cache_dir : str or Path, optional
        Default :func:`cnn_core.paths.mnist_cache_dir`.
    checksums : dict of str to str, optional
        The expected files; default :data:`MNIST_MD5`.

    Returns
    -------
    bool
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.mnist_cache_dir()
    checksums = MNIST_MD5 if checksums is None else checksums
    return all((cache_dir / name).is_file() for name in checksums)
