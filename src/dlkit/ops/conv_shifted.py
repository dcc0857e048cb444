"""The stride-1 convolution without a patch matrix: the "shifted" path of ``ops/conv.py``.

Cross-correlation, as the notes: Z[i, p, c] = sum_{o, k} A_pad[i, p + o, k] W[o, k, c] (p an
output position, o a kernel offset, both tuples over the spatial axes).

The input is laid out as rows of channels, (rows, C_prev), on a grid of
(n_1 + g_1) x ... x (n_d + g_d) positions per example, the example in the corner and zeros
in the gaps, g = max(pad before, pad after) per axis (more where the output is larger than
the input, so that every output position is on the grid). Because the grid is flattened row-major,
one gap serves as the padding after one line and before the next (and between examples), so
the grid is smaller than the padded input (33 x 33 instead of 34 x 34 for a 32 x 32 image
with padding 1). A kernel offset o is then a shift of the rows by s_o = sum_k o_k step_k, and

    Z_rows[r] = sum_o rows[r + s_o] @ W[o]          (one GEMM per offset, accumulated in place)

computed for every grid position r up to the last valid output and cropped; a read that falls
outside the example lands in a gap, where the input is zero. Backward is its adjoint on the
same grid: dW[o] = rows[s_o:]^T dZ_rows and d_rows[s_o:] += dZ_rows W[o]^T, with dZ zero
outside the valid outputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.ops.gemm import matmul_add


def fill_outside(a: Any, inside: Sequence[slice], value: float = 0.0) -> None:
    """Set every element of a (m, *n, C) outside the spatial box ``inside`` to ``value``."""
    for axis, box in enumerate(inside, start=1):
        before = (slice(None),) * axis
        a[before + (slice(None, box.start),)] = value
        a[before + (slice(box.stop, None),)] = value


def _corner(sizes: Sequence[int]) -> tuple[slice, ...]:
    return (slice(None),) + tuple(slice(0, n) for n in sizes)


class ShiftedGrid:
    """The geometry of one stride-1 convolution of x (m, *n, C_prev) with a kernel ``kernel``
    and padding ``pads`` ((before, after) per spatial axis) on the row grid."""

    def __init__(self, x_shape: Sequence[int], kernel: Sequence[int],
                 pads: Sequence[tuple[int, int]]) -> None:
        self.m, self.sizes = x_shape[0], tuple(x_shape[1:-1])
        self.out = tuple(n + lo + hi - f + 1 for n, f, (lo, hi) in zip(self.sizes, kernel, pads))
        # a gap as wide as the wider padding, and wide enough for every output position
        self.grid = tuple(n + max(lo, hi, o - n) for n, o, (lo, hi) in
                          zip(self.sizes, self.out, pads))
        steps = [int(np.prod(self.grid[k + 1:])) for k in range(len(self.grid))]
        self.per_example = int(np.prod(self.grid))
        self.prefix = sum(lo * step for (lo, _), step in zip(pads, steps))  # zeros before
        self.shifts = [sum(o * step for o, step in zip(offset, steps))
                       for offset in itertools.product(*(range(f) for f in kernel))]
        # rows of Z computed: up to the last valid output of the last example
        self.n = ((self.m - 1) * self.per_example
                  + sum((o - 1) * step for o, step in zip(self.out, steps)) + 1)
        self.total = max(self.prefix + self.m * self.per_example, self.n + self.shifts[-1])

    def _on_grid(self, rows: Any, start: int) -> Any:
        """The (m, *grid, C) view of ``rows`` from row ``start``."""
        return rows[start:start + self.m * self.per_example].reshape(
            (self.m,) + self.grid + (rows.shape[-1],))

    def rows(self, x: Any) -> Any:
        """x (m, *n, C) laid out on the grid: (total, C), zeros in the gaps."""
        rows = np.empty((self.total, x.shape[-1]), dtype=x.dtype)
        end = self.prefix + self.m * self.per_example
        rows[:self.prefix] = 0
        rows[end:] = 0
        on_grid = self._on_grid(rows, self.prefix)
        fill_outside(on_grid, _corner(self.sizes)[1:])
        on_grid[_corner(self.sizes)] = x
        return rows

    def correlate(self, rows: Any, w: Any) -> Any:
        """Z (m, *out, C) = sum over offsets of rows[shift:] @ W[offset] (a strided view)."""
        c_in, c_out, n = rows.shape[-1], w.shape[-1], self.n
        z = np.empty((self.m * self.per_example, c_out), dtype=rows.dtype)  # rows >= n unread
        for i, (shift, w_offset) in enumerate(zip(self.shifts, w.reshape(-1, c_in, c_out))):
            matmul_add(rows[shift:shift + n], w_offset, z[:n], accumulate=i > 0)
        return self._on_grid(z, 0)[_corner(self.out)]

    def backward(self, rows: Any, w: Any, gz: Any, need_x: bool,
                 need_w: bool) -> tuple[Any, Any]:
        """(dx (m, *n, C_prev) as a strided view, dW) from dZ (m, *out, C)."""
        c_in, c_out, n = rows.shape[-1], w.shape[-1], self.n
        g = np.empty((self.m * self.per_example, c_out), dtype=gz.dtype)
        g_grid = self._on_grid(g, 0)
        fill_outside(g_grid, _corner(self.out)[1:])
        g_grid[_corner(self.out)] = gz
        w_offsets = w.reshape(-1, c_in, c_out)
        gw = gx = None
        if need_w:
            gw = np.empty_like(w_offsets)
            for i, shift in enumerate(self.shifts):
                np.matmul(rows[shift:shift + n].T, g[:n], out=gw[i])
            gw = gw.reshape(w.shape)
        if need_x:  # the first offset (shift 0) writes rows [0, n); the rest is accumulated
            g_rows = np.empty_like(rows)
            g_rows[n:] = 0
            for i, shift in enumerate(self.shifts):
                matmul_add(g[:n], w_offsets[i].T, g_rows[shift:shift + n], accumulate=i > 0)
            gx = self._on_grid(g_rows, self.prefix)[_corner(self.sizes)]
        return gx, gw
