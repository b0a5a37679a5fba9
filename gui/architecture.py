"""What the panels need to know of a network, read from its architecture (no Qt).

No panel names the seed's layers: layer names, shapes and channel counts come
from the model on show (``network.architecture``, ``network.output_shapes``,
``network.conv_layer_names()``), and the facts that take a little reasoning
about the layer list are worked out here, once.
"""
def embedding_layer(network):
    """The layer whose output the embedding map places images by: the input of
    the last dense layer, what the network's answer is read from (the seed's
    fc1 after its ReLU).

    A network always has a dense layer: it must end in 10 scores, and a
    flattened map of 28, 14 or 7 pixels a side never has 10 values.
    """
    specs = network.architecture
    last_dense = max(i for i, spec in enumerate(specs) if spec["type"] == "dense")
    # Never the first layer: a dense layer takes rows, and the input is an image.
    return specs[last_dense - 1]["name"]


def embedding_caption(network):
    """:func:`embedding_layer` in words: a ReLU by the layer it rectifies (``"fc1
    after ReLU"``), any other layer by its name."""
    name = embedding_layer(network)
    specs = network.architecture
    index = [spec["name"] for spec in specs].index(name)
    if specs[index]["type"] == "relu":
        return f"{specs[index - 1]['name']} after ReLU"
    return name


def panel_layout(architecture):
    """What the window's panels are built for when it opens: every layer's kind and
    name, and each conv layer's channel count (a mosaic, a kernel grid, a CAM and a
    channel range per conv layer; a curve or bar per named layer).

    Dense widths are not in it: the panels size dense units from each pass, so a
    model that differs from the one on show only in those can be shown as well.

    Parameters
    ----------
    architecture : sequence of dict
        Layer specs (``Network.architecture``, ``ModelRecord.layer_specs()``).

    Returns
    -------
    list of (str, str, int or None)
        ``(type, name, out_channels)`` per layer, ``None`` but for conv layers.
    """
    return [(spec["type"], spec["name"], spec["out_channels"] if spec["type"] == "conv" else None)
            for spec in architecture]
