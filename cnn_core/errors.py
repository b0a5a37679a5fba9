"""Exceptions that carry a one-line message meant for the person using the app.

Anything derived from :class:`UserError` is bad input or an expected fault (a
corrupt file, an unreachable mirror, an option out of range).  The command line
prints its message and exits with status 2; the GUI shows it in a message box.
"""


class UserError(Exception):
    """Bad input or an expected fault, described in one plain sentence."""


class DataError(UserError):
    """A data file (IDX, CSV) is missing, malformed or inconsistent."""


class DownloadError(UserError):
    """A download failed: offline, every mirror refused, or a checksum mismatch."""


class ModelFileError(UserError):
    """A model file is missing, corrupt, or does not match the architecture."""


class ImageError(UserError):
    """An image file cannot be read, or holds nothing to classify."""


class EmptyImageError(ImageError):
    """The image or drawing has no ink in it."""


class ConfigError(UserError):
    """A training setting or command-line option is out of range."""


class SameClassError(ConfigError):
    """The class to contrast with is the class being explained (the app then drops
    the contrast: with "explain the predicted class", that depends on the drawing)."""
