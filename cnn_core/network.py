"""The network as data: an ordered list of layers, run forward and backward.

The public side speaks PyTorch's language: images ``(N, 1, 28, 28)``, logits
``(N, 10)``, parameters by ``state_dict`` names (``"conv1.weight"``), feature maps
channel-major ``(C, N, H, W)``.  Inside, the layers keep the images last,
``(C, H, W, N)`` (see :mod:`cnn_core.layers`).

A pass is a value: :meth:`Network.forward` returns a :class:`ForwardPass` and
:meth:`Network.backward` a :class:`BackwardPass`.  The network holds its layers
and their parameters, and scratch memory it lends to one caller at a time
(:class:`~cnn_core.layers.WorkspacePool`), so any number of passes can run on
it at once.

How this fits the whole (threads, the path of a batch and of a pen stroke):
docs/architecture.md.
"""
from dataclasses import dataclass

import numpy as np

from .layers import (Conv2D, Dense, MaxPool2D, ReLU, WorkspacePool, dense_weight_gradient,
                     internal_maps, layer_from_spec, public_maps)
from .losses import softmax
from .plan import fused_steps, layer_steps

INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10

#: Images per forward/backward pass when a batch is run in pieces.  A chunk's
#: im2col buffers stay a few MB (3.6 MB for conv4's at 16 images), within the
#: shared L3 cache; the whole batch's would not be.  Measured here with the
#: (C, H, W, N) layout, the training step runs at 1.13x PyTorch's time with
#: chunks of 16, against 1.23x with 8 and 1.28x with 32.
CHUNK = 16


def default_architecture():
    """The seed's network as a list of layer specs (427,210 parameters)."""
    def conv(name, c_in, c_out):
        return {"type": "conv", "name": name, "in_channels": c_in, "out_channels": c_out}
    return [
        conv("conv1", 1, 8), {"type": "relu", "name": "relu1"},
        conv("conv2", 8, 16), {"type": "relu", "name": "relu2"},
        {"type": "maxpool", "name": "pool1"},
        conv("conv3", 16, 32), {"type": "relu", "name": "relu3"},
        conv("conv4", 32, 64), {"type": "relu", "name": "relu4"},
        {"type": "maxpool", "name": "pool2"},
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "fc1", "in_features": 3136, "out_features": 128},
        {"type": "relu", "name": "relu5"},
        {"type": "dense", "name": "fc2", "in_features": 128, "out_features": NUM_CLASSES},
    ]


def images_to_maps(images, dtype):
    """Images ``(N, 1, 28, 28)`` as the first layer's input ``(1, 28, 28, N)``, cast
    to ``dtype``."""
    return np.ascontiguousarray(np.asarray(images, dtype).transpose(1, 2, 3, 0))


@dataclass(frozen=True)
class ForwardPass:
    """One forward pass, as a value.

    Attributes
    ----------
    output : ndarray
        The last layer run's output: the logits ``(N, 10)`` of a whole pass,
        or, for a pass stopped early, that layer's output in public layout,
        maps ``(C, N, H, W)`` (a view) or rows ``(N, F)``.
    outputs : dict of str -> ndarray
        With ``record``: every layer's output by name, maps ``(C, N, H, W)``
        (views) or rows ``(N, F)``; otherwise empty.
    steps : tuple
        The steps run (:mod:`cnn_core.plan`), and ``caches`` what each one
        keeps for the backward pass.  Caches made with a
        :class:`~cnn_core.layers.Workspace` point into it: back-propagate
        before the workspace's next pass.
    """

    output: np.ndarray
    outputs: dict
    steps: tuple
    caches: tuple

    @property
    def logits(self):
        """The logits ``(N, 10)`` of a whole pass (the same as ``output``)."""
        return self.output

    @property
    def recorded(self):
        """Whether every layer's output was kept (and every layer run on its own)."""
        return bool(self.outputs)


@dataclass(frozen=True)
class BackwardPass:
    """One backward pass, as a value.

    Attributes
    ----------
    input_grad : ndarray, (N, 1, 28, 28), or None
        The gradient with respect to the images, when asked for.
    output_grads : dict of str -> ndarray
        With ``record``: each layer's output gradient by name, in the layouts
        of :attr:`ForwardPass.outputs`; otherwise empty.
    param_grads : dict of str -> ndarray
        Parameter gradients by ``state_dict`` name (empty when not asked for).
    """

    input_grad: object
    output_grads: dict
    param_grads: dict


class Network:
    """An ordered stack of layers with PyTorch-style parameter names.

    Parameters
    ----------
    architecture : list of dict
        Layer specs as returned by :func:`default_architecture`.
    seed : int or None
        Seed for He initialisation; ``None`` leaves the parameters at zero
        (for loading weights from a file).
    """

    def __init__(self, architecture=None, seed=None):
        self.architecture = [dict(s) for s in (architecture or default_architecture())]
        self.layers = [layer_from_spec(s) for s in self.architecture]
        self.output_shapes = self._check_shapes()
        # Recording passes keep every layer's output, so they run every layer
        # on its own; the others fuse each ReLU with the max-pool after it.
        self._layer_steps = layer_steps(self.layers)
        self._fused_steps = fused_steps(self.layers)
        #: Scratch memory for callers whose passes end before they return.
        self.workspaces = WorkspacePool()
        if seed is not None:
            self.initialize(seed)

    def _check_shapes(self):
        """Check that the layers fit together; return each one's output shape for one
        image, by name (``(C, H, W)`` for feature maps, ``(F,)`` for rows)."""
        shape, shapes = INPUT_SHAPE, {}
        for layer in self.layers:
            if isinstance(layer, Conv2D) and shape[0] != layer.in_channels:
                raise ValueError(f"{layer.name} expects {layer.in_channels} channels, gets {shape[0]}")
            if isinstance(layer, Dense) and shape != (layer.in_features,):
                raise ValueError(f"{layer.name} expects {layer.in_features} features, gets {shape}")
            if isinstance(layer, MaxPool2D) and (shape[1] % 2 or shape[2] % 2):
                raise ValueError(f"{layer.name} needs even height and width, gets {shape}")
            shape = shapes[layer.name] = layer.output_shape(shape)
        if shape != (NUM_CLASSES,):
            raise ValueError(f"the network must end in {NUM_CLASSES} scores, not {shape}")
        return shapes

    def initialize(self, seed):
        """He-initialise every conv and dense layer from ``seed`` (reproducible)."""
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            if hasattr(layer, "init_he"):
                layer.init_he(rng)

    # --- parameters -------------------------------------------------------------------

    def named_params(self):
        """Yield ``(state_dict_name, array)`` for every parameter, in layer order."""
        for layer in self.layers:
            for key, value in layer.params.items():
                yield f"{layer.name}.{key}", value

    def gradient_buffers(self):
        """Zeroed arrays shaped as the parameters, by ``state_dict`` name: somewhere for
        :meth:`backward` to write parameter gradients."""
        return {name: np.zeros_like(value) for name, value in self.named_params()}

    def state_dict(self):
        """Return a copy of the parameters, ``{"conv1.weight": (8, 1, 3, 3), ...}``."""
        return {name: value.copy() for name, value in self.named_params()}

    def load_state_dict(self, state):
        """Copy arrays into the parameters; names and shapes must match exactly."""
        own = dict(self.named_params())
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        if missing or extra:
            raise ValueError(f"parameter names differ: missing {missing}, unexpected {extra}")
        for name, value in own.items():
            if state[name].shape != value.shape:
                raise ValueError(f"{name} has shape {state[name].shape}, expected {value.shape}")
        for name, value in own.items():
            value[...] = state[name]

    def num_params(self):
        return sum(value.size for _, value in self.named_params())

    @property
    def dtype(self):
        """The parameters' dtype (float32, or float64 for gradient checks)."""
        return next(layer.params["weight"].dtype for layer in self.layers if layer.params)

    def copy(self, dtype=None):
        """Return an independent network: the same layers with copied weights.

        Explanations run on such a frozen copy so that training never changes
        the weights under them.
        """
        twin = Network(self.architecture)
        for mine, theirs in zip(self.layers, twin.layers):
            for key, value in mine.params.items():
                theirs.params[key] = value.astype(dtype or value.dtype, copy=True)
        return twin

    def layer(self, name):
        """Return the layer called ``name`` (``KeyError`` if there is none)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def conv_layer_names(self):
        return [layer.name for layer in self.layers if isinstance(layer, Conv2D)]

    def relu_layers(self):
        return [layer for layer in self.layers if isinstance(layer, ReLU)]

    # --- passes ------------------------------------------------------------------------

    def forward(self, images, record=False, workspace=None, stop=None):
        """Run the network on a batch.

        Parameters
        ----------
        images : ndarray, (N, 1, 28, 28)
            Pixel values in [0, 1]; cast to the network's dtype.
        record : bool
            Keep every layer's output in the pass's ``outputs``.  Without it,
            a ReLU before a max-pool is applied after the pool
            (:class:`~cnn_core.plan.ReluPool`): the same logits and
            gradients, but that ReLU's full-size output never exists.
        workspace : Workspace or None
            The caller's scratch memory, reused from pass to pass (training);
            ``None`` allocates what the pass needs.
        stop : int or None
            Run only layers ``0..stop`` (every layer on its own): an inner
            layer without paying for the rest of the network.

        Returns
        -------
        ForwardPass
        """
        steps = self._layer_steps if record or stop is not None else self._fused_steps
        if stop is not None:
            steps = steps[:stop + 1]
        x = images_to_maps(images, self.dtype)
        caches, outputs = [], {}
        for step in steps:
            x, cache = step.forward(x, workspace)
            caches.append(cache)
            if record:
                outputs[step.name] = public_maps(x)
        output = public_maps(x) if stop is not None else np.ascontiguousarray(x)
        return ForwardPass(output, outputs, steps, tuple(caches))

    def backward(self, forward_pass, grad, need_input_grad=False, record=False, param_grads=True,
                 accumulate=False, until=None, deferred=None):
        """Back-propagate a gradient through the layers of ``forward_pass``.

        Parameters
        ----------
        forward_pass : ForwardPass
            Made by this network (or one with the same architecture).
        grad : ndarray
            Gradient with respect to the pass's ``output``: ``(N, 10)`` for
            the logits, ``(C, N, H, W)`` for maps.
        need_input_grad : bool
            Work out the gradient with respect to the images ``(N, 1, 28, 28)``.
        record : bool
            Keep each layer's output gradient (needs a recording pass).
        param_grads : bool or dict of str -> ndarray
            ``True``: parameter gradients in new arrays; a dict of buffers by
            ``state_dict`` name (:meth:`gradient_buffers`): written there;
            ``False``: none (explanations need only the input and feature-map
            gradients, half the work).
        accumulate : bool
            Add the parameter gradients to what the buffers hold (a batch run
            in chunks) instead of overwriting it.
        until : int or None
            Stop at this layer: once its output gradient is known (and
            recorded), go no further down.  A Grad-CAM of the last conv layer
            needs only the top few layers.
        deferred : dict or None
            Leave the dense layers' weight gradients to
            :meth:`finish_deferred`, collecting their rows here.

        Returns
        -------
        BackwardPass
        """
        steps = forward_pass.steps
        if record and not forward_pass.recorded:
            raise ValueError("recording gradients needs a forward pass with record=True")
        if until is not None and until not in [step.index for step in steps]:
            raise ValueError(f"layer {until} is not the end of a step of this pass")
        if param_grads is True:
            param_grads = self.gradient_buffers()
        buffers = param_grads or None
        grad = internal_maps(grad)
        output_grads = {}
        for position in range(len(steps) - 1, -1, -1):
            step = steps[position]
            if record:
                output_grads[step.name] = public_maps(grad)
            if step.index == until:
                return BackwardPass(None, output_grads, buffers or {})
            grad = step.backward(grad, forward_pass.caches[position], buffers,
                                 need_input_grad or position > 0, accumulate, deferred)
        input_grad = np.ascontiguousarray(grad.transpose(3, 0, 1, 2)) if need_input_grad else None
        return BackwardPass(input_grad, output_grads, buffers or {})

    def finish_deferred(self, deferred, param_grads):
        """Write the dense layers' weight gradients of the rows that :meth:`backward`
        collected in ``deferred`` into ``param_grads`` (overwriting)."""
        for name, rows in deferred.items():
            dense_weight_gradient(rows, param_grads[f"{name}.weight"])

    def fired(self, forward_pass):
        """Which ReLU units were positive for at least one image of ``forward_pass``:
        ReLU name -> bool ``(C, H, W)`` or ``(F,)``."""
        fired = {}
        for step, cache in zip(forward_pass.steps, forward_pass.caches):
            fired.update(step.fired(cache))
        return fired

    def predict_logits(self, images, chunk=CHUNK):
        """Logits ``(N, 10)`` for any number of images, in memory-friendly chunks."""
        images = np.asarray(images)
        with self.workspaces.lease() as workspace:
            parts = [self.forward(images[i:i + chunk], workspace=workspace).logits
                     for i in range(0, len(images), chunk)]
        return np.concatenate(parts) if parts else np.zeros((0, NUM_CLASSES), self.dtype)

    def predict_proba(self, images, chunk=CHUNK):
        """Class probabilities ``(N, 10)`` (softmax of the logits)."""
        return softmax(self.predict_logits(images, chunk))
