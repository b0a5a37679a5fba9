"""One worker's share of a training batch: forward and backward in chunks.

Both :mod:`cnn_core.parallel` (threads, and the first share) and
:mod:`cnn_core.processes` (worker processes) run shares with
:func:`run_share`; it lives here so that neither imports the other for it.
"""
import numpy as np

from .losses import cross_entropy
from .network import CHUNK


def chunks(part, size=CHUNK):
    """Split ``part`` (a slice with a stop) into consecutive slices of at most ``size``."""
    return [slice(s, min(s + size, part.stop)) for s in range(part.start, part.stop, size)]


def merge_fired(alive, fired):
    """Mark in ``alive`` (ReLU name -> bool (C, H, W) or (F,)) the units of ``fired``
    (the same, for one pass: :meth:`Network.fired <cnn_core.network.Network.fired>`)."""
    for name, units in fired.items():
        if name in alive:
            alive[name] |= units
        else:
            alive[name] = units


def run_share(network, images, labels, batch_size, grads, workspace=None, track_alive=True):
    """Forward and backward on one worker's share of a batch, in chunks of :data:`CHUNK`.

    The dense layers' weight gradients are worked out once for the whole share
    (:meth:`Network.finish_deferred <cnn_core.network.Network.finish_deferred>`).

    Parameters
    ----------
    network : Network
    images : ndarray, (n, 1, 28, 28)
    labels : ndarray of int, (n,)
    batch_size : int
        Of the whole batch: each chunk's gradient is scaled to its part of the
        batch mean.
    grads : dict of str -> ndarray
        Buffers by ``state_dict`` name (:meth:`Network.gradient_buffers
        <cnn_core.network.Network.gradient_buffers>`) that receive the share's
        gradients (overwritten, not added to).
    workspace : Workspace or None
        This worker's scratch memory.
    track_alive : bool
        Note which ReLU units fired (1 % of the time; only the health view
        asks for it).

    Returns
    -------
    loss_sum : float
        Summed cross-entropy of the share (NaN or inf if a chunk diverged;
        such a chunk is not back-propagated).
    logits : list of ndarray, (chunk, 10) each
    alive : dict of str -> bool ndarray
        ReLU name -> units that fired for at least one image of the share
        (empty without ``track_alive``).
    """
    loss, logits, alive, filled, deferred = 0.0, [], {}, False, {}
    for chunk in chunks(slice(0, len(labels))):
        forward_pass = network.forward(images[chunk], workspace=workspace)
        if track_alive:
            merge_fired(alive, network.fired(forward_pass))
        chunk_loss, grad = cross_entropy(forward_pass.logits, labels[chunk])
        size = chunk.stop - chunk.start
        if np.isfinite(chunk_loss):
            grad *= size / batch_size                # each chunk's mean → the batch mean
            network.backward(forward_pass, grad, param_grads=grads, accumulate=filled,
                             deferred=deferred)      # the first one overwrites
            filled = True
        loss += chunk_loss * size
        logits.append(forward_pass.logits)
        # Let this pass's maps go before the next pass allocates its own: with
        # two passes alive malloc hands memory back and forth to the system,
        # about 2,000 page faults per share of 64 (measured; none without).
        del forward_pass
    network.finish_deferred(deferred, grads)
    return loss, logits, alive
