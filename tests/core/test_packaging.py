"""``pip install`` into a fresh virtual environment gives a working ``explainable-cnn``.

The wheel is built from a temporary copy of the checkout, by the interpreter running
the tests (whose setuptools the ``[test]`` extra provides; an isolated build would
fetch one from PyPI), so the build's ``build/`` and ``*.egg-info`` never land in the
checkout. The fresh environment then installs that wheel. It sees the dependencies
this interpreter sees (a ``.pth`` naming its site folders: no network needed), but not
the checkout, even when the checkout is installed in editable mode, so what is checked
is this project's packaging: the entry point, the packages, and the bundled data,
model and icons travelling with them. The same holds when the tests themselves run
from a virtual environment, whose packages the base interpreter does not have.
"""
import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: A wheel built and a venv made: ten seconds or more.
pytestmark = pytest.mark.slow

#: Never part of a source tree worth packaging, and free to change while the tests run.
SKIPPED_NAMES = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks"}


def checkout_listing():
    """Every path under the checkout, relative, skipping caches and git's own folder."""
    paths = set()
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_NAMES]
        relative = Path(folder).relative_to(REPO)
        paths.update(str(relative / name) for name in subfolders + files)
    return paths


def source_files():
    """The checkout's files as git would commit them (tracked, or new and not ignored).

    Outside a git checkout (an unpacked sdist, say) every file but the caches.
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(path for path in checkout_listing() if (REPO / path).is_file())
    # A tracked file deleted in the working tree is still listed by --cached.
    return sorted(path for path in listed.split("\0") if path and (REPO / path).is_file())


def copy_of_checkout(target):
    """Copy the source files to ``target`` (a new folder); returns it."""
    for relative in source_files():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, destination)
    return target


def without_checkout_path():
    """This process's environment minus ``PYTHONPATH``, which may name the checkout."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def site_folders():
    """The folders this interpreter takes installed packages from (venv, base, user)."""
    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return [folder for folder in folders if os.path.isdir(folder)]


def fresh_environment(root):
    """A new venv that imports this interpreter's packages, but not the checkout.

    The folders go in as plain lines of a ``.pth``: Python appends them to ``sys.path``
    after the venv's own site-packages (so the installed copy wins) and, unlike a
    site folder, does not run their ``.pth`` files, the editable install's among them.
    """
    venv.create(root, with_pip=False)
    own = subprocess.run([str(root / "bin" / "python"), "-c",
                          "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         env=without_checkout_path(), capture_output=True, text=True,
                         check=True).stdout.strip()
    Path(own, "outer-site-packages.pth").write_text("\n".join(site_folders()) + "\n")
    return root


@pytest.fixture(scope="module")
def build_record(tmp_path_factory):
    """Build the wheel from a copy, install it in a fresh venv; the checkout's listing
    before and after, for the test that nothing was written into it."""
    before = checkout_listing()
    source = copy_of_checkout(tmp_path_factory.mktemp("source"))
    wheels = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"]
    built = subprocess.run(pip + ["wheel", "-q", "--no-deps", "--no-build-isolation",
                                  "-w", str(wheels), str(source)],
                           env=without_checkout_path(), capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    root = fresh_environment(tmp_path_factory.mktemp("venv"))
    # --ignore-installed: an editable install of the checkout is listed in the site
    # folders the .pth names; pip must neither count it as installed nor uninstall it.
    installed = subprocess.run(pip + ["--python", str(root / "bin" / "python"), "install",
                                      "-q", "--no-deps", "--ignore-installed",
                                      *map(str, wheels.glob("*.whl"))],
                               env=without_checkout_path(), capture_output=True, text=True,
                               timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return {"root": root, "before": before, "after": checkout_listing()}


@pytest.fixture(scope="module")
def installed(build_record):
    return build_record["root"]


def run(installed, *args):
    # Run from a neutral folder, so nothing is imported from the checkout.
    return subprocess.run([str(installed / "bin" / "explainable-cnn"), *args], cwd=installed,
                          env=without_checkout_path(), capture_output=True, text=True,
                          timeout=300)


def in_environment(installed, code):
    return subprocess.run([str(installed / "bin" / "python"), "-c", code],
                          cwd=installed, env=without_checkout_path(), capture_output=True,
                          text=True, timeout=300)


def outermost(paths):
    """The paths whose folder is not among them: ``build`` for all of ``build/...``."""
    return sorted(path for path in paths if str(Path(path).parent) not in paths)


def test_building_writes_nothing_into_the_checkout(build_record):
    before, after = build_record["before"], build_record["after"]
    assert after == before, f"new: {outermost(after - before)}, gone: {outermost(before - after)}"


def test_installed_command_shows_help(installed):
    result = run(installed, "--help")
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "explain" in result.stdout


def test_installed_command_finds_the_bundled_model_and_data(installed):
    result = run(installed, "evaluate", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 1000
    located = in_environment(installed, "import cnn_core, cli, gui; "
                                        "print(cnn_core.__file__, cli.__file__, gui.__file__)")
    assert located.returncode == 0, located.stderr
    for path in located.stdout.split():
        assert path.startswith(str(installed)), f"imported {path}, not the installed copy"


def test_installed_package_carries_the_icons(installed):
    located = in_environment(installed, "from cnn_core import paths; print(paths.RESOURCES_DIR)")
    icons = Path(located.stdout.strip()) / "icons"
    assert str(installed) in str(icons), located.stderr
    for name in ("explainable-cnn.svg", "explainable-cnn-256.png", "explainable-cnn.ico"):
        assert (icons / name).stat().st_size > 0, name
