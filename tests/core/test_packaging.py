"""``pip install .`` into a fresh virtual environment gives a working ``explainable-cnn``.

The environment sees the already-installed dependencies (``--system-site-packages``)
so the test needs no network; what it checks is this project's packaging: the
entry point, the packages, and the bundled data and model travelling with them.
"""
import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, system_site_packages=True, with_pip=False)
    # This interpreter's pip installs into the new environment, building with the
    # setuptools already installed (an isolated build would fetch it from PyPI).
    subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-build-isolation", str(REPO)],
                   check=True, capture_output=True, timeout=600)
    return root


def run(installed, *args):
    # Run from a neutral folder, so nothing is imported from the checkout.
    return subprocess.run([str(installed / "bin" / "explainable-cnn"), *args], cwd=installed,
                          capture_output=True, text=True, timeout=300)


def test_installed_command_shows_help(installed):
    result = run(installed, "--help")
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "explain" in result.stdout


def test_installed_command_finds_the_bundled_model_and_data(installed):
    result = run(installed, "evaluate", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 1000
    located = subprocess.run([str(installed / "bin" / "python"), "-c",
                              "import cnn_core; print(cnn_core.__file__)"],
                             cwd=installed, capture_output=True, text=True)
    assert str(installed) in located.stdout, "imported the checkout, not the installed copy"


def test_installed_package_carries_the_icons(installed):
    located = subprocess.run([str(installed / "bin" / "python"), "-c",
                              "from cnn_core import paths; print(paths.RESOURCES_DIR)"],
                             cwd=installed, capture_output=True, text=True)
    icons = Path(located.stdout.strip()) / "icons"
    assert str(installed) in str(icons), located.stderr
    for name in ("explainable-cnn.svg", "explainable-cnn-256.png", "explainable-cnn.ico"):
        assert (icons / name).stat().st_size > 0, name
