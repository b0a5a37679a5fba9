"""Say in one line why Qt cannot start, instead of letting it abort with a core dump.

On a bare Linux, Qt's xcb platform plugin needs a few system libraries that pip
cannot install; without them Qt prints a page of advice and aborts.  Checking
for them first costs a few milliseconds.
"""
import ctypes.util
import os
import sys

#: Library (as ``ctypes.util.find_library`` names it) -> Debian/Ubuntu package.
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-shape": "libxcb-shape0",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-image": "libxcb-image0",
    "EGL": "libegl1",
    "GL": "libgl1",
    "fontconfig": "libfontconfig1",
}


def platform_problem():
    """Return a one-line explanation of why Qt cannot open a window, or ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None      # offscreen, wayland, ...: Qt reports its own problems
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return ("no display to open a window on (DISPLAY is not set); run the app on a desktop, "
                "or use the command line: python main.py --help")
    missing = [package for library, package in XCB_LIBRARIES.items()
               if ctypes.util.find_library(library) is None]
    if missing:
        return ("Qt cannot start: missing system libraries; install them with "
                f"`sudo apt-get install {' '.join(missing)}`")
    return None
