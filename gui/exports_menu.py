"""File → Export: the main window's export commands (a mixin, to keep the window short)."""
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from cnn_core import paths

from . import export


class ExportCommands:
    """Export commands for :class:`gui.main_window.MainWindow`.

    Each takes ``path`` (asks for one when None) and returns True when it wrote a file.
    """

    def _build_export_menu(self, menu):
        page = self.train_page
        panels = (("Current place as PNG…", lambda: self.tabs.currentWidget()),
                  ("Training curves as PNG…", lambda: page.curves),
                  ("Kernel grids as PNG…", lambda: page.kernels),
                  ("Explanation map as PNG…", lambda: self.draw_place.method_panel))
        for label, widget in panels:
            menu.addAction(label, lambda w=widget: self.export_png(w()))
        menu.addSeparator()
        menu.addAction("Kernels across epochs as GIF…", self.export_kernels_gif)
        menu.addAction("Pinned drawing's Grad-CAM as GIF…", self.export_gradcam_gif)
        menu.addAction("Training history as CSV…", self.export_history_csv)

    def export_png(self, widget, path=None):
        """Save a panel as it looks now."""
        return self._export(path, "panel.png", "PNG images (*.png)",
                            lambda p: export.widget_png(widget, p))

    def export_kernels_gif(self, path=None):
        """The conv kernels at every epoch of the session, as an animated GIF."""
        c = self.controller
        if len(c.snapshots) < 2:
            return self._nothing("Train at least one epoch first: the GIF shows the kernels "
                                 "changing from epoch to epoch.")
        names = c.current_model().conv_layer_names()
        return self._export(path, "kernels.gif", "GIF images (*.gif)",
                            lambda p: export.kernels_gif(c.snapshots, names, p))

    def export_gradcam_gif(self, path=None):
        """The pinned drawing's Grad-CAM at every epoch, as an animated GIF."""
        pinned = self.draw_place.controller.pinned
        frames = pinned.frames() if pinned.pinned else []
        if not frames:
            return self._nothing("Pin a drawing in Draw & Explain and train: the GIF shows its "
                                 "Grad-CAM epoch by epoch.")
        return self._export(path, "gradcam.gif", "GIF images (*.gif)",
                            lambda p: export.gradcam_gif(pinned.digit, frames, p))

    def export_history_csv(self, path=None):
        """Loss, accuracy, time and learning rate per epoch, as CSV."""
        history = list(self.controller.history)
        if not history:
            return self._nothing("No epoch has been trained in this session yet.")
        return self._export(path, "history.csv", "CSV files (*.csv)",
                            lambda p: export.history_csv(history, p))

    def _export(self, path, default_name, file_filter, write):
        if path is None:
            start = paths.user_data_dir()
            folder = start if start.is_dir() else Path.home()
            path, _ = QFileDialog.getSaveFileName(self, "Export", str(folder / default_name),
                                                  file_filter)
            if not path:
                return False
        try:
            write(path)
        except (OSError, ValueError) as exc:
            self.show_message(QMessageBox.Icon.Warning, "Cannot export",
                              f"Cannot write {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def _nothing(self, text):
        self.statusBar().showMessage(f"Nothing to export: {text}", 10000)
        return False
