"""The model on show as a value: architecture, frozen weights, where it stands in its run.

A :class:`ModelRecord` can be handed to any thread and kept for as long as
wanted: nothing in it can change, so nobody needs a defensive copy.  Who wants
to run it builds a private :class:`~cnn_core.network.Network` with
:meth:`ModelRecord.network`.
"""
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .network import Network


def frozen_weights(state):
    """A read-only mapping of read-only arrays from a ``state_dict``.

    Arrays already read-only (an epoch snapshot's) are shared; others are copied
    first, so the caller's arrays stay writable and the record never sees them change.
    """
    frozen = {}
    for name, value in state.items():
        if value.flags.writeable:
            value = np.array(value, copy=True)
            value.setflags(write=False)
        frozen[name] = value
    return MappingProxyType(frozen)


@dataclass(frozen=True, eq=False)
class ModelRecord:
    """A model at one moment of a session.

    Attributes
    ----------
    architecture : tuple of mappingproxy
        The layer specs (as :func:`cnn_core.network.default_architecture`), read-only.
    weights : mappingproxy of str to ndarray
        ``{"conv1.weight": (8, 1, 3, 3), ...}``, every array read-only.
    epoch : int
        Finished epochs of the run when the weights were taken.
    batch : int
        Batches of epoch ``epoch + 1`` already trained (0 at an epoch's end).
    metrics : EpochRecord or None
        The summary of epoch ``epoch`` (None for epoch 0).
    description : str
        What the model is, for the panels (``"epoch 3, batch 12"``).
    """

    architecture: tuple
    weights: MappingProxyType
    epoch: int
    batch: int
    metrics: object
    description: str

    @classmethod
    def of(cls, architecture, state, description, epoch=0, batch=0, metrics=None):
        """Build a record from layer specs and a ``state_dict`` (copied unless read-only)."""
        return cls(tuple(MappingProxyType(dict(spec)) for spec in architecture),
                   frozen_weights(state), epoch, batch, metrics, description)

    def layer_specs(self):
        """The architecture as a new list of dicts, as ``Network(architecture)`` takes it."""
        return [dict(spec) for spec in self.architecture]

    def network(self):
        """A new, private :class:`Network` holding these weights (writable copies)."""
        network = Network(self.layer_specs())
        network.load_state_dict(self.weights)
        return network

    def state_dict(self):
        """The weights as a plain dict of the same read-only arrays."""
        return dict(self.weights)

    def conv_layer_names(self):
        """The names of the conv layers, in order."""
        return [spec["name"] for spec in self.architecture if spec["type"] == "conv"]

    def with_description(self, description):
        """The same model described otherwise (the arrays are shared)."""
        return ModelRecord(self.architecture, self.weights, self.epoch, self.batch,
                           self.metrics, description)
