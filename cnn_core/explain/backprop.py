"""Backward passes for explanations: gradients of the input and the feature maps only.

:meth:`Network.backward <cnn_core.network.Network.backward>` is made for
training, so by default every layer also computes its parameter gradients.
An explanation never needs those, and they are half the work of a backward
pass (more for one image, where fc1's weight gradient is an outer product of
128 × 3136), so this asks for ``param_grads=False``: the parameter gradients
(``layer.grads``) are never touched.
"""


def backward(network, grad, start=None, need_input_grad=True, record=False, until=None):
    """Back-propagate ``grad`` from layer ``start`` down to the input.

    Must follow a forward pass that reached layer ``start`` (the network's
    own ``forward``, or :func:`~cnn_core.explain.passes.forward_to`).

    Parameters
    ----------
    network : Network
    grad : ndarray
        Gradient with respect to layer ``start``'s output, in its layout:
        ``(N, 10)`` for the logits, ``(C, N, H, W)`` for a feature map.
    start : int or None
        Index of the layer the gradient belongs to; ``None`` means the last.
    need_input_grad : bool
        Return the gradient with respect to the images; without it the
        first layer's input gradient is skipped.
    record : bool
        Also return each layer's output gradient, as ``Network.backward``
        with ``record=True`` puts in ``output_grads`` (same layouts).
    until : int or None
        Go down only to the output of this layer (see ``Network.backward``).

    Returns
    -------
    input_grad : ndarray, (N, 1, 28, 28) or None
        A copy.
    recorded : dict of str -> ndarray, or None
        Valid until the network's next pass (layers reuse buffers).
    """
    input_grad = network.backward(grad, need_input_grad=need_input_grad, record=record,
                                  param_grads=False, start=start, until=until)
    return input_grad, network.output_grads
