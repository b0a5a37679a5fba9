"""All-or-nothing file writes."""
import os
import stat

import pytest

from cnn_core.atomic import atomic_write


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_finished_write_replaces_the_file_with_the_mode_asked(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_write(target, mode=0o640) as handle:
        handle.write(b"new")
        assert target.read_bytes() == b"old"            # nothing visible until the end
        assert os.path.dirname(handle.name) == str(tmp_path)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, ValueError, OSError])
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, interruption):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(interruption):
        with atomic_write(target) as handle:
            handle.write(b"half")
            raise interruption()
    assert target.read_bytes() == b"old"
    assert hidden(tmp_path) == []


def test_the_temporary_is_named_like_the_target_for_later_clean_up(tmp_path):
    with atomic_write(tmp_path / "model.npz") as handle:
        name = os.path.basename(handle.name)
    assert name.startswith(".model.npz.") and name.endswith(".tmp")
    assert "." not in name[len(".model.npz."):-len(".tmp")]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "models" / "v1.npz"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "current.npz"
    link.symlink_to(target)
    with atomic_write(link) as handle:
        handle.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert hidden(target.parent) == [] and hidden(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_path_that_is_not_a_regular_file_is_refused_and_kept(tmp_path):
    pipe = tmp_path / "pipe.npz"
    os.mkfifo(pipe)
    with pytest.raises(OSError, match="not a regular file"):
        with atomic_write(pipe) as handle:
            handle.write(b"new")
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert hidden(tmp_path) == []
