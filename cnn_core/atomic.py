"""Write files so that no reader, crash or Ctrl+C ever finds one half-written."""
import errno
import os
import secrets
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode=0o644, durable=False):
    """Open ``path`` for writing bytes, all or nothing.

    The bytes go to a hidden ``.NAME.XXXXXXXX.tmp`` beside ``path``.  When the
    block ends normally the file gets ``mode`` (and, with ``durable``, reaches
    the disk) and is renamed over ``path``; on any exception, Ctrl+C included,
    it is removed and ``path`` is untouched.  The temporary name is chosen
    before the file exists (``tempfile.mkstemp`` names it only after creating
    it), so an interrupt at any moment cannot orphan it.

    A symlink is written through (its target is replaced, the link stays); a
    ``path`` that exists but is not a regular file raises ``OSError``.

    Yields
    ------
    file
        Open for binary writing; ``.name`` is the temporary path, for a caller
        that wants to check what it wrote before the rename.
    """
    path = Path(os.path.realpath(path))     # through a symlink to the file it names
    if path.exists() and not path.is_file():
        # Renaming over a device, a pipe or a folder would replace it with a file.
        raise OSError(errno.EEXIST, "it exists and is not a regular file", str(path))
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
