"""SGD with momentum and weight decay, and learning-rate schedules.

The update follows PyTorch's ``torch.optim.SGD`` exactly, so the two engines can
be compared step by step::

    g = grad + weight_decay * w
    v = momentum * v + g          (v = g on the first step)
    w = w - lr * v
"""
import math

import numpy as np


#: Parameters with at least this many elements are split between two threads when
#: the optimizer is given one (in practice only fc1's weight, 401,408 of 427,210).
_SPLIT_SIZE = 65536


class SGD:
    """Stochastic gradient descent over a network's parameters.

    ``lr`` and ``momentum`` may be changed between steps (the GUI does so
    while training runs).
    """

    def __init__(self, network, lr=0.01, momentum=0.0, weight_decay=0.0):
        self.network = network
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self._velocity = {name: np.zeros_like(p) for name, p in network.named_params()}
        self._scratch = {name: np.zeros_like(p) for name, p in network.named_params()}
        self._started = False

    def step(self, grads, executor=None):
        """Apply one update from ``grads`` (``state_dict`` name -> gradient array, as
        :attr:`DataParallel.grads <cnn_core.parallel.DataParallel.grads>`).

        Works in place with one scratch array per parameter: fc1's weights
        alone are 1.6 MB, and fresh temporaries of that size cost more than
        the arithmetic.  With an ``executor`` (a thread pool, such as
        :attr:`DataParallel.executor <cnn_core.parallel.DataParallel.executor>`)
        the second half of every large parameter is updated on another
        thread; the update is elementwise, so the result is the same.
        """
        mine, theirs = [], []
        for name, param in self.network.named_params():
            arrays = (param, grads[name], self._velocity[name], self._scratch[name])
            if executor is None or param.size < _SPLIT_SIZE:
                mine.append(arrays)
            else:
                half = param.size // 2
                flat = [a.reshape(-1) for a in arrays]
                mine.append(tuple(a[:half] for a in flat))
                theirs.append(tuple(a[half:] for a in flat))
        momentum = self.momentum if self._started else 0.0
        helper = executor.submit(self._update, theirs, momentum) if theirs else None
        self._update(mine, momentum)
        if helper is not None:
            helper.result()
        self._started = True

    def _update(self, pieces, momentum):
        """The update on ``(param, grad, velocity, scratch)`` arrays, in place."""
        for param, grad, v, g in pieces:
            np.multiply(param, self.weight_decay, out=g)
            g += grad                                   # grad + weight_decay * w
            if momentum:
                v *= momentum
                v += g
            else:
                v[...] = g
            np.multiply(v, self.lr, out=g)
            param -= g

    @property
    def started(self):
        """Whether the next step adds to the momentum buffers (False: ``v = g``)."""
        return self._started

    def velocity_items(self):
        """``(state_dict name, momentum buffer)`` pairs, the live arrays (do not write)."""
        return self._velocity.items()

    def reset(self):
        """Forget the momentum (after restoring weights, the old velocity is stale)."""
        self._started = False


def constant_schedule(total_steps):
    """Factor 1 at every step: the learning rate stays where it is set."""
    return lambda step: 1.0


def one_cycle_schedule(total_steps, warmup_fraction=0.3, div=25.0, final_div=1e4):
    """Leslie Smith's one-cycle policy, as ``torch.optim.lr_scheduler.OneCycleLR``.

    Returns ``factor(step)`` (step counted from 0) to multiply the peak learning
    rate by: a cosine warm-up from ``1 / div`` to 1 over the first
    ``warmup_fraction`` of the steps, then cosine annealing down to
    ``1 / (div * final_div)``.  Factors rather than rates let a person change
    the peak learning rate while training runs.
    """
    start, end = 1.0 / div, 1.0 / (div * final_div)
    warm = max(1, int(round(warmup_fraction * total_steps)) - 1)
    last = max(warm + 1, total_steps - 1)

    def cosine(a, b, t):
        return b + (a - b) * (1 + math.cos(math.pi * t)) / 2

    def factor(step):
        if step <= warm:
            return cosine(start, 1.0, step / warm)
        return cosine(1.0, end, min(1.0, (step - warm) / (last - warm)))
    return factor


SCHEDULES = {"onecycle": one_cycle_schedule, "constant": constant_schedule}
