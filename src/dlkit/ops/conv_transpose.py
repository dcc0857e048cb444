"""Transposed convolution (U-Net's up-sampling), channels-last.

x (m, n_H, n_W, n_C_prev), W (f, f, n_C, n_C_prev), b (n_C,) -> (m, n_H_out, n_W_out, n_C).

W has the layout of the conv2d W' = W (f, f, n_C, n_C_prev) that maps n_C channels to
n_C_prev (Keras' Conv2DTranspose kernel): conv_transpose2d(x, W) is the gradient of
conv2d(., W, stride, padding) with respect to its input. Each input pixel scatters
x[i, h, w] @ W[a, b]^T into output position (h*s + a - p, w*s + b - p):

    Y[i, h*s + a - p, w*s + b - p, c] += sum_k x[i, h, w, k] W[a, b, c, k] + b[c]

so n_out = (n - 1) s + f - 2p + output_padding (PyTorch's formula; "same" gives n s).

Forward: one GEMM X W^T -> columns (m*n_H*n_W, f*f*n_C), then one strided add per kernel
offset (col2im). Backward: the output gradient's patches (im2col, the same as conv2d's with
stride s) give dx = cols(dY) W (a strided convolution of dY with W) and dW = cols(dY)^T X.
"""

from __future__ import annotations

import itertools
from typing import Any

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.ops.conv import _tuple, im2col, window_slices
from dlkit.ops.reduction import column_sums
from dlkit.tensor import Function, Tensor, as_tensor


def transpose_padding(padding: Any, kernel: tuple[int, int], stride: tuple[int, int],
                      output_padding: tuple[int, int], op: str) -> tuple[tuple[int, int], ...]:
    """Rows cropped (before, after) from the full output (n - 1) s + f, per spatial axis:
    an int p (p on both sides, less output_padding after), "valid" (none), or "same"
    (output n s, as Keras: the odd row cropped after)."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, -op_) for op_ in output_padding)
        if padding == "same":
            out = []
            for f, s, op_ in zip(kernel, stride, output_padding):
                total = f - s
                out.append((max(total, 0) // 2, total - max(total, 0) // 2 - op_))
            return tuple(out)
        raise ValueError(f"{op}: expected padding an int, a pair, 'valid' or 'same', got "
                         f"{padding!r}")
    pads = _tuple(padding, 2, "padding", op)
    if any(p < 0 for p in pads):
        raise ValueError(f"{op}: expected padding >= 0, got {padding!r}")
    return tuple((p, p - op_) for p, op_ in zip(pads, output_padding))


class ConvTranspose2d(Function):
    """Y = col2im(X W^T) cropped by the padding, + b; see the module docstring."""

    def __init__(self, stride: tuple[int, int], crops: tuple[tuple[int, int], ...],
                 out: tuple[int, int]) -> None:
        self.stride, self.crops, self.out = stride, crops, out

    def _full_shape(self, m: int, n: tuple[int, ...], f: tuple[int, ...], c: int):
        full = tuple(max((k - 1) * s + ff, lo + o) for k, s, ff, (lo, _), o in
                     zip(n, self.stride, f, self.crops, self.out))
        return (m,) + full + (c,)

    def _crop(self):
        return (slice(None),) + tuple(slice(lo, lo + o) for (lo, _), o in
                                      zip(self.crops, self.out)) + (slice(None),)

    def forward(self, x, w, b=None):
        xp = array_module(x)
        m, n_h, n_w, c_in = x.shape
        f, c_out = w.shape[:2], w.shape[2]
        self.x, self.w, self.has_bias = x, w, b is not None
        cols = x.reshape(-1, c_in) @ w.reshape(-1, c_in).T  # (m*n_H*n_W, f*f*n_C)
        cols = cols.reshape(m, n_h, n_w, f[0], f[1], c_out)
        full = xp.zeros(self._full_shape(m, (n_h, n_w), f, c_out), dtype=x.dtype)
        for a, bb in itertools.product(range(f[0]), range(f[1])):
            full[window_slices((a, bb), self.stride, (n_h, n_w))] += cols[:, :, :, a, bb]
        y = xp.ascontiguousarray(full[self._crop()])
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        xp = array_module(gy)
        m, n_h, n_w, c_in = self.x.shape
        f, c_out = self.w.shape[:2], self.w.shape[2]
        g_full = xp.zeros(self._full_shape(m, (n_h, n_w), f, c_out), dtype=gy.dtype)
        g_full[self._crop()] = gy
        cols, few = im2col(g_full, f, self.stride, (n_h, n_w))  # patches of dY, as conv2d's
        w_mat = self.w.reshape(-1, c_in)  # (f*f*n_C, n_C_prev)
        x_mat = self.x.reshape(-1, c_in)
        gx = gw = gb = None
        if self.needs_grad(0):
            gx = (cols.T @ w_mat if few else cols @ w_mat).reshape(self.x.shape)
        if self.needs_grad(1):
            gw = (cols @ x_mat if few else cols.T @ x_mat).reshape(self.w.shape)
        if self.has_bias and self.needs_grad(2):
            gb = column_sums(gy.reshape(-1, c_out))
        return gx, gw, gb


def conv_transpose2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0) -> Tensor:
    """Transposed convolution: x (m, n_H, n_W, n_C_prev), W (f, f, n_C, n_C_prev), b (n_C,)
    -> (m, (n_H - 1) s + f - 2p + output_padding, ..., n_C). ``padding`` an int, a pair,
    "valid" or "same" (output n_H * s). PyTorch's weight (n_C_prev, n_C, f, f) is
    ``w.transpose(2, 3, 1, 0)`` here."""
    name = "conv_transpose2d"
    x, w = as_tensor(x), as_tensor(w)
    if x.ndim != 4:
        hint = "; a single image? add the batch axis: x[None]" if x.ndim == 3 else ""
        raise ShapeError(f"{name}: expected input (m, n_H, n_W, n_C_prev) (channels-last), got "
                         f"shape {x.shape}{hint}")
    if w.ndim != 4:
        raise ShapeError(f"{name}: expected W of shape (f, f, n_C, n_C_prev), got {w.shape}")
    if w.shape[3] != x.shape[3]:
        hint = ""
        if w.shape[2] == x.shape[3]:
            hint = ("; W in conv2d's layout (f, f, n_C_prev, n_C)? a transposed convolution "
                    "takes (f, f, n_C, n_C_prev): swap the last two axes")
        raise ShapeError(f"{name}: input has {x.shape[3]} channels (last axis of {x.shape}), W "
                         f"expects n_C_prev = {w.shape[3]} (last axis of W {w.shape}){hint}")
    stride = _tuple(stride, 2, "stride", name)
    if any(s <= 0 for s in stride):
        raise ValueError(f"{name}: expected stride >= 1, got {stride}")
    output_padding = _tuple(output_padding, 2, "output_padding", name)
    if any(not 0 <= o < s for o, s in zip(output_padding, stride)):
        raise ValueError(f"{name}: expected 0 <= output_padding < stride, got "
                         f"output_padding={output_padding}, stride={stride}")
    kernel = tuple(int(k) for k in w.shape[:2])
    crops = transpose_padding(padding, kernel, stride, output_padding, name)
    out = tuple((n - 1) * s + f - lo - hi for n, s, f, (lo, hi) in
                zip(x.shape[1:3], stride, kernel, crops))
    if any(o <= 0 for o in out):
        raise ShapeError(f"{name}: padding {padding!r} leaves no output for input {x.shape} "
                         f"and kernel {kernel}")
    fn = ConvTranspose2d(stride, crops, out)
    if b is None:
        return fn(x, w)
    b = as_tensor(b)
    if b.shape != (w.shape[2],):
        raise ShapeError(f"{name}: expected b of shape ({w.shape[2]},), got {b.shape}")
    return fn(x, w, b)


def output_size(n: int, f: int, stride: int = 1, padding: int = 0,
                output_padding: int = 0) -> int:
    """(n - 1) s + f - 2p + output_padding."""
    return (n - 1) * stride + f - 2 * padding + output_padding

