"""Choose an explanation (method, layer, class, contrast) and see it with its faithfulness."""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Signal, Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cnn_core.explain import CAM_METHODS, METHODS, empty_map_note

from ..images import framed, heat_over_digit, image_view, signed_over_digit
from ..style import muted
from .cams import AUC_TIP, METHOD_NAMES, HeatMapRow, colour_bar, set_signed_scale
from .jobs import COSTLY_METHODS, MapChoice

#: The main map's side at the least, in pixels: readable from the back of a classroom.
MAP_MINIMUM = 200

METHOD_TIPS = {
    "gradcam": "Grad-CAM: the layer's feature maps weighted by their mean gradient.",
    "gradcam++": "Grad-CAM++: like Grad-CAM, weighting positive gradients by higher powers.",
    "hirescam": "HiResCAM: gradient times activation per position, then summed: exact for "
                "the layer.",
    "layercam": "LayerCAM: positive gradient times activation per position; sharp at "
                "early layers.",
    "saliency": "Saliency: the score's gradient at each pixel, where more ink would raise "
                "it (orange) or lower it (blue).",
    "smoothgrad": "SmoothGrad: the signed saliency averaged over noisy copies of the input.",
    "integrated-gradients": "Integrated Gradients: gradients summed along a path from a "
                            "black image; the attributions add up to the score, ink for the "
                            "class orange, against it blue (updates when the pen lifts).",
    "occlusion": "Occlusion: how much the score drops when each patch is covered, orange "
                 "where covering lowers it, blue where it raises it (updates when the pen "
                 "lifts).",
}


class MethodPanel(QWidget):
    """Selectors, the chosen map over the drawing, its deletion AUC, and a true/predicted pair.

    Parameters
    ----------
    conv_names : list of str
        The layers a CAM can be taken at; the last is the default.

    Signals
    -------
    choice_changed(MapChoice)
    pair_shown(bool) : whether ``pair`` (laid out by the owner) has maps to show.
    """

    choice_changed = Signal(object)
    pair_shown = Signal(bool)

    def __init__(self, conv_names, parent=None):
        super().__init__(parent)
        self._shown = None          # (digit, heatmap, signed or None) of the map on show
        self.method = QComboBox(objectName="method")
        for method in METHODS:
            self.method.addItem(METHOD_NAMES[method], method)
            self.method.setItemData(self.method.count() - 1, METHOD_TIPS[method],
                                    pg.QtCore.Qt.ItemDataRole.ToolTipRole)
        self.layer = QComboBox(objectName="layer")
        for name in conv_names:
            self.layer.addItem(name, name)
        self.layer.setCurrentIndex(len(conv_names) - 1)
        self.target = self._class_box("target", "predicted")
        self.contrast = self._class_box("contrast", "none")
        self.target.setToolTip("The class whose score is explained (default: the predicted one).")
        self.contrast.setToolTip("Explain the difference of two scores: why this class "
                                 "rather than that one.")
        for box in (self.method, self.layer, self.target, self.contrast):
            box.currentIndexChanged.connect(self._changed)

        view = pg.GraphicsLayoutWidget()
        # Little room around the map: on a short screen every pixel is the map's.
        view.ci.setContentsMargins(2, 2, 2, 2)
        view.ci.layout.setSpacing(2)
        self.title = view.addLabel("", row=0, col=0, size="9pt")
        self.map_box, self.map = image_view(view, 1, 0)
        self.map_box.setDefaultPadding(0.01)
        framed(self.map)
        self.bar = colour_bar(view, 1, 1)
        self.auc = QLabel(objectName="auc", toolTip=AUC_TIP, wordWrap=True)
        self.status = muted(QLabel(objectName="map_status", wordWrap=True))
        self.pair = HeatMapRow(["true", "predicted"], "Grad-CAM for the true and the "
                               "predicted class")
        self._build_layout(view)
        self.current = MapChoice(self.method.currentData(), self.layer.currentData())
        self.show_empty()

    @staticmethod
    def _class_box(name, first):
        box = QComboBox(objectName=name)
        box.addItem(first, None)
        for digit in range(10):
            box.addItem(str(digit), digit)
        return box

    def _build_layout(self, view):
        # The choices and the scores beside the map, not above it: the map is square,
        # so a short screen gives it the whole height. The pair is laid out by the place.
        form = QFormLayout()
        form.addRow("Method", self.method)
        form.addRow("Layer", self.layer)
        form.addRow("Explain class", self.target)
        form.addRow("rather than", self.contrast)
        column = QVBoxLayout()
        column.addLayout(form)
        column.addWidget(self.auc)
        column.addWidget(self.status)
        column.addStretch(1)
        view.setMinimumSize(MAP_MINIMUM + 60, MAP_MINIMUM + 50)   # + the bar; + the title
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(column)
        layout.addWidget(view, 1)

    def _changed(self):
        method = self.method.currentData()
        self.layer.setEnabled(method in CAM_METHODS)
        self.method.setToolTip(METHOD_TIPS[method])
        self.current = MapChoice(method, self.layer.currentData(), self.target.currentData(),
                                 self.contrast.currentData())
        self.auc.setText("Deletion AUC: …")
        self.choice_changed.emit(self.current)

    # --- slots --------------------------------------------------------------------------

    @Slot(object, object, int, object)
    def show_quick(self, digit, heatmap, target, contrast):
        """Show a CAM computed on the GUI thread at once (its AUC follows from the worker)."""
        self._show(digit, heatmap, None, self.current, target, contrast)

    @Slot(object)
    def show_result(self, result):
        """Show a worker's :class:`~gui.draw.jobs.MapResult` if it is still the one chosen."""
        if result.choice != self.current:
            return
        explanation = result.explanation
        self._show(explanation.image, explanation.heatmap, explanation.signed, result.choice,
                   explanation.target, explanation.contrast)
        if result.auc is not None:
            self.auc.setText(f"Deletion AUC: <b>{result.auc:.3f}</b> (random order "
                             f"{result.random_auc:.3f}; lower is better)")
        else:
            note = empty_map_note(explanation.layer, explanation.target, explanation.contrast)
            self.auc.setText(f"Deletion AUC: none, the map is empty: {note}")
        self.status.setText(result.note or f"computed in {result.seconds * 1000:.0f} ms")

    @Slot(str)
    def show_status(self, text):
        """A line under the map: computing, waiting for the pen, a note about the choice."""
        self.status.setText(text)

    @Slot()
    def show_empty(self):
        """Nothing drawn."""
        blank = np.zeros((28, 28), np.float32)
        self._paint_map(blank, blank, None if self.current.is_cam else blank)
        self.title.setText(METHOD_NAMES[self.current.method], size="9pt")
        self.auc.setText("Deletion AUC: –")
        self.status.setText("")
        self.hide_pair()

    @Slot(object, int, object, int, object)
    def show_pair(self, digit, true_label, true_map, predicted, predicted_map):
        """Grad-CAM for the true and the predicted class of a labelled image, side by side."""
        self.pair_shown.emit(True)
        self.pair.set_title("true", f"true class {true_label}")
        self.pair.set_title("predicted", f"predicted {predicted}"
                            + (" (right)" if predicted == true_label else " (wrong)"))
        self.pair.show_map("true", digit, true_map)
        self.pair.show_map("predicted", digit, predicted_map)

    @Slot()
    def hide_pair(self):
        """The drawing has no known label: no pair to show."""
        self.pair_shown.emit(False)

    def _paint_map(self, digit, heatmap, signed=None):
        """Draw a heat map, or a pixel method's signed map when there is one."""
        self._shown = (digit, heatmap, signed)
        picture = heat_over_digit(digit, heatmap) if signed is None else \
            signed_over_digit(digit, signed)
        self.map.setImage(picture, autoLevels=False, levels=(0, 255))
        set_signed_scale(self.bar, signed is not None)

    def changeEvent(self, event):
        """A new theme: the map again, on its paper."""
        if event.type() == QEvent.Type.PaletteChange and self._shown is not None:
            self._paint_map(*self._shown)
        super().changeEvent(event)

    def _show(self, digit, heatmap, signed, choice, target, contrast):
        self._paint_map(digit, heatmap, signed)
        where = f" at {choice.layer}" if choice.is_cam else ""
        versus = f" rather than {contrast}" if contrast is not None else ""
        late = " · updates when the pen lifts" if choice.method in COSTLY_METHODS else ""
        self.title.setText(f"{METHOD_NAMES[choice.method]}{where}: class {target}{versus}{late}",
                           size="9pt")
