"""The layers of the network, each with its forward and backward pass side by side.

Feature maps travel channel-major, ``(C, N, H, W)``: a convolution is one GEMM
whose output ``(F, N*H*W)`` already *is* the next layer's input, so no layer
transposes its output.  Only :class:`Flatten` turns the maps into the usual
``(N, features)`` rows for the dense layers.

Every layer keeps what its backward pass needs in its own attributes, so two
copies of a network (one training, one explaining) never share a cache.
"""
import numpy as np


class Layer:
    """Base class: a named step with optional parameters and gradients.

    ``params`` and ``grads`` map short names (``"weight"``, ``"bias"``) to
    arrays; the network prefixes them with the layer name, as in PyTorch's
    ``state_dict`` (``"conv1.weight"``).
    """

    kind = "layer"

    def __init__(self, name):
        self.name = name
        self.params = {}
        self.grads = {}

    def spec(self):
        """Return the layer as plain data (used by model files and the GUI)."""
        return {"type": self.kind, "name": self.name}

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad, need_input_grad=True, param_grads=True):
        """Gradient with respect to the input, for ``grad`` with respect to the output.

        With ``param_grads`` (training) the layer also fills ``self.grads``;
        explanations switch it off, as they only need input gradients.
        """
        raise NotImplementedError

    def output_shape(self, input_shape):
        """Shape of one sample's output for one sample's input (no batch axis)."""
        return input_shape


class Conv2D(Layer):
    """3×3 convolution, stride 1, zero padding 1, as im2col + one GEMM.

    Parameters: ``weight (F, C, 3, 3)`` and ``bias (F,)``, PyTorch's layout.
    Input ``x : (C, N, H, W)``; output ``(F, N, H, W)``.
    """

    kind = "conv"

    def __init__(self, name, in_channels, out_channels):
        super().__init__(name)
        self.in_channels = in_channels
        self.out_channels = out_channels
        shape = (out_channels, in_channels, 3, 3)
        self.params = {"weight": np.zeros(shape, np.float32),
                       "bias": np.zeros(out_channels, np.float32)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._padded = None     # (C, N, H+2, W+2) input with a zero border, reused
        self._cols = None       # (C, 3, 3, N, H, W) the nine shifted copies, reused
        self._grad_padded = None

    def spec(self):
        return {"type": self.kind, "name": self.name,
                "in_channels": self.in_channels, "out_channels": self.out_channels}

    def output_shape(self, input_shape):
        return (self.out_channels,) + tuple(input_shape[1:])

    def init_he(self, rng):
        """He (Kaiming) normal initialisation for a ReLU that follows."""
        fan_in = self.in_channels * 9
        w = rng.standard_normal(self.params["weight"].shape) * np.sqrt(2.0 / fan_in)
        self.params["weight"][...] = w
        self.params["bias"][...] = 0

    def _buffer(self, attr, shape, dtype):
        """A zeroed-once work array of ``shape``, carved from storage that only grows.

        Reusing memory across batches avoids page-faulting fresh pages every step,
        and a smaller batch (the last of an epoch, one image to explain) reuses
        the storage of a larger one instead of allocating again.
        """
        buf = getattr(self, attr)
        if buf is not None and buf.shape == shape and buf.dtype == dtype:
            return buf
        size = int(np.prod(shape))
        storage = getattr(self, attr + "_storage", None)
        if storage is None or storage.size < size or storage.dtype != dtype:
            storage = np.zeros(size, dtype)
            setattr(self, attr + "_storage", storage)
        buf = storage[:size].reshape(shape)
        buf[...] = 0          # the padded input relies on a zero border
        setattr(self, attr, buf)
        return buf

    def forward(self, x):
        C, N, H, W = x.shape
        padded = self._buffer("_padded", (C, N, H + 2, W + 2), x.dtype)
        padded[:, :, 1:-1, 1:-1] = x          # the border stays zero from allocation
        cols = self._buffer("_cols", (C, 3, 3, N, H, W), x.dtype)
        for dy in range(3):
            for dx in range(3):
                cols[:, dy, dx] = padded[:, :, dy:dy + H, dx:dx + W]
        w = self.params["weight"].reshape(self.out_channels, C * 9)
        out = w @ cols.reshape(C * 9, N * H * W)
        out += self.params["bias"][:, None]
        return out.reshape(self.out_channels, N, H, W)

    def backward(self, grad, need_input_grad=True, param_grads=True):
        F = self.out_channels
        C, _, _, N, H, W = self._cols.shape
        g = grad.reshape(F, N * H * W)
        if param_grads:
            cols = self._cols.reshape(C * 9, N * H * W)
            np.matmul(g, cols.T, out=self.grads["weight"].reshape(F, C * 9))
            np.sum(g, axis=1, out=self.grads["bias"])
        if not need_input_grad:
            return None
        dcols = (self.params["weight"].reshape(F, C * 9).T @ g).reshape(C, 3, 3, N, H, W)
        dpad = self._buffer("_grad_padded", (C, N, H + 2, W + 2), grad.dtype)
        dpad[...] = 0
        for dy in range(3):
            for dx in range(3):
                dpad[:, :, dy:dy + H, dx:dx + W] += dcols[:, dy, dx]
        return dpad[:, :, 1:-1, 1:-1]


class ReLU(Layer):
    """max(x, 0), elementwise; any shape."""

    kind = "relu"

    def forward(self, x):
        self._active = x > 0
        return np.maximum(x, 0)

    def backward(self, grad, need_input_grad=True, param_grads=True):
        return grad * self._active


class MaxPool2D(Layer):
    """2×2 max-pooling with stride 2 on ``(C, N, H, W)``, H and W even.

    The forward pass is the maximum of the four phases; the backward pass sends
    each gradient to the first maximal phase in row-major order (PyTorch's
    choice), which matters on flat backgrounds where all four values tie.
    """

    kind = "maxpool"
    _PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))

    def output_shape(self, input_shape):
        c, h, w = input_shape
        return (c, h // 2, w // 2)

    def forward(self, x):
        self._x = x
        a, b, c, d = (x[:, :, i::2, j::2] for i, j in self._PHASES)
        self._out = np.maximum(np.maximum(a, b), np.maximum(c, d))
        return self._out

    def backward(self, grad, need_input_grad=True, param_grads=True):
        x, out = self._x, self._out
        grad_x = np.empty_like(x)
        unclaimed = np.ones(out.shape, bool)
        for i, j in self._PHASES[:-1]:
            hit = (x[:, :, i::2, j::2] == out) & unclaimed
            np.multiply(grad, hit, out=grad_x[:, :, i::2, j::2])
            unclaimed &= ~hit
        # Whatever no earlier phase claimed is the last phase's: no comparison needed.
        np.multiply(grad, unclaimed, out=grad_x[:, :, 1::2, 1::2])
        return grad_x


class Flatten(Layer):
    """Channel-major maps ``(C, N, H, W)`` to rows ``(N, C*H*W)`` in PyTorch order."""

    kind = "flatten"

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x):
        self._shape = x.shape
        C, N, H, W = x.shape
        return x.transpose(1, 0, 2, 3).reshape(N, C * H * W)

    def backward(self, grad, need_input_grad=True, param_grads=True):
        C, N, H, W = self._shape
        return grad.reshape(N, C, H, W).transpose(1, 0, 2, 3)


class Dense(Layer):
    """Fully connected layer: ``x (N, in) -> x @ weight.T + bias``, ``weight (out, in)``."""

    kind = "dense"

    def __init__(self, name, in_features, out_features):
        super().__init__(name)
        self.in_features = in_features
        self.out_features = out_features
        self.params = {"weight": np.zeros((out_features, in_features), np.float32),
                       "bias": np.zeros(out_features, np.float32)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def spec(self):
        return {"type": self.kind, "name": self.name,
                "in_features": self.in_features, "out_features": self.out_features}

    def output_shape(self, input_shape):
        return (self.out_features,)

    def init_he(self, rng):
        """He (Kaiming) normal initialisation for a ReLU that follows."""
        w = rng.standard_normal(self.params["weight"].shape) * np.sqrt(2.0 / self.in_features)
        self.params["weight"][...] = w
        self.params["bias"][...] = 0

    def forward(self, x):
        self._x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad, need_input_grad=True, param_grads=True):
        if param_grads:
            np.matmul(grad.T, self._x, out=self.grads["weight"])
            np.sum(grad, axis=0, out=self.grads["bias"])
        if not need_input_grad:
            return None
        return grad @ self.params["weight"]


LAYER_TYPES = {cls.kind: cls for cls in (Conv2D, ReLU, MaxPool2D, Flatten, Dense)}


def layer_from_spec(spec):
    """Build a layer from the plain-data description made by :meth:`Layer.spec`."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}")
    return LAYER_TYPES[kind](**spec)
