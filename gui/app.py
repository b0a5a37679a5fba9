"""Start the desktop app: ``python main.py`` (or ``explainable-cnn``) ends up in :func:`run_app`."""
import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cnn_core import paths

from .platform_check import platform_problem


def run_app(argv=None):
    """Open the main window with the shipped model and run until it is closed.

    Returns
    -------
    int
        The exit status of the Qt event loop.
    """
    problem = None if QApplication.instance() else platform_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(list(sys.argv if argv is None else argv))
    app.setApplicationName("Explainable CNN")
    app.setDesktopFileName("explainable-cnn")
    app.setWindowIcon(QIcon(str(paths.RESOURCES_DIR / "icons" / "explainable-cnn.svg")))
    # Imported here so `main.py train` never pays for loading pyqtgraph.
    from .main_window import MainWindow
    window = MainWindow(show_tour=True)
    window.show()
    return app.exec()
