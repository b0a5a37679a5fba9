"""The desktop app: PySide6 windows, panels and the training worker.

``gui`` calls :mod:`cnn_core` and shows what comes back; the engine never
imports anything from here.  :func:`gui.app.run_app` opens the main window.
"""
