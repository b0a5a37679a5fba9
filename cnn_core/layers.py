"""The layers of the network, each with its forward and backward pass side by side.

Feature maps travel channel-major with the image index last, ``(C, H, W, N)``:

- a convolution is one GEMM whose output ``(F, H*W*N)`` already *is* the next
  layer's input, so no layer transposes its output;
- a max-pool compares neighbouring columns and rows that are whole runs of
  ``N`` images apart, which NumPy does several times faster than
  neighbouring single numbers; the same goes for clearing im2col's padding;
- :class:`Flatten` is free both ways: ``(C, H, W, N)`` seen as ``(C*H*W, N)``
  is the transpose of PyTorch's ``(N, C*H*W)`` rows, which is the operand
  order fc1's GEMM wants anyway.

Outside the layers, maps are shown in the usual ``(C, N, H, W)`` order
(:func:`public_maps`, :func:`internal_maps`).

Every layer keeps what its backward pass needs in its own attributes, so two
copies of a network (one training, one explaining) never share a cache.
"""
import numpy as np


def public_maps(x):
    """A layer's output as the rest of the code sees it: ``(C, H, W, N)`` maps as a
    ``(C, N, H, W)`` view; rows ``(N, F)`` unchanged."""
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def internal_maps(x):
    """The inverse of :func:`public_maps`: ``(C, N, H, W)`` maps to contiguous
    ``(C, H, W, N)``; rows ``(N, F)`` unchanged."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x


def _store(target, value, accumulate):
    """Write a parameter gradient into its buffer, or add it to what is there."""
    if accumulate:
        target += value
    else:
        target[...] = value


#: Longest run of columns the weight gradient of a convolution takes in one GEMM.
#: OpenBLAS slows down four-fold on ``(10, 12544) @ (12544, 8)`` (conv1 on 16
#: images) but not on two halves of it; wider layers are unaffected (measured here).
WGRAD_COLUMNS = 8192


def _weight_gradient(cols, g):
    """``g @ cols.T`` for ``cols (K, L)`` and ``g (F, L)``, in runs of columns; ``(F, K)``."""
    total = None
    for start in range(0, cols.shape[1], WGRAD_COLUMNS):
        stop = start + WGRAD_COLUMNS
        # cols @ g.T, transposed, is g @ cols.T: OpenBLAS runs this operand
        # order 15-60 % faster for these long, thin products (measured here).
        part = cols[:, start:stop] @ g[:, start:stop].T          # (K, F)
        total = part if total is None else np.add(total, part, out=total)
    return total.T


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

    def backward(self, grad, need_input_grad=True, param_grads=True, accumulate=False):
        """Gradient with respect to the input, for ``grad`` with respect to the output.

        With ``param_grads`` (training) the layer also fills ``self.grads``, or
        adds to them with ``accumulate`` (a batch run in chunks); explanations
        switch it off, as they only need input gradients.
        """
        raise NotImplementedError

    def output_shape(self, input_shape):
        """Shape of one sample's output for one sample's input (no batch axis)."""
        return input_shape


# The nine taps of a 3×3 kernel, (dy, dx), in the order of the weight's last two axes.
_TAPS = tuple((dy, dx) for dy in range(3) for dx in range(3))


def _clear_padding(cols, H, W, N):
    """Zero the entries of ``cols (C, 9, H*W*N)`` whose pixel lies in the zero padding.

    Four slice stores: the taps of the kernel's top row (``dy == 0``, taps 0-2)
    see padding in the image's first row, those of its left column (``dx == 0``,
    taps 0, 3, 6) in its first column, and so on.  Each store writes runs of
    at least ``N`` contiguous numbers (the images).
    """
    taps = cols.reshape(len(cols), 3, 3, H, W, N)       # (C, dy, dx, H, W, N)
    taps[:, 0, :, 0] = 0
    taps[:, 2, :, -1] = 0
    taps[:, :, 0, :, 0] = 0
    taps[:, :, 2, :, -1] = 0


def im2col(x, cols, bordered=None):
    """Fill ``cols (C, 9, H*W*N)`` with what each tap sees of ``x (C, H, W, N)``.

    Seen flat, a tap's view of the images is the images shifted by a constant
    offset, ``((dy - 1) * W + (dx - 1)) * N``.  So ``x`` is copied into
    ``bordered`` with a margin of ``(W + 1) * N`` on each side, all nine
    shifted views are one strided view of that, and one copy fills ``cols``.
    The entries a shift wraps round a row or past the margin are the padding,
    and are set to zero.

    ``bordered``: flat scratch of ``C * (H*W*N + 2*(W+1)*N)`` elements of
    ``x``'s dtype, reused across calls; its margins need no zeroing.
    """
    C, H, W, N = x.shape
    size, margin = H * W * N, (W + 1) * N
    width = size + 2 * margin
    if bordered is None:
        bordered = np.empty(C * width, x.dtype)
    bordered = bordered.reshape(C, width)
    bordered[:, margin:margin + size] = x.reshape(C, size)
    item = bordered.itemsize
    # (np.ndarray rather than as_strided: a single image pays for every microsecond)
    taps = np.ndarray((C, 3, 3, size), bordered.dtype, bordered,
                      strides=(width * item, W * N * item, N * item, item))
    cols.reshape(C, 3, 3, size)[...] = taps
    _clear_padding(cols, H, W, N)


def col2im(dcols, shape):
    """The adjoint of :func:`im2col`: add each tap's gradient back onto the pixel it saw.

    ``dcols : (C, 9, H*W*N)`` (its padding entries are zeroed in place);
    returns ``(C, H, W, N)``, a view.  The taps are added in order, each one
    contiguous shifted add into an array with the same margins as in im2col.
    """
    C, H, W, N = shape
    size, margin = H * W * N, (W + 1) * N
    _clear_padding(dcols, H, W, N)
    bordered = np.zeros((C, size + 2 * margin), dcols.dtype)
    for k, (dy, dx) in enumerate(_TAPS):
        start = (dy * W + dx) * N     # margin + the tap's shift
        bordered[:, start:start + size] += dcols[:, k]
    return bordered[:, margin:margin + size].reshape(shape)


class Conv2D(Layer):
    """3×3 convolution, stride 1, zero padding 1, as im2col + one GEMM.

    Parameters: ``weight (F, C, 3, 3)`` and ``bias (F,)``, PyTorch's layout.
    Input ``x : (C, H, W, N)``; output ``(F, H, W, N)``.
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
        self._cols = None       # (C*9 + 1, H*W*N): what the nine taps see, and ones
        self._cols_storage = None
        self._bordered_storage = None   # im2col's scratch
        self._input_shape = None

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

    def _scratch(self, attr, size, dtype):
        """A flat work array of ``size`` elements, carved from storage that only grows.

        Reusing memory across batches avoids page-faulting fresh pages every step,
        and a smaller batch (the last of an epoch, one image to explain) reuses
        the storage of a larger one instead of allocating again.
        """
        storage = getattr(self, attr)
        if storage is None or storage.size < size or storage.dtype != dtype:
            storage = np.empty(size, dtype)
            setattr(self, attr, storage)
        return storage[:size]

    def forward(self, x):
        x = np.ascontiguousarray(x)
        C, H, W, N = self._input_shape = x.shape
        F, K, size = self.out_channels, C * 9, H * W * N
        # A row of ones under the taps carries the bias through the GEMM: that
        # saves a pass over the output here and the bias gradient's sum later.
        cols = self._cols = self._scratch("_cols_storage", (K + 1) * size, x.dtype).reshape(K + 1, size)
        im2col(x, cols[:K].reshape(C, 9, size),
               self._scratch("_bordered_storage", C * (size + 2 * (W + 1) * N), x.dtype))
        cols[K] = 1
        weight_and_bias = np.empty((F, K + 1), x.dtype)
        weight_and_bias[:, :K] = self.params["weight"].reshape(F, K)
        weight_and_bias[:, K] = self.params["bias"]
        return (weight_and_bias @ cols).reshape(F, H, W, N)

    def backward(self, grad, need_input_grad=True, param_grads=True, accumulate=False):
        C, H, W, N = self._input_shape
        F, K, size = self.out_channels, C * 9, H * W * N
        g = grad.reshape(F, size)
        if param_grads:
            both = _weight_gradient(self._cols, g)      # (F, K + 1): weight, then bias
            _store(self.grads["weight"].reshape(F, K), both[:, :K], accumulate)
            _store(self.grads["bias"], both[:, K], accumulate)
        if not need_input_grad:
            return None
        dcols = (self.params["weight"].reshape(F, K).T @ g).reshape(C, 9, size)
        return col2im(dcols, self._input_shape)


class ReLU(Layer):
    """max(x, 0), elementwise; any shape.

    Before a max-pool, a pass that keeps no feature maps rectifies the pooled
    maps instead (see :meth:`MaxPool2D.forward_rectified`); this layer then
    only remembers its input, to say which units fired.
    """

    kind = "relu"

    def __init__(self, name):
        super().__init__(name)
        self._active = self._before_pool = None

    def forward(self, x):
        self._active, self._before_pool = x > 0, None
        return np.maximum(x, 0)

    def backward(self, grad, need_input_grad=True, param_grads=True, accumulate=False):
        if self._before_pool is not None:       # the pool has applied the mask already
            return grad
        return grad * self._active

    def fired(self):
        """Which units were positive for at least one sample of the last pass:
        bool ``(C, H, W)`` for feature maps, ``(F,)`` for rows."""
        if self._before_pool is not None:
            return (self._before_pool > 0).any(axis=3)
        return self._active.any(axis=3 if self._active.ndim == 4 else 0)


class MaxPool2D(Layer):
    """2×2 max-pooling with stride 2 on ``(C, H, W, N)``, H and W even.

    The maximum is taken in two steps, across each pair of columns and then
    across each pair of rows, so the second step reads whole rows.  The
    backward pass sends each gradient to the first maximal input in
    row-major order (PyTorch's choice), which matters on flat backgrounds
    where all four values tie: ``>=`` keeps the left column and the top row.
    """

    kind = "maxpool"

    def output_shape(self, input_shape):
        c, h, w = input_shape
        return (c, h // 2, w // 2)

    def forward(self, x):
        self._x, self._rectified = x, None
        self._pairs = np.maximum(x[:, :, 0::2], x[:, :, 1::2])  # (C, H, W/2, N)
        return np.maximum(self._pairs[:, 0::2], self._pairs[:, 1::2])

    def forward_rectified(self, x, relu):
        """``self.forward(relu.forward(x))``, with the ReLU applied after pooling.

        The maximum commutes with max(·, 0), so pooling first gives the same
        values and rectifies four times fewer.  The gradients are the same too:
        a window whose maximum is positive routes to the same first maximum
        either way, and one whose maximum is not has no gradient either way.
        Training passes take this path; passes that keep the ReLU's full-size
        maps (for the pictures) do not.
        """
        pooled = self.forward(x)
        relu._active, relu._before_pool = None, x
        self._rectified = pooled > 0
        return np.maximum(pooled, 0, out=pooled)

    def backward(self, grad, need_input_grad=True, param_grads=True, accumulate=False):
        x, pairs = self._x, self._pairs
        if self._rectified is not None:
            grad = grad * self._rectified                       # the ReLU's backward pass
        top_wins = pairs[:, 0::2] >= pairs[:, 1::2]
        grad_pairs = np.empty(pairs.shape, grad.dtype)
        np.multiply(grad, top_wins, out=grad_pairs[:, 0::2])
        np.multiply(grad, ~top_wins, out=grad_pairs[:, 1::2])
        left_wins = x[:, :, 0::2] >= x[:, :, 1::2]
        grad_x = np.empty(x.shape, grad.dtype)
        np.multiply(grad_pairs, left_wins, out=grad_x[:, :, 0::2])
        np.multiply(grad_pairs, ~left_wins, out=grad_x[:, :, 1::2])
        return grad_x


class Flatten(Layer):
    """Maps ``(C, H, W, N)`` to rows ``(N, C*H*W)`` in PyTorch order, as a view:
    the transpose of the maps seen as ``(C*H*W, N)``."""

    kind = "flatten"

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x):
        self._shape = x.shape
        C, H, W, N = x.shape
        return x.reshape(C * H * W, N).T

    def backward(self, grad, need_input_grad=True, param_grads=True, accumulate=False):
        C, H, W, N = self._shape
        return grad.T.reshape(C, H, W, N)       # a view when grad is a transposed one


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
        self._deferred = None   # (input rows, output gradient rows) while deferring

    def spec(self):
        return {"type": self.kind, "name": self.name,
                "in_features": self.in_features, "out_features": self.out_features}

    def defer_weight_gradient(self):
        """Until :meth:`finish_weight_gradient`, let backward passes keep their rows
        instead of adding their weight gradient: one product over all the rows of
        a batch run in chunks costs half as much as one per chunk plus the sums
        (fc1's weight gradient is 1.6 MB; measured here)."""
        self._deferred = []

    def finish_weight_gradient(self):
        """Write the weight gradient of the rows kept since :meth:`defer_weight_gradient`
        (overwriting; nothing if no backward pass ran) and stop deferring."""
        deferred, self._deferred = self._deferred, None
        if deferred:
            # (the rows are transposed views, fc1's of contiguous (features, N) blocks)
            rows = np.concatenate([x.T for x, _ in deferred], axis=1).T
            grads = np.concatenate([g for _, g in deferred])
            np.matmul(grads.T, rows, out=self.grads["weight"])

    def output_shape(self, input_shape):
        return (self.out_features,)

    def init_he(self, rng):
        """He (Kaiming) normal initialisation for a ReLU that follows."""
        w = rng.standard_normal(self.params["weight"].shape) * np.sqrt(2.0 / self.in_features)
        self.params["weight"][...] = w
        self.params["bias"][...] = 0

    def forward(self, x):
        self._x = x
        # (W @ x.T).T rather than x @ W.T: 40 % faster for fc1 on 16 rows (measured here)
        out = (self.params["weight"] @ x.T).T
        out += self.params["bias"]
        return out

    def backward(self, grad, need_input_grad=True, param_grads=True, accumulate=False):
        if param_grads:
            if self._deferred is not None:
                self._deferred.append((self._x, grad))
            elif accumulate:
                self.grads["weight"] += grad.T @ self._x
            else:                               # straight into the buffer: no 1.6 MB temporary
                np.matmul(grad.T, self._x, out=self.grads["weight"])
            _store(self.grads["bias"], grad.sum(axis=0), accumulate)
        if not need_input_grad:
            return None
        # (W.T @ grad.T).T: rows whose transpose is contiguous, which Flatten needs
        return (self.params["weight"].T @ grad.T).T


LAYER_TYPES = {cls.kind: cls for cls in (Conv2D, ReLU, MaxPool2D, Flatten, Dense)}


def layer_from_spec(spec):
    """Build a layer from the plain-data description made by :meth:`Layer.spec`."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}")
    return LAYER_TYPES[kind](**spec)
