"""Training settings: one field per hyperparameter, each with a range and a plain tooltip.

The form turns its fields into a :class:`cnn_core.trainer.TrainConfig` and lets
the engine's :meth:`TrainConfig.validate` judge it, so the app and the command
line reject the same things with the same one-line message, shown inline.
"""
import math

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit,
                               QSpinBox)

from cnn_core.errors import ConfigError
from cnn_core.trainer import TrainConfig

from ..style import set_tone

GUI_DEFAULTS = TrainConfig(epochs=10)

TIPS = {
    "train_size": "How many training images to learn from. Fewer images train faster "
                  "but the network sees less variety.",
    "epochs": "How many times the network goes through the whole training set.",
    "batch_size": "How many images are averaged for each weight update. Bigger batches "
                  "give smoother but fewer steps per epoch.",
    "lr": "How big each step downhill is (the peak of the schedule). Too small learns slowly; "
          "too large makes the loss explode. Can be changed while training runs.",
    "momentum": "How much of the previous step carries into the next one, like a ball "
                "rolling downhill. 0.9 is usual. Can be changed while training runs.",
    "weight_decay": "A gentle pull of every weight towards zero, which keeps the network "
                    "from memorising the training images. Can be changed while training runs.",
    "schedule": "One-cycle warms the learning rate up, then cools it down to almost zero; "
                "constant keeps it fixed.",
    "augment": "Shift, rotate and scale each training image a little at random, so the "
               "network learns the digit, not its exact position.",
    "seed": "Starting point of every random choice: the same seed gives the same fresh "
            "weights when you press Reset, and the same shuffling order in a new run.",
}
SCHEDULES = [("One-cycle", "onecycle"), ("Constant", "constant")]
LIVE_LABELS = {"lr": "learning rate", "momentum": "momentum", "weight_decay": "weight decay"}
# Settings that define the data and the order of the batches: fixed once a run has begun.
DATA_FIELDS = ("train_size", "batch_size")


#: Widest numbers the fields take.  The fields never clamp or drop what is typed
#: (a spin box from 0 would turn "-3" into "3" without a word): TrainConfig.validate()
#: judges every value, and the message under the fields says what is wrong.
ANY_INT = 2**31 - 1
ANY_FLOAT = 1e300


def _number_edit(text, tip):
    edit = QLineEdit(text)
    validator = QDoubleValidator(-ANY_FLOAT, ANY_FLOAT, 8, edit)
    validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
    edit.setValidator(validator)  # blocks letters; the range is checked by validate()
    edit.setToolTip(tip)
    return edit


def _spin(value, tip, step=1):
    box = QSpinBox()
    box.setRange(-ANY_INT, ANY_INT)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)  # report the number once typed, not every digit
    return box


class TrainSettingsForm(QGroupBox):
    """The hyperparameter fields and the inline message that says what is wrong.

    Signals
    -------
    live_changed(dict) : a valid new value of a setting the engine reads every step.
    """

    live_changed = Signal(dict)

    def __init__(self, parent=None):
        super().__init__("Settings", parent)
        d = GUI_DEFAULTS
        self.dataset = d.dataset
        self.fields = {
            "train_size": _spin(d.train_size, TIPS["train_size"], 100),
            "epochs": _spin(d.epochs, TIPS["epochs"]),
            "batch_size": _spin(d.batch_size, TIPS["batch_size"], 16),
            "lr": _number_edit(f"{d.lr:g}", TIPS["lr"]),
            "momentum": _number_edit(f"{d.momentum:g}", TIPS["momentum"]),
            "weight_decay": _number_edit(f"{d.weight_decay:g}", TIPS["weight_decay"]),
            "schedule": QComboBox(toolTip=TIPS["schedule"]),
            "augment": QCheckBox("random shifts and rotations", checked=d.augment,
                                 toolTip=TIPS["augment"]),
            "seed": _spin(d.seed, TIPS["seed"]),
        }
        for label, value in SCHEDULES:
            self.fields["schedule"].addItem(label, value)
        self.error = QLabel(wordWrap=True, visible=False)
        set_tone(self.error, "error")
        self._build_layout()
        self._connect_live()
        self._locked = False
        self._state = "idle"

    def _build_layout(self):
        form = QFormLayout(self)
        labels = {"train_size": "Training images", "epochs": "Epochs", "batch_size": "Batch size",
                  "lr": "Learning rate", "momentum": "Momentum", "weight_decay": "Weight decay",
                  "schedule": "Schedule", "augment": "Augmentation", "seed": "Seed"}
        for name, widget in self.fields.items():
            label = QLabel(labels[name])
            label.setToolTip(TIPS[name])
            form.addRow(label, widget)
        form.addRow(self.error)

    def _connect_live(self):
        f = self.fields
        f["lr"].editingFinished.connect(lambda: self._send_live("lr"))
        f["lr"].textEdited.connect(self.forget_divergence)
        f["weight_decay"].editingFinished.connect(lambda: self._send_live("weight_decay"))
        f["momentum"].editingFinished.connect(lambda: self._send_live("momentum"))
        f["augment"].toggled.connect(lambda: self._send_live("augment"))

    # --- reading --------------------------------------------------------------------

    def _number(self, name, label):
        text = self.fields[name].text().strip()
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{label}: type a number such as {getattr(GUI_DEFAULTS, name):g}, "
                              f"not {text!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{label} must be a finite number, not {text!r}")
        return value

    def read_config(self, available):
        """Return the settings as a validated TrainConfig, or show why not and raise.

        Parameters
        ----------
        available : int
            Training images in the chosen data set.

        Raises
        ------
        ConfigError
            With the one-line message that is also shown under the fields.
        """
        f = self.fields
        try:
            config = TrainConfig(
                epochs=f["epochs"].value(), batch_size=f["batch_size"].value(),
                lr=self._number("lr", "learning rate"),
                momentum=self._number("momentum", "momentum"),
                weight_decay=self._number("weight_decay", "weight decay"),
                augment=f["augment"].isChecked(), schedule=f["schedule"].currentData(),
                train_size=f["train_size"].value(), dataset=self.dataset, seed=f["seed"].value())
            config.validate(available)
        except ConfigError as exc:
            self.show_error(str(exc))
            raise
        self.show_error("")
        return config

    def _send_live(self, name):
        if self._state == "idle":
            return  # the next Start reads every field anyway
        field = self.fields[name]
        try:
            if name == "augment":
                value = field.isChecked()
            else:
                value = self._number(name, LIVE_LABELS[name])
                TrainConfig(**{name: value}).validate()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self.show_error("")
        self.live_changed.emit({name: value})

    # --- slots ----------------------------------------------------------------------

    @Slot(str)
    def show_error(self, message):
        """Show ``message`` in the error colour under the fields; an empty one hides it."""
        self.error.setText(message[:1].upper() + message[1:] if message else "")
        self.error.setVisible(bool(message))

    @Slot(str, int)
    def set_dataset(self, name, available):
        """Choose the data set; the training-set size follows its number of images."""
        self.dataset = name
        self.fields["train_size"].setValue(available)

    @Slot(object)
    def show_divergence(self, divergence):
        """Point the learning-rate field at the rate a :class:`gui.records.Divergence` had."""
        field = self.fields["lr"]
        scheduled = ("" if math.isclose(divergence.lr, divergence.peak_lr, rel_tol=1e-6) else
                     f" (the schedule had it at {divergence.lr:.3g} then)")
        field.setToolTip(f"Training diverged at learning rate {divergence.peak_lr:.3g}"
                         f"{scheduled}: lower it, for example by a factor of 3. "
                         + TIPS["lr"])
        set_tone(field, "error")

    @Slot()
    def forget_divergence(self):
        """The rate was changed or the session is new: the field is plain again."""
        self.fields["lr"].setToolTip(TIPS["lr"])
        set_tone(self.fields["lr"], None)

    @Slot(bool)
    def set_locked(self, locked):
        """Freeze the data-defining fields once a run has begun (Reset frees them)."""
        self._locked = locked
        self._apply()

    @Slot(str)
    def set_state(self, state):
        """While a run is active only the settings the engine reads live stay editable."""
        self._state = state
        self._apply()

    def _apply(self):
        idle = self._state == "idle"
        stopping = self._state == "stopping"
        for name, widget in self.fields.items():
            if name in ("lr", "momentum", "weight_decay", "augment"):
                widget.setEnabled(not stopping)
            elif name in DATA_FIELDS:
                widget.setEnabled(idle and not self._locked)
            else:
                widget.setEnabled(idle)
        if self._locked:
            self.fields["batch_size"].setToolTip(
                TIPS["batch_size"] + " Fixed for this run: press Reset to change it.")
        else:
            self.fields["batch_size"].setToolTip(TIPS["batch_size"])
