"""Test-wide settings: single-threaded BLAS (as main.py sets) and a private data folder.

The suite runs on several processes at once (pytest-xdist, see pyproject's addopts), so
nothing a test writes may go to a place another test reads: data goes to each test's own
temporary folder, settings too (tests/gui/conftest.py), and servers bind port 0.
"""
import os

import pytest

# Before NumPy loads: the engine then parallelises over its own threads, as in the app.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def private_data_folder(tmp_path_factory, monkeypatch):
    """Models and the MNIST cache go to a temporary folder, never the user's (nor another
    test's): the app, and the command lines the tests start, read ``EXPLAINABLE_CNN_DATA``.

    Not made yet (as on a first start), and beside ``tmp_path``, not in it: tests check
    that a refused command leaves their own folder empty.
    """
    folder = tmp_path_factory.mktemp("data") / "user-data"
    monkeypatch.setenv("EXPLAINABLE_CNN_DATA", str(folder))
    return folder
