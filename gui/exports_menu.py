"""File → Export: the commands that write a panel, the kernels, a GIF or the history to a file.

An object the main window holds (``window.exports``); it knows only the
collaborators it is given, not the window.
"""
from PySide6.QtWidgets import QFileDialog, QMessageBox

from . import export
from .save_places import remember_folder, start_folder, with_extension


class ExportCommands:
    """The export commands; each takes ``path`` (asks for one when None) and returns
    True when it wrote a file.

    Parameters
    ----------
    parent : QWidget
        Owner of the file dialogs.
    controller : TrainingController
        The session's snapshots, history and model on show.
    pinned : gui.draw.learning_frames.LearningFrames
        The pinned drawing and its Grad-CAM per epoch.
    status : callable
        ``status(text, milliseconds)`` shows a line in the status bar.
    warn : callable
        ``warn(icon, title, text)`` shows a message box that does not block.
    settings : QSettings
        Where the last folder used for pictures and tables is remembered.
    landscape : callable, optional
        ``landscape()`` gives the loss grid on show in the Weight path tab, or None.
    """

    def __init__(self, parent, controller, pinned, status, warn, settings,
                 landscape=lambda: None):
        self._parent, self._controller, self._pinned = parent, controller, pinned
        self._status, self._warn, self._settings = status, warn, settings
        self._landscape = landscape

    def build_menu(self, menu, panels):
        """Fill ``menu``; ``panels`` is a sequence of ``(label, callable giving a widget)``.

        Returns the panels' actions, in that order.
        """
        actions = [menu.addAction(label, lambda w=widget: self.export_png(w()))
                   for label, widget in panels]
        menu.addSeparator()
        menu.addAction("Kernels across epochs as GIF…", self.export_kernels_gif)
        menu.addAction("Pinned drawing's Grad-CAM as GIF…", self.export_gradcam_gif)
        menu.addAction("Training history as CSV…", self.export_history_csv)
        menu.addAction("Loss landscape grid as CSV…", self.export_landscape_csv)
        return actions

    def export_png(self, widget, path=None):
        """Save a panel as it looks now."""
        return self._export(path, "panel.png", "images", "PNG images (*.png)",
                            lambda p: export.widget_png(widget, p))

    def export_kernels_gif(self, path=None):
        """The conv kernels at every epoch of the session, as an animated GIF."""
        c = self._controller
        if len(c.snapshots) < 2:
            return self._nothing("Train at least one epoch first: the GIF shows the kernels "
                                 "changing from epoch to epoch.")
        names = c.current_model().conv_layer_names()
        return self._export(path, "kernels.gif", "images", "GIF images (*.gif)",
                            lambda p: export.kernels_gif(c.snapshots, names, p))

    def export_gradcam_gif(self, path=None):
        """The pinned drawing's Grad-CAM at every epoch, as an animated GIF."""
        pinned = self._pinned
        frames = pinned.frames() if pinned.pinned else []
        if not frames:
            return self._nothing("Pin a drawing in Draw & Explain and train: the GIF shows its "
                                 "Grad-CAM epoch by epoch.")
        return self._export(path, "gradcam.gif", "images", "GIF images (*.gif)",
                            lambda p: export.gradcam_gif(pinned.digit, frames, p))

    def export_history_csv(self, path=None):
        """Loss, accuracy, time and learning rate per epoch, as CSV."""
        history = self._controller.history
        if not history:
            return self._nothing("No epoch has been trained in this session yet.")
        return self._export(path, "history.csv", "tables", "CSV files (*.csv)",
                            lambda p: export.history_csv(history, p))

    def export_landscape_csv(self, path=None):
        """The loss and accuracy at every point of the Weight path tab's grid, as CSV."""
        grid = self._landscape()
        if grid is None:
            return self._nothing("Open the Weight path tab and wait for the landscape: the "
                                 "CSV holds the loss at each point of its grid.")
        return self._export(path, "landscape.csv", "tables", "CSV files (*.csv)",
                            lambda p: export.landscape_csv(grid, p))

    def _export(self, path, default_name, kind, file_filter, write):
        """Write with ``write(path)``; a name typed without the default's extension gets it
        (a GIF writer, say, needs it to know the format, and Open filters by it)."""
        if path is None:
            folder = start_folder(self._settings, kind)
            path, _ = QFileDialog.getSaveFileName(self._parent, "Export",
                                                  str(folder / default_name), file_filter)
            if not path:
                return False
        path = with_extension(path, default_name[default_name.rindex("."):])
        try:
            write(path)
        except (OSError, ValueError) as exc:
            self._warn(QMessageBox.Icon.Warning, "Cannot export",
                       f"Cannot write {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        remember_folder(self._settings, kind, path)
        self._status(f"Exported {path}", 5000)
        return True

    def _nothing(self, text):
        self._status(f"Nothing to export: {text}", 10000)
        return False
