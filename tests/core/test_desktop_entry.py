"""``install-desktop`` writes a valid launcher and the icons into a temporary home."""
import configparser
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from cli.desktop_entry import APP_ID, desktop_entry_text, install_desktop_entry
from cnn_core.errors import UserError


def test_launcher_and_icons_land_where_desktops_look(tmp_path):
    command = [sys.executable, "/opt/my app/main.py"]
    launcher = install_desktop_entry(tmp_path, command)
    assert launcher == tmp_path / "applications" / f"{APP_ID}.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(launcher)
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Name"] == "Explainable CNN"
    assert section["Exec"] == f'{sys.executable} "/opt/my app/main.py"'
    assert section["Icon"] == APP_ID and section["Terminal"] == "false"
    for size in (16, 32, 48, 128, 256):
        png = tmp_path / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        with Image.open(png) as image:
            assert image.size == (size, size)
    svg = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    assert svg.read_text().lstrip().startswith("<svg")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-utils is not installed")
def test_launcher_passes_the_freedesktop_validator(tmp_path):
    launcher = install_desktop_entry(tmp_path, ["explainable-cnn"])
    result = subprocess.run(["desktop-file-validate", str(launcher)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout


def test_exec_line_quotes_only_what_needs_quoting():
    assert "Exec=explainable-cnn\n" in desktop_entry_text(["explainable-cnn"])
    assert 'Exec=/usr/bin/python3 "/home/a b/main.py"' in desktop_entry_text(
        ["/usr/bin/python3", "/home/a b/main.py"])


def test_unwritable_home_gives_one_line_error(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot install the launcher"):
        install_desktop_entry(blocker, ["explainable-cnn"])


def test_install_desktop_subcommand_writes_into_xdg_data_home(tmp_path):
    import os
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "main.py", "install-desktop"], cwd=repo,
                            env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    launcher = tmp_path / "applications" / f"{APP_ID}.desktop"
    assert str(launcher) in result.stdout
    assert "Exec=" in launcher.read_text()
