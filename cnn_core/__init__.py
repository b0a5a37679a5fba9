"""The Explainable CNN engine: a small convolutional network in pure NumPy.

Nothing in this package imports Qt, pyqtgraph or Pillow; the GUI and the command
line call into it and show what comes back.
"""
