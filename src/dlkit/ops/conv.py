"""Convolutions, channels-last as the notes: x (m, n_H, n_W, n_C_prev), W (f, f, n_C_prev, n_C),
b (n_C,) — and the same in 1-D (m, n, C) and 3-D (m, n_D, n_H, n_W, C).

Cross-correlation, as the notes: Z[i, h, w, c] = sum_{a, b, k} A_pad[i, h*s + a, w*s + b, k] *
W[a, b, k, c] + b[c];  output size floor((n + 2p - f) / s) + 1.

Two ways to the same sums, chosen per call (``conv_path``):

- "im2col" (the reference, and every strided or few-channel convolution): the patches as one
  matrix and one GEMM; backward by the notes' formulas as GEMMs: dW = cols^T dZ, db = sum dZ,
  and dA_prev as the adjoint of im2col: dcols[offset] = dZ W[offset]^T (one batched GEMM)
  added into each offset's window slice (col2im; im2col and col2im loop over kernel offsets,
  never over output positions). Two column layouts: (N, K) rows of patches for many input
  channels, and (K, N) (offset-major, contiguous copies) for few channels such as a first
  layer on 1- or 3-channel images.
- "shifted" (stride 1, many channels, NumPy arrays; ``ops/conv_shifted.py``): no patch
  matrix at all. On the input laid out as rows (positions, C_prev) of a grid with gaps of
  zeros between lines and examples (the padding), the kernel offset (a, b) is a shift of
  a * n_W_grid + b rows, so Z = sum over offsets of (rows shifted) @ W[a, b]: one GEMM per
  offset, accumulated in place (``gemm.matmul_add``),
  computed on the grid and cropped (the "padded-width trick"). Backward is its adjoint on the
  same grid: dW[a, b] = (rows shifted)^T dZ_grid and d_rows[shifted] += dZ_grid W[a, b]^T.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.ops.conv_shifted import ShiftedGrid, fill_outside
from dlkit.ops.gemm import matmul_add
from dlkit.ops.reduction import column_sums
from dlkit.tensor import Function, Tensor, as_tensor

_FEW_CHANNELS = 4  # below this, columns are built offset-major (K, N)
_SHIFTED_MIN_CHANNELS = 16  # from this many input channels, stride-1 layers use "shifted"
_SHIFTED_MIN_ROWS = 8192  # ... and at least this many positions (m * prod(n))


def _tuple(value: Any, d: int, name: str, op: str) -> tuple[int, ...]:
    items = (value,) * d if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != d or any(not isinstance(v, (int, np.integer)) for v in items):
        raise ValueError(f"{op}: expected {name} an int or {d} ints, got {value!r}")
    return tuple(int(v) for v in items)


def resolve_padding(padding: Any, sizes: Sequence[int], kernel: Sequence[int],
                    stride: Sequence[int], op: str) -> tuple[tuple[int, int], ...]:
    """Padding per spatial axis as (before, after): an int p (p on both sides), a tuple of
    ints, "valid" (none), or "same" (output size ceil(n / s); the extra row, for an even
    total, goes after, as TensorFlow/Keras)."""
    d = len(sizes)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            out = []
            for n, f, s in zip(sizes, kernel, stride):
                total = max((-(-n // s) - 1) * s + f - n, 0)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise ValueError(f"{op}: expected padding an int, a tuple, 'valid' or 'same', got "
                         f"{padding!r}")
    pads = _tuple(padding, d, "padding", op)
    if any(p < 0 for p in pads):
        raise ValueError(f"{op}: expected padding >= 0, got {padding!r}")
    return tuple((p, p) for p in pads)


def output_sizes(sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                 pads: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """floor((n + p_before + p_after - f) / s) + 1 per spatial axis."""
    return tuple((n + lo + hi - f) // s + 1
                 for n, f, s, (lo, hi) in zip(sizes, kernel, stride, pads))


def window_slices(offset: Sequence[int], stride: Sequence[int],
                  out: Sequence[int]) -> tuple[slice, ...]:
    """The input positions read at one kernel offset, for every output position."""
    return (slice(None),) + tuple(slice(o, o + s * (n - 1) + 1, s)
                                  for o, s, n in zip(offset, stride, out)) + (slice(None),)


def pad_spatial(x: Any, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Any:
    """x (m, *n, C) with ``value`` added before and after each spatial axis: the borders
    filled and the inside copied, one pass over the output (``np.pad`` is several times slower
    on the small arrays of inference)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    xp = array_module(x)
    sizes = x.shape[1:-1]
    out = xp.empty((x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(sizes, pads))
                   + (x.shape[-1],), dtype=x.dtype)
    fill_outside(out, tuple(slice(lo, lo + n) for n, (lo, _) in zip(sizes, pads)), value)
    out[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sizes, pads))] = x
    return out


def add_bias(y: Any, b: Any) -> None:
    """y (m, ..., n, C) += b (C,) in place. On a contiguous y, as rows of n * C with b tiled n
    times: NumPy's broadcast of a short last axis runs an inner loop of only C elements
    (LeNet's 6 channels: 0.24 -> 0.05 ms)."""
    if y.ndim >= 3 and y.flags.c_contiguous:
        rows = y.reshape(-1, y.shape[-2] * y.shape[-1])  # a view of y
        rows += array_module(y).tile(b, y.shape[-2])
    else:
        y += b


def im2col(x_pad: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
           out: tuple[int, ...]) -> tuple[Any, bool]:
    """The patches of x_pad (m, *n, C) as a matrix: (m*prod(out), prod(f)*C) rows of patches
    for many channels, or offset-major (prod(f)*C, m*prod(out)) for few (``few`` = True):
    either one copy of the sliding-window view (LeNet's 1-channel layer: 0.40 ms as 25 block
    copies, 0.28 ms as one)."""
    xp = array_module(x_pad)
    d, m, c = len(kernel), x_pad.shape[0], x_pad.shape[-1]
    n_rows, k = m * int(np.prod(out)), int(np.prod(kernel)) * c
    if not hasattr(xp.lib.stride_tricks, "sliding_window_view"):
        # (a CuPy without sliding_window_view: block copies, one per kernel offset)
        cols = xp.empty(kernel + (c, m) + out, dtype=x_pad.dtype)
        for offset in itertools.product(*(range(f) for f in kernel)):
            cols[offset] = xp.moveaxis(x_pad[window_slices(offset, stride, out)], -1, 0)
        return cols.reshape(k, n_rows), True
    # windows (m, *out, C, *f): a view; one copy into either layout
    windows = xp.lib.stride_tricks.sliding_window_view(x_pad, kernel, axis=tuple(range(1, d + 1)))
    windows = windows[(slice(None),) + tuple(slice(None, n * s, s) for n, s in zip(out, stride))]
    if c < _FEW_CHANNELS:
        order = (*range(d + 2, 2 * d + 2), d + 1, 0, *range(1, d + 1))  # (*f, C, m, *out)
        return xp.ascontiguousarray(windows.transpose(order)).reshape(k, n_rows), True
    order = (0, *range(1, d + 1), *range(d + 2, 2 * d + 2), d + 1)  # (m, *out, *f, C)
    return xp.ascontiguousarray(windows.transpose(order)).reshape(n_rows, k), False


_SMALL_GEMM = 1 << 19  # multiply-adds per block of a narrow few-channel product
_NARROW = 8  # few-channel products with fewer output channels than this run in blocks


def _few_block(cols: Any, c_out: int) -> int:
    """Rows per block for a product of the offset-major columns cols (K, N) with a narrow
    output (C < _NARROW), or 0 for one product. OpenBLAS's small-matrix kernels run blocks of
    about 2^19 multiply-adds faster than one tall product with a narrow output (LeNet's
    1 -> 6 channel layer on one thread: Z 0.61 -> 0.35 ms, dW 0.52 -> 0.33 ms), and on two
    threads far faster (one tall product split between threads: 1 to 12 ms measured where
    blocks take 0.25 to 0.8 ms)."""
    if not isinstance(cols, np.ndarray) or c_out >= _NARROW:
        return 0
    block = max(64, _SMALL_GEMM // (cols.shape[0] * c_out))
    return block if cols.shape[1] > 2 * block else 0


def correlate(x_pad: Any, w: Any, stride: tuple[int, ...],
              out: tuple[int, ...]) -> tuple[Any, Any, bool]:
    """Z (m, *out, C) = cross-correlation of x_pad with W (*f, C_prev, C) by one GEMM on the
    patch matrix; also returns the columns (for dW) and their layout."""
    d = x_pad.ndim - 2
    kernel, c_out = w.shape[:d], w.shape[-1]
    cols, few = im2col(x_pad, kernel, stride, out)
    w_mat = w.reshape(-1, c_out)
    block = _few_block(cols, c_out) if few else 0
    if not few:
        y = cols @ w_mat
    elif block:  # Z = cols^T W in row blocks
        y = np.empty((cols.shape[1], c_out), dtype=np.result_type(cols, w_mat))
        for i in range(0, cols.shape[1], block):
            np.matmul(cols[:, i:i + block].T, w_mat, out=y[i:i + block])
    else:
        y = cols.T @ w_mat  # (N, C) directly: no transposed copy
    return y.reshape((x_pad.shape[0],) + out + (c_out,)), cols, few


def few_weight_grad(cols: Any, g2: Any) -> Any:
    """dW (K, C) = cols (K, N) @ dZ (N, C) for the offset-major columns; for a narrow dZ as
    column blocks accumulated in place (``matmul_add``, see ``_few_block``)."""
    block = _few_block(cols, g2.shape[1])
    if not block:
        return cols @ g2
    gw = np.zeros((cols.shape[0], g2.shape[1]), dtype=np.result_type(cols, g2))
    for i in range(0, cols.shape[1], block):
        matmul_add(cols[:, i:i + block], g2[i:i + block], gw)
    return gw


def correlate_adjoint(gz: Any, w: Any, stride: tuple[int, ...],
                      padded_shape: tuple[int, ...]) -> Any:
    """dX_pad (m, *n_pad, C_prev) of Z = correlate(X_pad, W) from dZ (m, *out, C): the
    adjoint of im2col. dcols[offset] = dZ (N, C) @ W[offset]^T (C, C_prev), all offsets in one
    batched GEMM, then the col2im: dX_pad[window_slices(offset)] += dcols[offset] (a loop over
    kernel offsets, each slice a (m, *out, C_prev) block)."""
    xp = array_module(gz)
    d = gz.ndim - 2
    c_in, c_out = w.shape[-2], w.shape[-1]
    w_t = xp.ascontiguousarray(w.reshape(-1, c_in, c_out).swapaxes(1, 2))  # (F, C, C_prev)
    dcols = xp.matmul(gz.reshape(1, -1, c_out), w_t)  # (F, N, C_prev)
    gx = xp.zeros(padded_shape, dtype=gz.dtype)
    for i, offset in enumerate(itertools.product(*(range(f) for f in w.shape[:d]))):
        gx[window_slices(offset, stride, gz.shape[1:-1])] += dcols[i].reshape(
            gz.shape[:-1] + (c_in,))
    return gx


def conv_path(x: Any, stride: Sequence[int]) -> str:
    """"shifted" (``ops/conv_shifted.py``) for stride-1 convolutions of NumPy arrays with at
    least ``_SHIFTED_MIN_CHANNELS`` input channels and ``_SHIFTED_MIN_ROWS`` positions
    (m * prod(n)): one GEMM of K = C_prev per kernel offset runs near BLAS's peak there
    (measured on the residual benchmark: 1.4x faster training at batch 32, 1.35x inference
    at batch 256, but 10% slower at batch 1, where one larger GEMM wins); else "im2col" (one
    GEMM of K = prod(f) * C_prev)."""
    if (isinstance(x, np.ndarray) and all(s == 1 for s in stride)
            and x.shape[-1] >= _SHIFTED_MIN_CHANNELS
            and x.size // x.shape[-1] >= _SHIFTED_MIN_ROWS):
        return "shifted"
    return "im2col"


class ConvNd(Function):
    """Convolution over the d spatial axes of x (m, *n, C_prev) with W (*f, C_prev, C).

    dW = cols^T dZ (the forward's patches), db = sum dZ, and dA_prev, the notes'
    sum over positions of W * dZ: dA_pad[window(offset)] += dZ W[offset]^T for each kernel
    offset (``correlate_adjoint``: one batched GEMM, then one block add per offset; cheaper
    than a second im2col of dZ dilated by the stride and padded by f - 1). On the "shifted"
    path (``conv_path``) the same sums run on the input's row grid (``ShiftedGrid``).
    """

    def __init__(self, stride: tuple[int, ...], pads: tuple[tuple[int, int], ...],
                 out: tuple[int, ...]) -> None:
        self.stride, self.pads, self.out = stride, pads, out

    def forward(self, x, w, b=None):
        self.x_shape, self.w, self.has_bias = x.shape, w, b is not None
        self.path = conv_path(x, self.stride)
        if self.path == "shifted":
            self.grid = ShiftedGrid(x.shape, w.shape[:-2], self.pads)
            self.rows = self.grid.rows(x)
            y = self.grid.correlate(self.rows, w)
            return y + b if b is not None else np.ascontiguousarray(y)
        x_pad = pad_spatial(x, self.pads)
        self.padded_shape = x_pad.shape
        y, self.cols, self.few = correlate(x_pad, w, self.stride, self.out)
        if b is not None:
            add_bias(y, b)
        return y

    def _crop(self, g_pad: Any) -> Any:
        return g_pad[(slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n in
                                            zip(self.pads, self.x_shape[1:-1])) + (slice(None),)]

    def backward(self, gy):
        c_out = gy.shape[-1]
        g2 = gy.reshape(-1, c_out)
        gx = gw = gb = None
        if self.path == "shifted":
            gx, gw = self.grid.backward(self.rows, self.w, gy, self.needs_grad(0),
                                        self.needs_grad(1))
            gb = column_sums(g2) if self.has_bias and self.needs_grad(2) else None
            return gx, gw, gb
        if self.needs_grad(1):
            gw = (few_weight_grad(self.cols, g2) if self.few else self.cols.T @ g2).reshape(
                self.w.shape)
        if self.has_bias and self.needs_grad(2):
            gb = column_sums(g2)
        if self.needs_grad(0):
            gx = self._crop(correlate_adjoint(gy, self.w, self.stride, self.padded_shape))
        return gx, gw, gb


def _conv(d: int, name: str, x: Any, w: Any, b: Any, stride: Any, padding: Any) -> Tensor:
    x, w = as_tensor(x), as_tensor(w)
    spatial = "(m, n, C)" if d == 1 else "(m, n_H, n_W, C)" if d == 2 else \
        "(m, n_D, n_H, n_W, C)"
    if x.ndim != d + 2:
        hint = ""
        if d == 2 and x.ndim == 3:
            hint = "; a single image? add the batch axis: x[None]"
        raise ShapeError(f"{name}: expected input {spatial} (channels-last), got shape "
                         f"{x.shape}{hint}")
    if w.ndim != d + 2:
        raise ShapeError(f"{name}: expected W of shape ({'f, ' * d}C_prev, C), got {w.shape}")
    c_prev = w.shape[d]
    if x.shape[-1] != c_prev:
        hint = ""
        if x.shape[1] == c_prev:
            hint = "; channels-first input (m, C, ...)? dlkit is channels-last: move axis 1 last"
        raise ShapeError(f"{name}: input has {x.shape[-1]} channels (last axis of {x.shape}), "
                         f"W expects {c_prev} (W shape {w.shape}){hint}")
    kernel = tuple(w.shape[:d])
    stride = _tuple(stride, d, "stride", name)
    if any(s <= 0 for s in stride):
        raise ValueError(f"{name}: expected stride >= 1, got {stride}")
    pads = resolve_padding(padding, x.shape[1:-1], kernel, stride, name)
    out = output_sizes(x.shape[1:-1], kernel, stride, pads)
    if any(n <= 0 for n in out):
        raise ShapeError(f"{name}: input {x.shape} with padding {pads} is smaller than the "
                         f"kernel {kernel}")
    fn = ConvNd(stride, pads, out)
    if b is None:
        return fn(x, w)
    b = as_tensor(b)
    if b.shape != (w.shape[-1],):
        raise ShapeError(f"{name}: expected b of shape ({w.shape[-1]},), got {b.shape}")
    return fn(x, w, b)


def conv1d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """1-D convolution: x (m, n, C_prev), W (f, C_prev, C), b (C,) -> (m, n_out, C)."""
    return _conv(1, "conv1d", x, w, b, stride, padding)


def conv2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-D convolution: x (m, n_H, n_W, C_prev), W (f, f, C_prev, C), b (C,)
    -> (m, n_H_out, n_W_out, C); padding an int, a pair, "valid" or "same"."""
    return _conv(2, "conv2d", x, w, b, stride, padding)


def conv3d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """3-D convolution: x (m, n_D, n_H, n_W, C_prev), W (f, f, f, C_prev, C), b (C,)."""
    return _conv(3, "conv3d", x, w, b, stride, padding)


class DepthwiseConv2d(Function):
    """Each channel filtered by its own f x f kernel: Z[., h, w, c] = sum_{a, b}
    A_pad[., h*s + a, w*s + b, c] W[a, b, c] + b[c]  (the depthwise half of a
    depthwise-separable convolution; follow it with a 1x1 conv2d).
    dW[a, b, c] = sum A_pad-slice * dZ,  dA_pad-slice += dZ * W[a, b]."""

    def __init__(self, stride: tuple[int, int], pads: Any, out: tuple[int, int]) -> None:
        self.stride, self.pads, self.out = stride, pads, out

    def forward(self, x, w, b=None):
        xp = array_module(x)
        self.x_shape, self.has_bias = x.shape, b is not None
        self.x_pad = pad_spatial(x, self.pads)
        self.w = w
        self.offsets = list(itertools.product(range(w.shape[0]), range(w.shape[1])))
        y = xp.zeros((x.shape[0],) + self.out + (x.shape[-1],), dtype=x.dtype)
        for offset in self.offsets:
            y += self.x_pad[window_slices(offset, self.stride, self.out)] * w[offset]
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        xp = array_module(gy)
        gw = xp.empty_like(self.w) if self.needs_grad(1) else None
        g_pad = xp.zeros_like(self.x_pad) if self.needs_grad(0) else None
        for offset in self.offsets:
            slices = window_slices(offset, self.stride, self.out)
            if gw is not None:
                gw[offset] = (self.x_pad[slices] * gy).sum(axis=(0, 1, 2))
            if g_pad is not None:
                g_pad[slices] += gy * self.w[offset]
        gx = None
        if g_pad is not None:
            (top, _), (left, _) = self.pads
            gx = g_pad[:, top:top + self.x_shape[1], left:left + self.x_shape[2]]
        gb = gy.sum(axis=(0, 1, 2)) if self.has_bias and self.needs_grad(2) else None
        return gx, gw, gb


def depthwise_conv2d(x: Any, w: Any, b: Any = None, stride: Any = 1,
                     padding: Any = 0) -> Tensor:
    """Depthwise convolution: x (m, n_H, n_W, C), W (f, f, C), b (C,) -> (m, ., ., C)."""
    name = "depthwise_conv2d"
    x, w = as_tensor(x), as_tensor(w)
    if x.ndim != 4:
        raise ShapeError(f"{name}: expected input (m, n_H, n_W, C), got shape {x.shape}")
    if w.ndim != 3 or w.shape[-1] != x.shape[-1]:
        raise ShapeError(f"{name}: expected W of shape (f, f, {x.shape[-1]}) for input "
                         f"{x.shape}, got {w.shape}")
    stride = _tuple(stride, 2, "stride", name)
    pads = resolve_padding(padding, x.shape[1:3], w.shape[:2], stride, name)
    out = output_sizes(x.shape[1:3], w.shape[:2], stride, pads)
    if any(n <= 0 for n in out):
        raise ShapeError(f"{name}: input {x.shape} is smaller than the kernel {w.shape[:2]}")
    fn = DepthwiseConv2d(stride, pads, out)
    return fn(x, w) if b is None else fn(x, w, as_tensor(b))


def zero_pad(x: Any, pad: Any) -> Tensor:
    """The notes' zero_pad: pad the spatial axes of channels-last x with zeros (an int p, or a
    (before, after) pair per spatial axis); batch and channel axes untouched."""
    from dlkit.ops.shape import pad as pad_op

    x = as_tensor(x)
    d = x.ndim - 2
    if isinstance(pad, (int, np.integer)):
        widths = [(0, 0)] + [(int(pad), int(pad))] * d + [(0, 0)]
    else:
        widths = [(0, 0)] + [tuple(p) for p in pad] + [(0, 0)]
        if len(widths) != x.ndim:
            raise ValueError(f"zero_pad: expected {d} (before, after) pairs, got {pad!r}")
    return pad_op(x, widths, 0.0)
