"""Matrix products: ``matmul`` and the dense layer's ``linear``."""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.errors import shape_error, transpose_hint
from dlkit.ops.reduction import column_sums
from dlkit.tensor import Function, Tensor, as_tensor


class MatMul(Function):
    """Y = A @ B (batched over leading axes);  dA = dY @ B^T,  dB = A^T @ dY.

    1-D operands follow NumPy: a vector is a row on the left and a column on the right.
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise shape_error("matmul", "operands with at least 1 dim", a.shape if a.ndim == 0
                              else b.shape, "use * for a scalar product")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise shape_error(
                "matmul", f"A's last dim to equal B's "
                f"{'second-to-last dim' if b.ndim > 1 else 'length'}, with B of shape {b.shape}",
                a.shape,
                "transpose one operand?" if a.shape[-1] == b.shape[-1] else "",
            )
        self.a, self.b = a, b
        return a @ b

    def backward(self, gy):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        xp = array_module(a)  # expand_dims, not gy[..., None]: gy may be 0-d (1-D @ 1-D)
        if a.ndim == 1:
            gy = xp.expand_dims(gy, -2 if b.ndim > 1 else -1)
        if b.ndim == 1:
            gy = xp.expand_dims(gy, -1)
        ga = gb = None
        if self.needs_grad(0):
            ga = gy @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(axis=0)
        if self.needs_grad(1):
            gb = a2.swapaxes(-1, -2) @ gy
            if b.ndim == 1:
                gb = gb.reshape(-1, b.shape[0]).sum(axis=0)
        return ga, gb


class Linear(Function):
    """The dense layer, batch-first: Z = X W^T + b with X (m, n_in), W (n_out, n_in), b (n_out,).

    The notes' column form Z = W X + b transposed.  Backward (the notes' dW = dZ A_prev^T,
    the 1/m coming from the mean loss):  dX = dZ W,  dW = dZ^T X,  db = sum_m dZ.
    Leading axes beyond the last are treated as batch axes.
    """

    def forward(self, x, w, b=None):
        if w.ndim != 2:
            raise shape_error("linear", "W of shape (n_out, n_in)", w.shape)
        n_out, n_in = w.shape
        if x.ndim == 0 or x.shape[-1] != n_in:
            raise shape_error(
                "linear", f"x of shape (m, {n_in}) to match W of shape {w.shape}", x.shape,
                transpose_hint(x.shape, n_in),
            )
        if b is not None and b.shape != (n_out,):
            raise shape_error("linear", f"b of shape ({n_out},)", b.shape,
                              "b of shape (n_out, 1) is the column layout: use b.reshape(-1)"
                              if b.shape == (n_out, 1) else "")
        self.x, self.w, self.has_bias = x, w, b is not None
        if x.ndim > 2 and x.flags.c_contiguous:  # (m, T, n_in): one GEMM, not one per example
            y = (x.reshape(-1, n_in) @ w.T).reshape(x.shape[:-1] + (n_out,))
        else:
            y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, w = self.x, self.w
        gx = gy @ w if self.needs_grad(0) else None
        gw = gb = None
        if self.needs_grad(1):
            gy2 = gy.reshape(-1, gy.shape[-1])
            gw = gy2.T @ x.reshape(-1, x.shape[-1])
        if self.has_bias and self.needs_grad(2):
            gb = column_sums(gy.reshape(-1, gy.shape[-1]))
        return gx, gw, gb


def matmul(a: Any, b: Any) -> Tensor:
    """y = a @ b (batched over leading axes, NumPy's matmul rules);
    da = dy b^T,  db = a^T dy."""
    return MatMul()(as_tensor(a), as_tensor(b))


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """Z = X W^T + b (batch-first form of the notes' Z = W X + b)."""
    if bias is None:
        return Linear()(as_tensor(x), as_tensor(weight))
    return Linear()(as_tensor(x), as_tensor(weight), as_tensor(bias))
