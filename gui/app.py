"""Start the desktop app: ``python main.py`` (or ``explainable-cnn``) ends up in :func:`run_app`."""
import sys

from PySide6.QtCore import QStandardPaths
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cnn_core import paths

from .platform_check import platform_problem

#: Names the data folder, the desktop entry and the X11 window class.
APP_NAME = "explainable-cnn"
DISPLAY_NAME = "Explainable CNN"


def name_app(app):
    """Name ``app`` for Qt, and keep the user's data in Qt's standard place for it.

    No organisation name: Qt's data folder is then ``<AppData>/explainable-cnn``,
    the folder the command line works out by hand, so both share the models and
    the MNIST cache.  ``EXPLAINABLE_CNN_DATA`` still overrides it.

    Returns
    -------
    pathlib.Path
        The user's data folder from now on.
    """
    app.setOrganizationName("")
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(DISPLAY_NAME)
    app.setDesktopFileName(APP_NAME)
    paths.set_user_data_dir(
        QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    return paths.user_data_dir()


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
    name_app(app)
    app.setWindowIcon(QIcon(str(paths.RESOURCES_DIR / "icons" / "explainable-cnn.svg")))
    # Imported here so `main.py train` never pays for loading pyqtgraph.
    from .autosave import SessionLock
    from .main_window import MainWindow
    session = SessionLock()
    window = MainWindow(show_tour=True, shared_session=session.shared)
    window.show()
    try:
        return app.exec()
    finally:
        session.release()
