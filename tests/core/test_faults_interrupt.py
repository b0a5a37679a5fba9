"""Interruptions: Ctrl+C (SIGINT) on the command line, and kill -9 in the middle of a save.

Whatever the moment, the rule is the same: the process ends promptly, says so
in one line, and every file under its final name is complete (the previous
version, or the new one); at most a hidden temporary file is left behind by
kill -9, and it never gets in the way.
"""
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_core.data import load_sample
from cnn_core.model_files import load_model, save_model
from cnn_core.network import Network

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

REPO = Path(__file__).resolve().parents[2]
#: How long a person may wait after Ctrl+C.
PROMPT = 2.0


def start(args, data_dir, **env_vars):
    """Start ``python main.py ARGS`` (or ``python -c CODE`` when args[0] is "-c")."""
    command = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "main.py", *args]
    env = {**os.environ, "EXPLAINABLE_CNN_DATA": str(data_dir), **env_vars}
    return subprocess.Popen([*map(str, command)], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def interrupt(process):
    """Send SIGINT; return (exit status, seconds it took to end, stderr)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    return process.returncode, time.monotonic() - sent, err


def leftovers(folder, *keep):
    return sorted(p.name for p in folder.iterdir() if p not in keep)


# --- Ctrl+C during training ---------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_ctrl_c_during_training_ends_at_once_and_writes_nothing(trial, tmp_path):
    out_dir = tmp_path / "models"
    out_dir.mkdir()
    out = out_dir / "model.npz"
    if trial % 2:                               # an older model lives there already
        save_model(out, Network(seed=5))
    before = out.read_bytes() if out.exists() else None
    process = start(["train", "--epochs", 3, "--out", out], tmp_path / "data")
    assert process.stderr.readline().startswith("training on")
    time.sleep(random.Random(trial).uniform(0.1, 3.0))      # anywhere in the first epoch or so
    status, seconds, err = interrupt(process)
    assert status == 130, err
    assert seconds < PROMPT
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted") and str(out) in lines[0]
    assert (out.read_bytes() if out.exists() else None) == before
    assert leftovers(out_dir, out) == []


# --- Ctrl+C during an explanation ------------------------------------------------------

EXPLAIN_WITH_A_TIMER = textwrap.dedent("""
    import os, signal, sys, threading
    from cli import commands
    explain = commands.COMMANDS["explain"]

    def explain_with_ctrl_c_coming(args):
        # The timer plays a person pressing Ctrl+C while the command runs.
        timer = threading.Timer(float(sys.argv[1]), os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            return explain(args)
        finally:
            timer.cancel()
    commands.COMMANDS["explain"] = explain_with_ctrl_c_coming
    sys.exit(commands.main(sys.argv[2:]))
""")


@pytest.mark.slow
def test_ctrl_c_while_explaining_leaves_no_half_written_picture(tmp_path):
    _, val = load_sample()
    image = tmp_path / "digit.png"
    Image.fromarray(val.images[0]).save(image)
    interrupted = 0
    # Delays from none to longer than the whole command (a few tens of ms once
    # loaded), spaced so that several land inside it on a fast or a slow machine.
    for trial, delay in enumerate((0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.35)):
        out = tmp_path / f"heat{trial}.png"
        process = start(["-c", EXPLAIN_WITH_A_TIMER, delay, "explain", "--image", image,
                         "--out", out], tmp_path / "data")
        _, err = process.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        if process.returncode == 0:             # finished before the timer fired
            with Image.open(out) as picture:
                picture.load()
            continue
        interrupted += 1
        assert process.returncode == 130 and err.splitlines() == ["interrupted"], err
        assert not out.exists()
    assert leftovers(tmp_path, image, *tmp_path.glob("heat*.png")) == []
    assert interrupted >= 2


# --- Ctrl+C during a download -------------------------------------------------------------

class TrickleHandler(BaseHTTPRequestHandler):
    """Promises a large file and sends it a few bytes at a time, forever."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(10 ** 8))
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"\0" * 4096)
                self.wfile.flush()
                self.server.sending.set()
                time.sleep(0.02)
        except OSError:
            pass                                # the client hung up, as it should

    def log_message(self, *args):
        pass


@pytest.fixture
def trickle_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), TrickleHandler)
    server.daemon_threads = True
    server.sending = threading.Event()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", server.sending
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_ctrl_c_during_a_download_keeps_nothing_partial(tmp_path, trickle_url):
    url, sending = trickle_url
    data_dir = tmp_path / "data"
    process = start(["download"], data_dir, EXPLAINABLE_CNN_MNIST_MIRROR=url)
    assert sending.wait(timeout=30), process.stderr.read() if process.poll() is not None else ""
    time.sleep(0.2)
    status, seconds, err = interrupt(process)
    assert status == 130 and seconds < PROMPT, err
    assert err.splitlines() == [f"interrupted: nothing partial was kept in {data_dir / 'mnist'}"]
    assert list((data_dir / "mnist").iterdir()) == []


# --- kill -9 in the middle of a save ----------------------------------------------------------

#: A network whose file is about 26 MB, so a save takes tens of milliseconds.
BIG_ARCHITECTURE = [
    {"type": "conv", "name": "conv1", "in_channels": 1, "out_channels": 8},
    {"type": "relu", "name": "relu1"}, {"type": "maxpool", "name": "pool1"},
    {"type": "flatten", "name": "flatten"},
    {"type": "dense", "name": "fc1", "in_features": 1568, "out_features": 4096},
    {"type": "relu", "name": "relu2"},
    {"type": "dense", "name": "fc2", "in_features": 4096, "out_features": 10},
]

SAVE_FOREVER = textwrap.dedent("""
    import sys
    from cnn_core.model_files import save_model
    from cnn_core.network import Network
    network = Network({architecture!r}, seed=1)
    print("saving", flush=True)
    generation = 0
    while True:                 # back to back: almost any moment is inside a save
        generation += 1
        network.layer("fc2").params["bias"][0] = generation
        save_model(sys.argv[1], network, {{"generation": generation}})
""").format(architecture=BIG_ARCHITECTURE)


@pytest.mark.slow
def test_kill_9_during_saves_always_leaves_a_complete_model(tmp_path):
    expected = Network(BIG_ARCHITECTURE, seed=1)
    rng = random.Random(9)
    path = tmp_path / "model.npz"
    replaced = killed_mid_write = trials = 0
    # At least 5 trials; more until some kills landed mid-write and some saves completed.
    while trials < 5 or (trials < 15 and not (replaced and killed_mid_write >= 2)):
        trials += 1
        for stray in tmp_path.iterdir():
            stray.unlink()
        expected.layer("fc2").params["bias"][0] = 0
        save_model(path, expected, {"generation": 0})
        process = start(["-c", SAVE_FOREVER, path], tmp_path / "data")
        assert process.stdout.readline() == "saving\n"
        time.sleep(rng.uniform(0.05, 0.5))
        process.kill()                          # SIGKILL: no handler, no clean-up
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL

        strays = leftovers(tmp_path, path)
        assert len(strays) <= 1, strays         # only the save that was cut short
        assert all(s.startswith(".model.npz.") and s.endswith(".tmp") for s in strays)
        killed_mid_write += len(strays)
        network, meta = load_model(path)        # intact, temporary file or not
        generation = meta["generation"]
        replaced += generation > 0
        assert network.layer("fc2").params["bias"][0] == generation
        for name, value in expected.named_params():
            if name != "fc2.bias":
                assert np.array_equal(network.state_dict()[name], value), name
        save_model(path, network, {"generation": -1})      # a stray does not block a save
        assert load_model(path)[1]["generation"] == -1
        assert leftovers(tmp_path, path) == strays          # nor is a fresh one removed
        for stray in strays:                                # as if the kill was long ago
            os.utime(tmp_path / stray, (0, 0))
        save_model(path, network, {"generation": -2})
        assert leftovers(tmp_path, path) == []
    assert replaced and killed_mid_write >= 2, (trials, replaced, killed_mid_write)


def test_a_save_removes_only_stale_temporary_files_of_the_same_file(tmp_path):
    path = tmp_path / "model.npz"
    stale = [".model.npz.k1ll3d_x.tmp", ".model.npz.abcdefgh.tmp"]
    still_writing = [".model.npz.wr1t1ng_.tmp"]     # a concurrent save of the same file
    not_ours = [".model.npz.v2.abcdefgh.tmp",       # a temporary of model.npz.v2
                ".other.npz.abcdefgh.tmp", "model.npz.abcdefgh.tmp", ".model.npz.notes"]
    an_hour_ago = time.time() - 3600
    for name in stale + still_writing + not_ours:
        (tmp_path / name).write_bytes(b"half a model")
        if name not in still_writing:
            os.utime(tmp_path / name, (an_hour_ago, an_hour_ago))
    save_model(path, Network(seed=1))
    assert leftovers(tmp_path, path) == sorted(still_writing + not_ours)
    assert load_model(path)[0].num_params() == Network(seed=1).num_params()
