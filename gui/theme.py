"""Light and dark: follow the system's colour scheme (Qt 6.5+), or the person's choice.

The choice is read once at start: plots are built with their colours, so a
change applies at the next start.
"""
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

#: Menu labels by stored value.
THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def wants_dark(choice, scheme):
    """Whether to draw dark for ``choice`` (a key of :data:`THEMES`) and the system's scheme."""
    if choice == "dark":
        return True
    if choice == "light":
        return False
    return scheme == Qt.ColorScheme.Dark


def apply_theme(app, choice):
    """Set the app's colour scheme for ``choice``; returns True when it is dark.

    Following the system leaves Qt's palette alone (Qt already follows it);
    a forced choice overrides it with the Fusion style, which honours both schemes.
    """
    hints = app.styleHints()
    dark = wants_dark(choice, hints.colorScheme())
    if choice in ("light", "dark"):
        app.setStyle("Fusion")
        hints.setColorScheme(Qt.ColorScheme.Dark if dark else Qt.ColorScheme.Light)
    if dark and app.palette().color(QPalette.ColorRole.Window).lightness() > 128:
        app.setPalette(dark_palette())   # the platform did not follow the scheme itself
    return dark


def dark_palette():
    """A plain dark palette for the Fusion style."""
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, colour in ((roles.Window, "#2b2b2b"), (roles.WindowText, "#e8eaed"),
                         (roles.Base, "#202124"), (roles.AlternateBase, "#303134"),
                         (roles.ToolTipBase, "#303134"), (roles.ToolTipText, "#e8eaed"),
                         (roles.Text, "#e8eaed"), (roles.Button, "#3c4043"),
                         (roles.ButtonText, "#e8eaed"), (roles.BrightText, "#ff6e6e"),
                         (roles.Link, "#8ab4f8"), (roles.Highlight, "#1a73e8"),
                         (roles.HighlightedText, "#ffffff"), (roles.Mid, "#5f6368"),
                         (roles.PlaceholderText, "#9aa0a6")):
        palette.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#80868b"))
    return palette
