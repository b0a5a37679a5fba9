"""One training step as a value, and what can be read from it.

The :class:`~cnn_core.trainer.Trainer` keeps a :class:`StepRecord` of its last
batch: the exact (augmented) images and labels, the parameters before and after
the update, the batch-mean gradients, the momentum buffers before, and the
optimizer's settings in force.  From it:

* :func:`before_after` — each image through the weights before and after the step;
* :func:`kernel_update` — SGD's update of one kernel or dense unit, number by
  number, in the optimizer's own float32 operation order (so equal to the bit);
* :func:`numerical_check` — one weight's backpropagated gradient on the step's
  batch against a central difference, both in float64.

No Qt here; every array of a record is read-only, so it can cross threads.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .gradcheck import EPSILON, numeric_gradient
from .losses import cross_entropy, log_softmax
from .network import Network


def _frozen(array):
    copy = np.array(array, copy=True)
    copy.setflags(write=False)
    return copy


def _copied(named):
    """A read-only mapping of read-only copies of ``(name, array)`` pairs."""
    return MappingProxyType({name: _frozen(value) for name, value in named})


@dataclass(frozen=True, eq=False)
class StepRecord:
    """What one SGD step used and did.

    Attributes
    ----------
    architecture : tuple of dict
        The layer specs, as :class:`~cnn_core.network.Network` takes them.
    images : ndarray, float32 (N, 1, 28, 28)
        The batch as trained on (after augmentation).
    labels : ndarray, int64 (N,)
    params_before, params_after : mappingproxy of str to ndarray
        The parameters by ``state_dict`` name around the update.
    grads : mappingproxy of str to ndarray
        The batch-mean gradients the optimizer was given.
    velocity_before : mappingproxy of str to ndarray
        The momentum buffers before the update (zeros when ``momentum_applied``
        is False: the update does not read them).
    momentum_applied : bool
        False on the optimizer's first step after a start or rewind, where ``v = g``.
    lr, momentum, weight_decay : float
        The settings in force for this update (``lr`` after the schedule).
    loss : float
        The batch's mean loss as trained (weights before, float32, in chunks).
    epoch, batch, batches_per_epoch : int
        Where the step was: batch ``batch`` (from 1) of epoch ``epoch`` (from 1).
    """

    architecture: tuple
    images: np.ndarray
    labels: np.ndarray
    params_before: MappingProxyType
    grads: MappingProxyType
    velocity_before: MappingProxyType
    momentum_applied: bool
    lr: float
    momentum: float
    weight_decay: float
    params_after: MappingProxyType
    loss: float
    epoch: int
    batch: int
    batches_per_epoch: int

    def network(self, after=False):
        """A private float32 :class:`Network` with the weights before (or after) the step."""
        network = Network([dict(spec) for spec in self.architecture])
        network.load_state_dict(self.params_after if after else self.params_before)
        return network


class StepRecorder:
    """Keeps what is needed to make the last step's :class:`StepRecord`, cheaply.

    Per batch it copies only what the update overwrites: the parameters and, when
    momentum applies, the momentum buffers (``begin``).  The rest (gradients,
    parameters after, images) stays where the trainer left it until :meth:`record`
    is asked for, which must happen between batches, and copies it once.
    """

    def __init__(self):
        self.clear()

    def clear(self):
        """Forget the step: its live arrays are about to change (a new batch, a rewind)."""
        self._before = self._after = self._record = None

    def begin(self, network, optimizer, images, labels):
        """Before the update: copy the parameters and the momentum buffers it overwrites."""
        applied = optimizer.started and optimizer.momentum != 0
        self._before = (_copied(network.named_params()),
                        _copied(optimizer.velocity_items()) if applied else None,
                        applied, images, labels)

    def finish(self, network, optimizer, grads, loss, epoch, batch, batches_per_epoch):
        """After the update: remember where the rest lives (no copies yet)."""
        self._after = (network, grads, optimizer.lr, optimizer.momentum,
                       optimizer.weight_decay, float(loss), epoch, batch, batches_per_epoch)

    def record(self):
        """The last finished step as a :class:`StepRecord` (None if there is none);
        the copies are made at the first call after the step."""
        if self._record is None and self._after is not None:
            params, velocity, applied, images, labels = self._before
            network, grads, lr, momentum, decay, loss, epoch, batch, per_epoch = self._after
            if velocity is None:        # unused by the update: v = g
                velocity = MappingProxyType({name: _frozen(np.zeros_like(value))
                                             for name, value in params.items()})
            self._record = StepRecord(
                tuple(dict(spec) for spec in network.architecture), _frozen(images),
                _frozen(labels), params, _copied(grads.items()), velocity, applied, lr,
                momentum, decay, _copied(network.named_params()), loss, epoch, batch, per_epoch)
        return self._record


# --- before and after -------------------------------------------------------------------

@dataclass(frozen=True)
class BeforeAfter:
    """Each image of a step's batch through the weights before and after the step.

    Arrays are ``(N,)`` unless said: ``probs_*`` are the softmax ``(N, 10)``,
    ``loss_*`` each image's cross-entropy, ``pred_*`` the predicted class.
    """

    labels: np.ndarray
    pred_before: np.ndarray
    pred_after: np.ndarray
    probs_before: np.ndarray
    probs_after: np.ndarray
    loss_before: np.ndarray
    loss_after: np.ndarray

    @property
    def change(self):
        """``loss_after - loss_before`` per image: negative is better."""
        return self.loss_after - self.loss_before

    @property
    def better(self):
        return self.change < 0

    @property
    def worse(self):
        return self.change > 0

    @property
    def batch_loss_before(self):
        return float(self.loss_before.mean())

    @property
    def batch_loss_after(self):
        return float(self.loss_after.mean())


def per_image_loss(logits, labels):
    """Each image's cross-entropy ``(N,)`` from ``logits (N, 10)``: ``-log p(label)``."""
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def before_after(step):
    """Run the step's images through its weights before and after; a :class:`BeforeAfter`.

    The two passes run on two threads (NumPy lets go of the interpreter lock in them).
    """
    labels = step.labels

    def through(after):
        logits = step.network(after).predict_logits(step.images)
        return logits.argmax(axis=1), np.exp(log_softmax(logits)), per_image_loss(logits, labels)
    with ThreadPoolExecutor(2) as pool:
        (pb, qb, lb), (pa, qa, la) = pool.map(through, (False, True))
    return BeforeAfter(labels, pb, pa, qb, qa, lb, la)


# --- the update of one kernel -----------------------------------------------------------

@dataclass(frozen=True)
class KernelUpdate:
    """SGD's update of one kernel (conv: ``(kh, kw)``) or dense unit (``(in_features,)``).

    ``g = grad + weight_decay * w``; ``v = momentum * v + g`` (``v = g`` when
    ``momentum_applied`` is False); ``w_after = w - lr * v``.  ``w_after`` is
    worked out here; ``w_optimizer`` is what the optimizer wrote.
    """

    param_name: str
    index: tuple
    w_before: np.ndarray
    grad: np.ndarray
    velocity_before: np.ndarray
    g: np.ndarray
    velocity_after: np.ndarray
    w_after: np.ndarray
    w_optimizer: np.ndarray
    lr: float
    momentum: float
    weight_decay: float
    momentum_applied: bool


def kernel_update(step, param_name, index):
    """The update of ``param_name[index]`` in ``step``.

    ``index`` is ``(out_channel, in_channel)`` for a conv weight and ``(unit,)`` for
    a dense weight.  The arithmetic repeats :meth:`cnn_core.optimizers.SGD._update`
    operation by operation in float32, so ``w_after`` equals ``w_optimizer`` exactly.
    """
    if param_name not in step.params_before:
        raise KeyError(f"no parameter {param_name!r}")
    index = tuple(int(i) for i in index)
    w = np.array(step.params_before[param_name][index])
    grad = np.array(step.grads[param_name][index])
    v_before = np.array(step.velocity_before[param_name][index])
    # The optimizer's order: g = w * wd; g += grad; v *= mu; v += g; w -= v * lr.
    # ``out=`` float32 arrays, as there: the scalars are rounded to float32 alike.
    g = np.empty_like(w)
    np.multiply(w, step.weight_decay, out=g)
    g += grad
    if step.momentum_applied:
        v = v_before.copy()
        v *= step.momentum
        v += g
    else:
        v = g.copy()
    scaled = np.empty_like(v)
    np.multiply(v, step.lr, out=scaled)
    w_after = w.copy()
    w_after -= scaled
    return KernelUpdate(param_name, index, w, grad, v_before, g, v, w_after,
                        np.array(step.params_after[param_name][index]), step.lr,
                        step.momentum, step.weight_decay, step.momentum_applied)


# --- the numerical check ----------------------------------------------------------------

@dataclass(frozen=True)
class NumericalCheck:
    """One weight's gradient of the step's mean batch loss at the weights before the step.

    ``backprop`` and ``numeric`` are float64 (backward pass, central difference
    with step ``epsilon``); ``step_gradient`` is what the float32 training step used.
    """

    param_name: str
    flat_index: int
    backprop: float
    numeric: float
    step_gradient: float
    relative_error: float
    epsilon: float


def numerical_check(step, param_name, flat_index):
    """Check ``param_name``'s entry ``flat_index`` (flat position) on the step's batch."""
    network = step.network().copy(np.float64)
    params = dict(network.named_params())
    if param_name not in params:
        raise KeyError(f"no parameter {param_name!r}")
    value = params[param_name]
    if not 0 <= flat_index < value.size:
        raise IndexError(f"{param_name} has {value.size} entries, not {flat_index + 1}")
    images = step.images.astype(np.float64)

    def loss():
        return cross_entropy(network.forward(images).logits, step.labels)[0]

    forward = network.forward(images)
    _, grad_logits = cross_entropy(forward.logits, step.labels)
    analytic = float(network.backward(forward, grad_logits).param_grads[param_name]
                     .reshape(-1)[flat_index])
    numeric = float(numeric_gradient(loss, value, [flat_index]).reshape(-1)[flat_index])
    denominator = abs(analytic) + abs(numeric)
    error = 0.0 if denominator == 0 else abs(analytic - numeric) / denominator
    return NumericalCheck(param_name, int(flat_index), analytic, numeric,
                          float(step.grads[param_name].reshape(-1)[flat_index]), error, EPSILON)
