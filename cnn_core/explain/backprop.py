"""Backward passes for explanations: gradients of the input and the feature maps only.

:meth:`Network.backward <cnn_core.network.Network.backward>` is made for
training, so by default every layer also computes its parameter gradients.
An explanation never needs those, and they are half the work of a backward
pass (more for one image, where fc1's weight gradient is an outer product of
128 × 3136), so this asks for ``param_grads=False``.
"""


def backward(network, forward_pass, grad, need_input_grad=True, record=False, until=None):
    """Back-propagate ``grad`` from the top of ``forward_pass`` down to the input.

    Parameters
    ----------
    network : Network
    forward_pass : ForwardPass
        From ``network.forward`` (or :func:`~cnn_core.explain.passes.forward_to`).
    grad : ndarray
        Gradient with respect to the pass's output, in its layout: ``(N, 10)``
        for the logits, ``(C, N, H, W)`` for a feature map.
    need_input_grad : bool
        Return the gradient with respect to the images; without it the
        first layer's input gradient is skipped.
    record : bool
        Also return each layer's output gradient (same layouts as the
        forward pass's ``outputs``).
    until : int or None
        Go down only to the output of this layer (see ``Network.backward``).

    Returns
    -------
    input_grad : ndarray, (N, 1, 28, 28) or None
    recorded : dict of str -> ndarray, or None
    """
    result = network.backward(forward_pass, grad, need_input_grad=need_input_grad, record=record,
                              param_grads=False, until=until)
    return result.input_grad, result.output_grads if record else None
