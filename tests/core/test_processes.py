"""Training shares in worker processes: the same bits as threads, and nothing lost when a
worker fails."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnn_core.network import CHUNK, Network
from cnn_core.optimizers import SGD
from cnn_core.parallel import DataParallel
from cnn_core.processes import available

pytestmark = pytest.mark.skipif(not available(), reason="worker processes need POSIX")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def batch():
    rng = np.random.default_rng(4)
    images = rng.random((2 * CHUNK + 7, 1, 28, 28), np.float32)
    return images, rng.integers(0, 10, len(images))


def two_steps(parallel, images, labels):
    """Two training steps with an SGD update between them (so the worker must see
    the new weights); returns what the second step gives."""
    optimizer = SGD(parallel.network, lr=0.05, momentum=0.9)
    parallel.train_step(images, labels)
    optimizer.step(parallel.grads)
    loss, logits = parallel.train_step(images, labels)
    grads = {name: g.copy() for name, g in parallel.grads.items()}
    return loss, logits, grads, parallel.dead_relu_fractions()


def assert_same(a, b):
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].keys() == b[2].keys()
    for name in a[2]:
        np.testing.assert_array_equal(a[2][name], b[2][name], err_msg=name)
    assert a[3] == b[3]


@pytest.mark.parametrize("workers", [2, 3])
def test_processes_give_the_same_bits_as_threads(batch, workers):
    with DataParallel(Network(seed=1), workers, processes=False) as threads:
        expected = two_steps(threads, *batch)
    with DataParallel(Network(seed=1), workers) as parallel:
        got = two_steps(parallel, *batch)
        assert parallel._processes is not None and len(parallel._processes) == workers - 1
    assert_same(got, expected)


def test_a_worker_that_dies_is_replaced_by_threads(batch):
    with DataParallel(Network(seed=1), 2, processes=False) as threads:
        expected = two_steps(threads, *batch)
    with DataParallel(Network(seed=1), 2) as parallel:
        parallel.train_step(*batch)
        worker = parallel._processes._processes[0]
        worker.kill()
        worker.wait()
        parallel.network.load_state_dict(Network(seed=1).state_dict())
        got = two_steps(parallel, *batch)       # the first step finds the worker dead
        assert parallel.processes is False and parallel._processes is None
    assert_same(got, expected)


def test_a_failure_inside_a_worker_is_raised_with_its_message(batch):
    images, labels = batch
    labels = labels.copy()
    labels[-1] = 99                             # in the worker's share only
    with DataParallel(Network(seed=1), 2) as parallel:
        with pytest.raises(RuntimeError, match="IndexError"):
            parallel.train_step(images, labels)
        labels[-1] = 0                          # the worker is still in step
        loss, _ = parallel.train_step(images, labels)
        assert np.isfinite(loss) and parallel._processes is not None


def shared_files():
    return set(Path("/dev/shm").glob("ecnn-share-*")) if Path("/dev/shm").is_dir() else set()


def test_close_ends_the_workers_and_leaves_no_files(batch):
    before = shared_files()
    parallel = DataParallel(Network(seed=1), 3)
    parallel.train_step(*batch)
    workers = list(parallel._processes._processes)
    assert shared_files() == before             # names removed as soon as both sides map them
    parallel.close()
    parallel.close()                            # idempotent
    assert all(worker.poll() is not None for worker in workers)


def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """Workers are not multiprocessing children, so they never run the caller's script."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import numpy as np
        from cnn_core.network import Network
        from cnn_core.parallel import DataParallel
        print("script body ran", flush=True)
        rng = np.random.default_rng(0)
        with DataParallel(Network(seed=0), 2) as parallel:
            loss, _ = parallel.train_step(rng.random((40, 1, 28, 28), np.float32),
                                          rng.integers(0, 10, 40))
            print("used processes:", parallel._processes is not None, flush=True)
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["script body ran", "used processes: True"]
    assert result.stderr == ""
