"""Light and dark: follow the system's colour scheme (Qt 6.8+), or the person's choice.

A choice applies at once: :func:`apply_theme` changes the app's palette, and
whatever draws colours of its own (the plots, tinted labels) is restyled from
it by :func:`gui.style.restyle`.
"""
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

#: Menu labels by stored value.
THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def wants_dark(choice, scheme):
    """Whether to draw dark for ``choice`` (a key of :data:`THEMES`) and the system's scheme."""
    if choice == "dark":
        return True
    if choice == "light":
        return False
    return scheme == Qt.ColorScheme.Dark


def is_dark(palette=None):
    """Whether ``palette`` (default the app's) has a dark window behind light text."""
    palette = QGuiApplication.palette() if palette is None else palette
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(app, choice):
    """Give the app the style, colour scheme and palette of ``choice``; True when dark.

    Following the system gives back the platform's own style and palette; a
    forced choice uses the Fusion style, which honours both schemes.  Where the
    platform has no palette for the scheme asked for, a plain one is set.
    Called again with another choice, it switches the running app.
    """
    hints = app.styleHints()
    forced = choice in ("light", "dark")
    if app.property("platform_style") is None:     # before a forced choice replaces it
        app.setProperty("platform_style", app.style().name())
    style = "fusion" if forced else app.property("platform_style")
    if app.style().name() != style:
        app.setStyle(style)
    if forced:
        hints.setColorScheme(Qt.ColorScheme.Dark if choice == "dark" else Qt.ColorScheme.Light)
    else:
        hints.unsetColorScheme()
    dark = wants_dark(choice, hints.colorScheme())
    if is_dark(app.palette()) != dark:
        app.setPalette(QPalette())      # drop a palette set for an earlier choice
    # Following the system, a dark platform palette is kept even when no scheme is reported.
    if is_dark(app.palette()) != dark and (forced or dark):
        app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return is_dark(app.palette())


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
                         (roles.PlaceholderText, "#9aa0a6"),
                         # Bevels and frames (check boxes, panels) need light and shade too.
                         (roles.Light, "#5f6368"), (roles.Midlight, "#4a4d51"),
                         (roles.Dark, "#1b1c1e"), (roles.Shadow, "#000000")):
        palette.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#80868b"))
    return palette
