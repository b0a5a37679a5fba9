"""Frozen messages the training worker sends to the GUI thread.

Every array in them is read-only (a fresh copy, or an epoch snapshot that never
changes), so the worker can go on changing its network while the GUI thread
draws what it was sent.
"""
from dataclasses import dataclass

import numpy as np

from cnn_core.kernels import kernel_mosaic, weight_drift


def frozen_array(values, dtype=np.float64):
    """Return ``values`` as a new read-only array (never a view of live data)."""
    array = np.array(values, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class BatchChunk:
    """Every batch trained since the previous chunk, as parallel arrays of length k.

    Attributes
    ----------
    position : ndarray (k,)
        Where each batch ends on the epoch axis: ``epoch - 1 + batch / batches_per_epoch``.
    step, loss, accuracy, lr, momentum : ndarray (k,)
        ``lr`` and ``momentum`` are those each batch was trained with.
    peak_lr : ndarray (k,)
        The learning rate as set in the form (the schedule's peak) at each batch: it
        changes only when a person changes it, where ``lr`` follows the schedule.
    grad_norms : dict of str to ndarray (k,)
        Per parametrised layer, the gradient norm of each batch.
    dead_relu : dict of str to float
        Per ReLU layer, the fraction of dead units in the last batch.
    epoch, batch, batches_per_epoch, total_epochs : int
        Where the run stands after the last batch (``epoch`` counts from 1).
    samples_per_second : float
        Images per second of training time, over the last seconds of it: neither a
        pause nor the validation at an epoch's end counts (NaN until measured).
    seconds_left : float
        Estimated training time to the end of the run, validations included (NaN
        until measured); it does not count down while the run is paused.
    """

    position: np.ndarray
    step: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    lr: np.ndarray
    peak_lr: np.ndarray
    momentum: np.ndarray
    grad_norms: dict
    dead_relu: dict
    epoch: int
    batch: int
    batches_per_epoch: int
    total_epochs: int
    samples_per_second: float
    seconds_left: float

    def __len__(self):
        return len(self.step)


@dataclass(frozen=True, eq=False)
class EpochSummary:
    """One finished epoch: the engine's record and the weights at its end."""

    record: object          # cnn_core.trainer.EpochRecord (frozen, scalars only)
    state: dict             # the session's snapshot: a state_dict of read-only arrays
    total_epochs: int


@dataclass(frozen=True, eq=False)
class KernelFrame:
    """Pictures of the conv kernels and how far every layer has moved since epoch 0.

    Attributes
    ----------
    mosaics : dict of str to (ndarray (H, W), float)
        Per conv layer, the tiled kernels (NaN gaps) and the symmetric level limit.
    drift : dict of str to float
        Per parametrised layer, ``‖W − W₀‖ / ‖W₀‖``.
    """

    mosaics: dict
    drift: dict


def kernel_frame(state, initial, conv_names):
    """Build a :class:`KernelFrame` from a ``state_dict`` and the epoch-0 one."""
    mosaics = {}
    for name in conv_names:
        mosaic, limit = kernel_mosaic(state[f"{name}.weight"])
        mosaic.setflags(write=False)
        mosaics[name] = (mosaic, limit)
    return KernelFrame(mosaics, weight_drift(state, initial))


@dataclass(frozen=True)
class Divergence:
    """Where a run diverged: the batch that blew up is in no chunk, its weights are gone.

    Attributes
    ----------
    position : float
        Where that batch would have ended on the epoch axis.
    lr : float
        The learning rate it was trained with (the schedule's, at that step).
    peak_lr : float
        The learning rate as set in the form then.
    restored_epoch : int
        The epoch whose weights the run went back to.
    """

    position: float
    lr: float
    peak_lr: float
    restored_epoch: int


@dataclass(frozen=True)
class RunEnded:
    """How a call to ``Trainer.run`` ended: ``finished``, ``stopped``, ``diverged``,
    ``invalid`` or ``failed``."""

    status: str
    message: str
    epochs_done: int
