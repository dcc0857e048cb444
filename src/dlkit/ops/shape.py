"""Shape ops: reshape, transpose, squeeze, broadcast, concat, stack, pad, getitem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.tensor import Function, Tensor, as_tensor


class Reshape(Function):
    """y = x viewed with a new shape;  dx = dy viewed with x's shape."""

    def __init__(self, shape: tuple) -> None:
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot view a tensor of shape {x.shape} ({x.size} elements) "
                f"as {self.shape}"
            ) from None

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Transpose(Function):
    """y = x with axes permuted;  dx = dy with the inverse permutation."""

    def __init__(self, axes: tuple | None) -> None:
        self.axes = axes

    def forward(self, x):
        axes = self.axes if self.axes is not None else tuple(range(x.ndim))[::-1]
        if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ShapeError(
                f"transpose: expected a permutation of {x.ndim} axes, got {tuple(axes)}"
            )
        self.axes = tuple(a % x.ndim for a in axes)
        return x.transpose(self.axes)

    def backward(self, gy):
        return gy.transpose(tuple(int(a) for a in np.argsort(self.axes)))


class BroadcastTo(Function):
    """y = x broadcast to a shape;  dx = dy summed over the broadcast axes (by the tape)."""

    def __init__(self, shape: tuple) -> None:
        self.shape = shape

    def forward(self, x):
        return array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return gy


class Concat(Function):
    """y = [x1, x2, ...] joined along an axis;  dxi = the slice of dy that xi filled."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs):
        xp = array_module(xs[0])
        try:
            y = xp.concatenate(xs, axis=self.axis)
        except ValueError as e:
            raise ShapeError(
                f"concat: along axis {self.axis}, inputs must match on the other axes; "
                f"got shapes {[x.shape for x in xs]} ({e})"
            ) from None
        self.axis = self.axis % y.ndim
        self.splits = np.cumsum([x.shape[self.axis] for x in xs])[:-1].tolist()
        return y

    def backward(self, gy):
        return tuple(array_module(gy).split(gy, self.splits, axis=self.axis))


class Stack(Function):
    """y = [x1, x2, ...] stacked on a new axis;  dxi = dy taken at index i of that axis."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs):
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise ShapeError(f"stack: expected inputs of one shape, got {[x.shape for x in xs]}")
        y = array_module(xs[0]).stack(xs, axis=self.axis)
        self.axis = self.axis % y.ndim
        return y

    def backward(self, gy):
        return tuple(gy.take(i, axis=self.axis) for i in range(gy.shape[self.axis]))


class Pad(Function):
    """y = x padded with a constant;  dx = the centre of dy."""

    def __init__(self, pad_width: Any, value: float) -> None:
        self.pad_width, self.value = pad_width, value

    def forward(self, x):
        xp = array_module(x)
        widths = np.broadcast_to(np.asarray(self.pad_width, dtype=int), (x.ndim, 2))
        if (widths < 0).any():
            raise ValueError(f"pad: expected non-negative widths, got {self.pad_width}")
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return xp.pad(x, [tuple(w) for w in widths], constant_values=self.value)

    def backward(self, gy):
        return gy[self.slices]


def _is_basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items
    )


class GetItem(Function):
    """y = x[index];  dx = zeros with dy scattered back (summed where an index repeats)."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x):
        self.in_shape, self.in_dtype = x.shape, x.dtype
        xp = array_module(x)
        if xp is not np:  # host index arrays go to the device once, for forward and backward
            self.index = _index_on(xp, self.index)
        return x[self.index]

    def backward(self, gy):
        xp = array_module(gy)
        g = xp.zeros(self.in_shape, dtype=gy.dtype)
        if _is_basic_index(self.index):
            g[self.index] = gy
        elif xp is np and _is_row_gather(self.index):
            _scatter_add_rows(g, self.index, gy)
        else:
            xp.add.at(g, self.index, gy)  # (CuPy has add.at too)
        return g


def _index_on(xp: Any, index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_index_on(xp, i) for i in index)
    return xp.asarray(index) if isinstance(index, np.ndarray) else index


def _is_row_gather(index: Any) -> bool:
    """An integer array picking whole rows (axis 0): an embedding lookup."""
    return isinstance(index, np.ndarray) and index.dtype.kind in "iu"


def _scatter_add_rows(g: np.ndarray, index: np.ndarray, gy: np.ndarray) -> None:
    """g[index[k]] += gy[k] for every k, repeated rows summed: the rows of gy sorted by
    their index and summed per index with one ``add.reduceat`` (several times faster than
    ``np.add.at``, which works one element at a time)."""
    flat = index.reshape(-1)
    if flat.size == 0:
        return
    rows = gy.reshape(flat.size, -1)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    g.reshape(g.shape[0], -1)[ordered[starts]] += np.add.reduceat(rows[order], starts, axis=0)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    """x with a new ``shape`` (same number of entries, -1 inferred);
    dx = dy reshaped back."""
    return Reshape(tuple(shape))(as_tensor(x))


def flatten(x: Any, start_dim: int = 0) -> Tensor:
    """Merge the axes from ``start_dim`` on: ``flatten(x, 1)`` turns (m, ...) into (m, n)."""
    x = as_tensor(x)
    start = start_dim % max(x.ndim, 1)
    return Reshape(x.shape[:start] + (-1,))(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """x with its axes permuted (reversed when ``axes`` is None);
    dx = dy permuted back."""
    return Transpose(tuple(axes) if axes is not None else None)(as_tensor(x))


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    """x with axes ``a`` and ``b`` exchanged;  dx = dy with them exchanged back."""
    x = as_tensor(x)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose(tuple(axes))(x)


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Tensor:
    """x without its axes of length 1 (or only ``axis``);  dx = dy reshaped back."""
    x = as_tensor(x)
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if x.shape[a] != 1:
                raise ShapeError(f"squeeze: axis {a} has size {x.shape[a]}, expected 1")
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return Reshape(shape)(x)


def unsqueeze(x: Any, axis: int) -> Tensor:
    """x with a new axis of length 1 at ``axis``;  dx = dy with it removed."""
    x = as_tensor(x)
    axis = axis % (x.ndim + 1)
    return Reshape(x.shape[:axis] + (1,) + x.shape[axis:])(x)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """x repeated to ``shape`` by broadcasting (no copy);
    dx = dy summed over the broadcast axes."""
    return BroadcastTo(tuple(shape))(as_tensor(x))


def concat(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors joined along ``axis`` (equal shapes elsewhere);
    each dx is its slice of dy."""
    if len(xs) == 0:
        raise ValueError("concat: expected at least one tensor, got none")
    return Concat(axis)(*[as_tensor(x) for x in xs])


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors (equal shapes) stacked along a new ``axis``;
    each dx is its slice of dy."""
    if len(xs) == 0:
        raise ValueError("stack: expected at least one tensor, got none")
    return Stack(axis)(*[as_tensor(x) for x in xs])


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding, ``pad_width`` as ``numpy.pad``: an int, a pair, or a pair per axis."""
    return Pad(pad_width, value)(as_tensor(x))


def getitem(x: Any, index: Any) -> Tensor:
    """y = x[index] (basic slicing or integer / boolean arrays, NumPy's rules);
    dx = zeros of x's shape with dy scattered back, summed where an index repeats (an
    embedding lookup ``E[idx]`` is this op)."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return GetItem(index)(as_tensor(x))
