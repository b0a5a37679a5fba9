"""What the network view shows, column by column, read from the architecture.

Pure Python: no Qt.  The view draws one column per layer output (flatten
aside: it only reorders), between the input on the left and the softmax
probabilities on the right; every name, shape and channel count comes from the
layer specs, so another architecture gets its own columns.
"""
from dataclasses import dataclass

from cnn_core.network import INPUT_SHAPE, NUM_CLASSES, Network

INPUT, SOFTMAX = "input", "softmax"
#: The operation that makes a column, in a word or two, by layer type.
OPERATIONS = {"conv": "3×3 conv", "relu": "ReLU", "maxpool": "max 2×2", "dense": "dense"}
#: What a column's values mean, for its hover line and the detail view.
MEANINGS = {INPUT: "ink", "conv": "pre-activation", "relu": "activation",
            "maxpool": "pooled", "dense": "pre-activation", SOFTMAX: "probability"}


@dataclass(frozen=True)
class Column:
    """One column of the network view.

    Attributes
    ----------
    name : str
        The layer's name, ``"input"`` or ``"softmax"``.
    kind : str
        ``"input"``, a layer type (``"conv"``, ``"relu"``, ``"maxpool"``,
        ``"dense"``) or ``"softmax"``.
    shape : tuple of int
        The values shown for one image: ``(C, H, W)`` maps or ``(F,)`` units.
    source : str or None
        The column this one is computed from (None for the input).
    signed : bool
        Whether the values can be negative (drawn on a diverging scale).
    flattened : bool
        Whether the source's maps are flattened first (a dense layer after maps).
    """

    name: str
    kind: str
    shape: tuple
    source: object
    signed: bool
    flattened: bool = False

    @property
    def is_maps(self):
        """Whether the column holds feature maps ``(C, H, W)`` (else units ``(F,)``)."""
        return len(self.shape) == 3

    @property
    def operation(self):
        """``"3×3 conv"``, ``"ReLU"``, ...: how the column is made."""
        return {INPUT: "input", SOFTMAX: "softmax"}.get(self.kind) or OPERATIONS[self.kind]

    def where(self, element):
        """Words for one value: ``"channel 3, row 5, column 7"``, ``"unit 17"``, ``"class 3"``
        (the units of the network's last columns are its classes)."""
        if self.is_maps:
            return f"channel {element[0]}, row {element[1]}, column {element[2]}"
        return f"{'class' if self.shape == (NUM_CLASSES,) else 'unit'} {element[0]}"

    @property
    def shape_text(self):
        """The output shape as the view labels it, ``"16 × 14 × 14"``."""
        return "\u2009×\u2009".join(str(size) for size in self.shape)   # thin spaces


def network_columns(architecture):
    """The view's columns for ``architecture`` (a list of layer specs), left to right.

    Returns
    -------
    list of Column
    """
    shapes = Network(architecture).output_shapes
    columns = [Column(INPUT, INPUT, INPUT_SHAPE, None, False)]
    flattened = False
    for spec in architecture:
        kind, name = spec["type"], spec["name"]
        if kind == "flatten":
            flattened = True
            continue
        source = columns[-1]
        signed = kind in ("conv", "dense") or (kind == "maxpool" and source.signed)
        columns.append(Column(name, kind, tuple(shapes[name]), source.name, signed, flattened))
        flattened = False
    last = columns[-1]
    columns.append(Column(SOFTMAX, SOFTMAX, last.shape, last.name, False))
    return columns


def column_values(columns, image, outputs, probabilities):
    """Each column's values for one image, by column name.

    Parameters
    ----------
    image : ndarray, (28, 28)
    outputs : dict of str to ndarray
        Every layer's output for the image, ``(C, H, W)`` or ``(F,)``.
    probabilities : ndarray, (K,)
    """
    values = {INPUT: image.reshape(INPUT_SHAPE), SOFTMAX: probabilities}
    values.update((column.name, outputs[column.name]) for column in columns
                  if column.name not in values)
    return values
