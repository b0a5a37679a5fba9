"""The app's persistent settings (QSettings): geometry, form values, choices, recent files.

One INI file per user, in Qt's standard place for it.  Tests redirect it with
``QSettings.setPath`` so they never touch the real user's settings.
"""
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit

ORGANISATION = "explainable-cnn"
APPLICATION = "explainable-cnn"
MAX_RECENT = 8


def app_settings():
    """A QSettings on the app's INI file (cheap: Qt shares and caches the file)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                     ORGANISATION, APPLICATION)


def save_fields(settings, group, fields):
    """Store the values of form widgets (spin boxes, edits, combos, check boxes) by name."""
    settings.beginGroup(group)
    for name, widget in fields.items():
        if isinstance(widget, QComboBox):
            settings.setValue(name, widget.currentData())
        elif isinstance(widget, QCheckBox):
            settings.setValue(name, widget.isChecked())
        elif isinstance(widget, QLineEdit):
            settings.setValue(name, widget.text())
        else:
            settings.setValue(name, widget.value())
    settings.endGroup()


def restore_fields(settings, group, fields):
    """Put back values stored by :func:`save_fields`; unknown or bad values are skipped."""
    settings.beginGroup(group)
    try:
        for name, widget in fields.items():
            value = settings.value(name)
            if value is None:
                continue
            try:
                _set(widget, value)
            except (TypeError, ValueError):
                continue
    finally:
        settings.endGroup()


def set_fields(fields, values):
    """Put ``values`` (``{name: value}``, e.g. a TrainConfig as a dict) into the form widgets
    of the same names; other names are skipped."""
    for name, widget in fields.items():
        if name in values:
            _set(widget, values[name])


def _set(widget, value):
    if isinstance(widget, QComboBox):
        index = widget.findData(value)
        if index < 0:   # INI files bring numbers back as strings
            index = next((i for i in range(widget.count())
                          if str(widget.itemData(i)) == str(value)), -1)
        if index >= 0:
            widget.setCurrentIndex(index)
    elif isinstance(widget, QCheckBox):
        widget.setChecked(str(value).lower() in ("true", "1"))
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value))
    else:
        widget.setValue(type(widget.value())(float(value)))


def recent_files(settings):
    """The recently opened or saved model files, newest first."""
    value = settings.value("recent/models", [])
    if isinstance(value, str):   # one entry comes back as a plain string
        value = [value]
    return [str(v) for v in value or []]


def add_recent_file(settings, path):
    """Put ``path`` first in the recent list (at most :data:`MAX_RECENT`)."""
    path = str(Path(path).resolve())
    files = [path] + [p for p in recent_files(settings) if p != path]
    settings.setValue("recent/models", files[:MAX_RECENT])


def prune_recent_files(settings):
    """Drop files that no longer exist; returns the dropped ones."""
    files = recent_files(settings)
    missing = [p for p in files if not Path(p).is_file()]
    if missing:
        settings.setValue("recent/models", [p for p in files if p not in missing])
    return missing
