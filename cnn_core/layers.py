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

A layer holds only its description and its parameters.  Its forward pass
returns ``(out, cache)``, as in cs231n, and its backward pass takes that cache
back: nothing about a pass is kept in the layer, so any number of passes can
run on one layer at once.  Scratch memory that a caller wants reused from
pass to pass lives in that caller's :class:`Workspace`.
"""
import contextlib

import numpy as np


def public_maps(x):
    """A layer's output as the rest of the code sees it: ``(C, H, W, N)`` maps as a
    ``(C, N, H, W)`` view; rows ``(N, F)`` unchanged."""
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def internal_maps(x):
    """The inverse of :func:`public_maps`: ``(C, N, H, W)`` maps to contiguous
    ``(C, H, W, N)``; rows ``(N, F)`` unchanged."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x


class Workspace:
    """Scratch memory of one caller's passes (a training worker's), reused from pass to pass.

    Reusing memory across batches avoids page-faulting fresh pages every step,
    and a smaller batch (the last of an epoch) reuses the storage of a larger
    one.  The caches of a pass made with a workspace point into it, so they
    are good for the backward pass until the workspace's next forward pass:
    one workspace per thread of passes, never shared by two at once.
    """

    def __init__(self):
        self._storage = {}

    def take(self, key, size, dtype):
        """A flat work array of ``size`` elements, carved from storage that only grows."""
        storage = self._storage.get(key)
        if storage is None or storage.size < size or storage.dtype != dtype:
            storage = self._storage[key] = np.empty(size, dtype)
        return storage[:size]


class WorkspacePool:
    """Workspaces lent to one caller at a time, kept for the next caller when returned.

    For callers that run passes and are done with them before they return
    (predictions in chunks, batched explanations): their buffers outlive the
    call, as fresh ones would page-fault their way in every time (2.6 times
    the time of 320 predictions, 1.6 times that of a SmoothGrad; measured).
    Callers at the same time get different workspaces.
    """

    def __init__(self):
        self._free = []

    @contextlib.contextmanager
    def lease(self):
        """``with pool.lease() as workspace:`` a workspace no one else uses meanwhile."""
        try:
            workspace = self._free.pop()        # (atomic: no two callers get the same one)
        except IndexError:
            workspace = Workspace()
        try:
            yield workspace
        finally:
            self._free.append(workspace)


def _scratch(workspace, key, size, dtype):
    """``workspace.take(...)``, or a fresh array for a pass without a workspace."""
    return np.empty(size, dtype) if workspace is None else workspace.take(key, size, dtype)


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
    """Base class: a named step with optional parameters.

    ``params`` maps short names (``"weight"``, ``"bias"``) to arrays; the
    network prefixes them with the layer name, as in PyTorch's ``state_dict``
    (``"conv1.weight"``).  The passes take the parameters as an argument and
    never change them.
    """

    kind = "layer"

    def __init__(self, name):
        self.name = name
        self.params = {}

    def spec(self):
        """Return the layer as plain data (used by model files and the GUI)."""
        return {"type": self.kind, "name": self.name}

    def forward(self, x, params, workspace=None):
        """Output and cache of a pass: ``(out, cache)``; ``cache`` goes to :meth:`backward`."""
        raise NotImplementedError

    def backward(self, grad, cache, params, grads=None, need_input_grad=True, accumulate=False):
        """Gradient with respect to the input, for ``grad`` with respect to the output.

        Parameters
        ----------
        grad : ndarray
            Same shape as the forward pass's output.
        cache
            What :meth:`forward` returned beside the output.
        grads : dict of str -> ndarray, or None
            Buffers shaped as ``params`` that receive the parameter gradients
            (training), or are added to with ``accumulate`` (a batch run in
            chunks); ``None`` skips them (explanations need only the input
            gradient).

        Returns
        -------
        grad_x : ndarray or None
            ``None`` without ``need_input_grad``.
        grads : dict
            The buffers written (``{}`` without ``grads``).
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
    Input ``x : (C, H, W, N)``; output ``(F, H, W, N)``.  Cache: ``cols
    (C*9 + 1, H*W*N)``, what the nine taps see and a row of ones, and the
    input's shape.
    """

    kind = "conv"

    def __init__(self, name, in_channels, out_channels):
        super().__init__(name)
        self.in_channels = in_channels
        self.out_channels = out_channels
        shape = (out_channels, in_channels, 3, 3)
        self.params = {"weight": np.zeros(shape, np.float32),
                       "bias": np.zeros(out_channels, np.float32)}

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

    def forward(self, x, params, workspace=None):
        x = np.ascontiguousarray(x)
        C, H, W, N = x.shape
        F, K, size = self.out_channels, C * 9, H * W * N
        # A row of ones under the taps carries the bias through the GEMM: that
        # saves a pass over the output here and the bias gradient's sum later.
        cols = _scratch(workspace, (self.name, "cols"), (K + 1) * size, x.dtype).reshape(K + 1, size)
        im2col(x, cols[:K].reshape(C, 9, size),
               _scratch(workspace, (self.name, "bordered"), C * (size + 2 * (W + 1) * N), x.dtype))
        cols[K] = 1
        weight_and_bias = np.empty((F, K + 1), x.dtype)
        weight_and_bias[:, :K] = params["weight"].reshape(F, K)
        weight_and_bias[:, K] = params["bias"]
        return (weight_and_bias @ cols).reshape(F, H, W, N), (cols, x.shape)

    def backward(self, grad, cache, params, grads=None, need_input_grad=True, accumulate=False):
        cols, input_shape = cache
        C, H, W, N = input_shape
        F, K, size = self.out_channels, C * 9, H * W * N
        g = grad.reshape(F, size)
        if grads is not None:
            both = _weight_gradient(cols, g)            # (F, K + 1): weight, then bias
            _store(grads["weight"].reshape(F, K), both[:, :K], accumulate)
            _store(grads["bias"], both[:, K], accumulate)
        if not need_input_grad:
            return None, grads or {}
        dcols = (params["weight"].reshape(F, K).T @ g).reshape(C, 9, size)
        return col2im(dcols, input_shape), grads or {}


class ReLU(Layer):
    """max(x, 0), elementwise; any shape.  Cache: the mask ``x > 0``.

    Before a max-pool, a pass that keeps no feature maps rectifies the pooled
    maps instead (:class:`cnn_core.plan.ReluPool`).
    """

    kind = "relu"

    def forward(self, x, params=None, workspace=None):
        return np.maximum(x, 0), x > 0

    def backward(self, grad, cache, params=None, grads=None, need_input_grad=True,
                 accumulate=False):
        return grad * cache, {}

    @staticmethod
    def fired(cache):
        """Which units were positive for at least one sample of the pass: bool
        ``(C, H, W)`` for feature maps, ``(F,)`` for rows."""
        return cache.any(axis=3 if cache.ndim == 4 else 0)


class MaxPool2D(Layer):
    """2×2 max-pooling with stride 2 on ``(C, H, W, N)``, H and W even.

    The maximum is taken in two steps, across each pair of columns and then
    across each pair of rows, so the second step reads whole rows.  The
    backward pass sends each gradient to the first maximal input in
    row-major order (PyTorch's choice), which matters on flat backgrounds
    where all four values tie: ``>=`` keeps the left column and the top row.
    Cache: the input and its column-pair maxima ``(C, H, W/2, N)``.
    """

    kind = "maxpool"

    def output_shape(self, input_shape):
        c, h, w = input_shape
        return (c, h // 2, w // 2)

    def forward(self, x, params=None, workspace=None):
        pairs = np.maximum(x[:, :, 0::2], x[:, :, 1::2])       # (C, H, W/2, N)
        return np.maximum(pairs[:, 0::2], pairs[:, 1::2]), (x, pairs)

    def backward(self, grad, cache, params=None, grads=None, need_input_grad=True,
                 accumulate=False):
        x, pairs = cache
        top_wins = pairs[:, 0::2] >= pairs[:, 1::2]
        grad_pairs = np.empty(pairs.shape, grad.dtype)
        np.multiply(grad, top_wins, out=grad_pairs[:, 0::2])
        np.multiply(grad, ~top_wins, out=grad_pairs[:, 1::2])
        left_wins = x[:, :, 0::2] >= x[:, :, 1::2]
        grad_x = np.empty(x.shape, grad.dtype)
        np.multiply(grad_pairs, left_wins, out=grad_x[:, :, 0::2])
        np.multiply(grad_pairs, ~left_wins, out=grad_x[:, :, 1::2])
        return grad_x, {}


class Flatten(Layer):
    """Maps ``(C, H, W, N)`` to rows ``(N, C*H*W)`` in PyTorch order, as a view:
    the transpose of the maps seen as ``(C*H*W, N)``.  Cache: the input's shape."""

    kind = "flatten"

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, params=None, workspace=None):
        C, H, W, N = x.shape
        return x.reshape(C * H * W, N).T, x.shape

    def backward(self, grad, cache, params=None, grads=None, need_input_grad=True,
                 accumulate=False):
        return grad.T.reshape(cache), {}        # a view when grad is a transposed one


class Dense(Layer):
    """Fully connected layer: ``x (N, in) -> x @ weight.T + bias``, ``weight (out, in)``.

    Cache: the input rows ``x``.
    """

    kind = "dense"

    def __init__(self, name, in_features, out_features):
        super().__init__(name)
        self.in_features = in_features
        self.out_features = out_features
        self.params = {"weight": np.zeros((out_features, in_features), np.float32),
                       "bias": np.zeros(out_features, np.float32)}

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

    def forward(self, x, params, workspace=None):
        # (W @ x.T).T rather than x @ W.T: 40 % faster for fc1 on 16 rows (measured here)
        out = (params["weight"] @ x.T).T
        out += params["bias"]
        return out, x

    def backward(self, grad, cache, params, grads=None, need_input_grad=True, accumulate=False,
                 deferred=None):
        """As :meth:`Layer.backward`; with a list ``deferred``, the weight gradient is
        not worked out but its rows are appended there, for :func:`dense_weight_gradient`."""
        x = cache
        if grads is not None:
            if deferred is not None:
                deferred.append((x, grad))
            elif accumulate:
                grads["weight"] += grad.T @ x
            else:                               # straight into the buffer: no 1.6 MB temporary
                np.matmul(grad.T, x, out=grads["weight"])
            _store(grads["bias"], grad.sum(axis=0), accumulate)
        if not need_input_grad:
            return None, grads or {}
        # (W.T @ grad.T).T: rows whose transpose is contiguous, which Flatten needs
        return (params["weight"].T @ grad.T).T, grads or {}


def dense_weight_gradient(deferred, out):
    """Write into ``out (out, in)`` the weight gradient of the rows a dense layer's
    backward passes kept in ``deferred`` (nothing if there are none).

    One product over all the rows of a batch run in chunks costs half as much
    as one per chunk plus the sums (fc1's weight gradient is 1.6 MB; measured
    here).
    """
    if deferred:
        # (the rows are transposed views, fc1's of contiguous (features, N) blocks)
        rows = np.concatenate([x.T for x, _ in deferred], axis=1).T
        grads = np.concatenate([g for _, g in deferred])
        np.matmul(grads.T, rows, out=out)


LAYER_TYPES = {cls.kind: cls for cls in (Conv2D, ReLU, MaxPool2D, Flatten, Dense)}


def layer_from_spec(spec):
    """Build a layer from the plain-data description made by :meth:`Layer.spec`."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}")
    return LAYER_TYPES[kind](**spec)
