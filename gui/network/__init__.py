"""The whole CNN left to right for the drawing on the canvas, and one computation step by step.

:mod:`.columns` says what each column shows (pure Python), :mod:`.arithmetic`
the numbers of one output value (pure NumPy); :mod:`.view` draws the network,
:mod:`.detail` one computation, :mod:`.panel` puts them together.
"""
