"""The epoch snapshot store: exact weights back from disk, little in memory, nothing left over."""
import gc
import os
import signal
import subprocess
import sys
import logging
import weakref

import numpy as np
import pytest

from cnn_core.network import Network
from cnn_core.snapshots import SnapshotStore


def state_of(epoch):
    """A small state_dict whose every value says which epoch it is, in two dtypes and orders."""
    rng = np.random.default_rng(epoch)
    return {"conv1.weight": rng.standard_normal((8, 1, 3, 3)).astype(np.float32),
            "fc1.bias": rng.standard_normal(5),
            # a name savez would take for its own argument, and a Fortran-ordered array
            "file": np.asfortranarray(rng.standard_normal((3, 4)).astype(np.float32))}


def assert_same(state, expected):
    assert list(state) == list(expected)
    for name, value in expected.items():
        assert state[name].dtype == value.dtype and state[name].shape == value.shape, name
        assert state[name].tobytes() == value.tobytes(), name


@pytest.fixture
def store(tmp_path):
    made = SnapshotStore(keep_recent=2, directory=tmp_path)
    yield made
    made.clear()


def test_older_epochs_go_to_disk_and_come_back_bit_for_bit(store):
    for epoch in range(6):
        store[epoch] = state_of(epoch)
    assert store.in_memory == [0, 4, 5] and store.on_disk == [1, 2, 3]
    assert len(store) == 6 and list(store) == [0, 1, 2, 3, 4, 5] and max(store) == 5
    assert 3 in store and 6 not in store and sorted(store.keys()) == list(range(6))
    for epoch in range(6):
        state = store[epoch]
        assert_same(state, state_of(epoch))
        assert not any(value.flags.writeable for value in state.values())
    assert sorted(p.name for p in store.folder.iterdir()) == \
        ["epoch-1.npz", "epoch-2.npz", "epoch-3.npz"]
    with pytest.raises(KeyError):
        store[6]


def test_spilled_arrays_are_let_go(store):
    first = state_of(1)
    alive = [weakref.ref(value) for value in first.values()]
    store[0], store[1] = state_of(0), first
    assert store[1]["fc1.bias"] is first["fc1.bias"]      # in memory: shared, not copied
    del first
    store[2], store[3] = state_of(2), state_of(3)
    gc.collect()
    assert [ref() for ref in alive] == [None, None, None]
    assert store.in_memory == [0, 2, 3]


def test_a_network_rewound_to_a_spilled_epoch_has_the_exact_weights(store):
    network = Network(seed=3)
    expected = {}
    for epoch in range(5):
        for _, value in network.named_params():
            value += np.float32(0.01) * np.float32(epoch + 1)
        expected[epoch] = network.state_dict()
        store[epoch] = network.state_dict()
    assert 1 in store.on_disk
    network.load_state_dict(store[1])
    store.truncate(1)
    assert_same(network.state_dict(), expected[1])
    assert list(store) == [0, 1] and store.on_disk == [1]
    assert sorted(p.name for p in store.folder.iterdir()) == ["epoch-1.npz"]


def test_an_epoch_written_again_after_a_rewind_replaces_the_old_one(store):
    for epoch in range(5):
        store[epoch] = state_of(epoch)
    store.truncate(2)
    store[3] = state_of(30)
    store[4] = state_of(40)
    assert list(store) == [0, 1, 2, 3, 4] and store.on_disk == [1, 2]
    assert_same(store[3], state_of(30))
    store[2] = state_of(20)                    # replacing an epoch that was on disk
    assert store.on_disk == [1, 2]             # not among the latest: back to disk
    assert_same(store[2], state_of(20))


def test_clear_removes_the_folder(store):
    for epoch in range(4):
        store[epoch] = state_of(epoch)
    folder = store.folder
    assert folder.is_dir()
    store.clear()
    assert not folder.exists() and len(store) == 0 and store.folder is None
    for epoch in range(4):                     # usable again, in a new folder
        store[epoch] = state_of(epoch)
    assert store.folder.is_dir() and store.folder != folder
    assert_same(store[1], state_of(1))


def test_a_store_let_go_removes_its_folder(tmp_path):
    store = SnapshotStore(keep_recent=1, directory=tmp_path)
    for epoch in range(3):
        store[epoch] = state_of(epoch)
    folder = store.folder
    assert folder.is_dir()
    del store
    gc.collect()
    assert not folder.exists()


def test_short_runs_never_touch_the_disk(tmp_path):
    store = SnapshotStore(keep_recent=2, directory=tmp_path)
    for epoch in range(3):
        store[epoch] = state_of(epoch)
    assert store.folder is None and list(tmp_path.iterdir()) == []


def test_an_unwritable_place_keeps_everything_in_memory(tmp_path, caplog):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    store = SnapshotStore(keep_recent=1, directory=not_a_folder)
    with caplog.at_level(logging.WARNING, logger="cnn_core.snapshots"):
        for epoch in range(5):
            store[epoch] = state_of(epoch)
    assert store.in_memory == [0, 1, 2, 3, 4] and store.on_disk == []
    for epoch in range(5):
        assert_same(store[epoch], state_of(epoch))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "stay in memory" in warnings[0].getMessage()


def test_a_write_that_fails_halfway_keeps_the_epoch_in_memory(store, monkeypatch):
    for epoch in range(4):
        store[epoch] = state_of(epoch)
    assert store.on_disk == [1]

    def disk_full(path, *arrays):
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", disk_full)
    store[4] = state_of(4)                     # epoch 2's turn to go to disk fails
    store[5] = state_of(5)
    assert store.in_memory == [0, 2, 3, 4, 5] and store.on_disk == [1]
    assert sorted(p.name for p in store.folder.iterdir()) == ["epoch-1.npz"]
    for epoch in range(6):
        assert_same(store[epoch], state_of(epoch))


def test_keep_recent_must_keep_the_latest():
    with pytest.raises(ValueError, match="keep_recent"):
        SnapshotStore(keep_recent=0)


@pytest.mark.skipif(os.name != "posix", reason="orphans are found by process id on POSIX")
def test_a_killed_process_s_spill_folder_is_removed_by_the_next_store(tmp_path):
    """A store killed with kill -9 leaves its folder; the next store to spill removes it."""
    child = subprocess.run([sys.executable, "-c", KILLED_WHILE_SPILLED, str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    orphan, = tmp_path.glob("ecnn-snapshots-*")
    mine = tmp_path / f"ecnn-snapshots-{os.getpid()}-alive"   # a living process's folder
    mine.mkdir()
    unrelated = tmp_path / "ecnn-snapshots-notes"
    unrelated.mkdir()
    store = SnapshotStore(keep_recent=1, directory=tmp_path)
    for epoch in range(3):
        store[epoch] = state_of(epoch)
    assert not orphan.exists()
    assert mine.exists() and unrelated.exists() and store.folder.exists()


KILLED_WHILE_SPILLED = """
import os, signal, sys
from cnn_core.network import Network
from cnn_core.snapshots import SnapshotStore
store = SnapshotStore(keep_recent=1, directory=sys.argv[1])
for epoch in range(3):
    store[epoch] = Network(seed=epoch).state_dict()
assert store.on_disk
os.kill(os.getpid(), signal.SIGKILL)
"""
