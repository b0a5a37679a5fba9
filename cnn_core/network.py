"""The network as data: an ordered list of layers, run forward and backward.

The public side speaks PyTorch's language: images ``(N, 1, 28, 28)``, logits
``(N, 10)``, parameters by ``state_dict`` names (``"conv1.weight"``), feature maps
channel-major ``(C, N, H, W)``.  Inside, the layers keep the images last,
``(C, H, W, N)`` (see :mod:`cnn_core.layers`).
"""
import numpy as np

from .layers import Conv2D, Dense, MaxPool2D, ReLU, internal_maps, layer_from_spec, public_maps
from .losses import softmax

INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10

#: Images per forward/backward pass when a batch is run in pieces.  A chunk's
#: im2col buffers stay a few MB (3.6 MB for conv4's at 16 images), within the
#: shared L3 cache; the whole batch's would not be.  Measured here with the
#: (C, H, W, N) layout, chunks of 8, 16 and 32 train within 5 % of each other.
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

    def named_grads(self):
        """Yield ``(state_dict_name, gradient array)`` matching :meth:`named_params`."""
        for layer in self.layers:
            for key, value in layer.grads.items():
                yield f"{layer.name}.{key}", value

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
        """Return an independent network: copied weights, its own caches and gradients.

        Explanations run on such a frozen copy so they never disturb training.
        """
        twin = Network(self.architecture)
        for mine, theirs in zip(self.layers, twin.layers):
            for key, value in mine.params.items():
                theirs.params[key] = value.astype(dtype or value.dtype, copy=True)
                theirs.grads[key] = np.zeros_like(theirs.params[key])
        return twin

    def replica(self):
        """Return a network that shares this one's parameter arrays but has its own
        caches and gradients (for running pieces of a batch on other threads)."""
        twin = Network(self.architecture)
        for mine, theirs in zip(self.layers, twin.layers):
            theirs.params = mine.params
            theirs.grads = {key: np.zeros_like(value) for key, value in mine.params.items()}
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

    def forward(self, images, record=False):
        """Run the network on a batch.

        Parameters
        ----------
        images : ndarray, (N, 1, 28, 28)
            Pixel values in [0, 1]; cast to the network's dtype.
        record : bool
            Keep every layer's output in ``self.outputs`` (name -> channel-major
            maps ``(C, N, H, W)``, views, or rows ``(N, F)``) for explanations.
            Without it, a ReLU before a max-pool is applied after the pool
            (:meth:`MaxPool2D.forward_rectified`): the same logits and
            gradients, but that ReLU's full-size output never exists.

        Returns
        -------
        logits : ndarray, (N, 10)
        """
        x = images_to_maps(images, self.dtype)
        self.outputs = {} if record else None
        layers = self.layers
        index = 0
        while index < len(layers):
            layer = layers[index]
            following = layers[index + 1] if index + 1 < len(layers) else None
            if not record and isinstance(layer, ReLU) and isinstance(following, MaxPool2D):
                x = following.forward_rectified(x, layer)     # same result, less work
                index += 2
                continue
            x = layer.forward(x)
            if record:
                self.outputs[layer.name] = public_maps(x)
            index += 1
        return np.ascontiguousarray(x)

    def backward(self, grad_logits, need_input_grad=False, record=False, param_grads=True,
                 start=None, accumulate=False, until=None):
        """Back-propagate a gradient, filling every layer's ``grads``.

        Parameters
        ----------
        grad_logits : ndarray
            Gradient with respect to the output of layer ``start`` (default:
            the last layer, so ``(N, 10)`` logits): ``(C, N, H, W)`` for maps.
        need_input_grad : bool
            Return the gradient with respect to the images ``(N, 1, 28, 28)``.
        record : bool
            Keep, in ``self.output_grads``, each layer's output gradient (same
            layouts as ``self.outputs``).
        param_grads : bool
            Fill the layers' parameter gradients; explanations need only the
            input and feature-map gradients and skip this half of the work.
        start : int or None
            Index of the layer the gradient belongs to (after a forward pass
            that reached it).
        accumulate : bool
            Add the parameter gradients to those already there (a batch run
            in chunks) instead of overwriting them.
        until : int or None
            Stop at this layer: once its output gradient is known (and
            recorded), go no further down; returns None.  A Grad-CAM of the
            last conv layer needs only the top few layers.
        """
        if record and any(relu._before_pool is not None for relu in self.relu_layers()):
            raise ValueError("recording gradients needs a forward pass with record=True")
        grad = internal_maps(grad_logits)
        self.output_grads = {} if record else None
        start = len(self.layers) - 1 if start is None else start
        for index in range(start, -1, -1):
            layer = self.layers[index]
            if record:
                self.output_grads[layer.name] = public_maps(grad)
            if index == until:
                return None
            grad = layer.backward(grad, need_input_grad=need_input_grad or index > 0,
                                  param_grads=param_grads, accumulate=accumulate)
        if not need_input_grad:
            return None
        return np.ascontiguousarray(grad.transpose(3, 0, 1, 2))

    def predict_logits(self, images, chunk=CHUNK):
        """Logits ``(N, 10)`` for any number of images, in memory-friendly chunks."""
        images = np.asarray(images)
        parts = [self.forward(images[i:i + chunk]).copy() for i in range(0, len(images), chunk)]
        return np.concatenate(parts) if parts else np.zeros((0, NUM_CLASSES), self.dtype)

    def predict_proba(self, images, chunk=CHUNK):
        """Class probabilities ``(N, 10)`` (softmax of the logits)."""
        return softmax(self.predict_logits(images, chunk))
